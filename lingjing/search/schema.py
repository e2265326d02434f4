"""The full-text index objects beside ``search_searchdocument``, per database (used by the migration and by
``backends``). SQLite: an external-content FTS5 table and three triggers. PostgreSQL: a ``tsvector`` column and
its GIN index. Other databases: none (a ``LINGJING_SEARCH_BACKEND`` outside the database keeps its own)."""

from __future__ import annotations

from typing import Any

TABLE = "search_searchdocument"
FTS = "search_fts"
TRIGGERS = ("search_doc_ai", "search_doc_ad", "search_doc_au")
GIN_INDEX = "search_doc_tsv_gin"

# Literal SQL (the names above, spelled out): no statement here is built from values.
SQLITE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        words, unigrams, bigrams, trigrams, content='search_searchdocument', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER IF NOT EXISTS search_doc_ai AFTER INSERT ON search_searchdocument BEGIN
        INSERT INTO search_fts(rowid, words, unigrams, bigrams, trigrams)
            VALUES (new.id, new.words, new.unigrams, new.bigrams, new.trigrams);
    END""",
    """CREATE TRIGGER IF NOT EXISTS search_doc_ad AFTER DELETE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, words, unigrams, bigrams, trigrams)
            VALUES ('delete', old.id, old.words, old.unigrams, old.bigrams, old.trigrams);
    END""",
    """CREATE TRIGGER IF NOT EXISTS search_doc_au AFTER UPDATE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, words, unigrams, bigrams, trigrams)
            VALUES ('delete', old.id, old.words, old.unigrams, old.bigrams, old.trigrams);
        INSERT INTO search_fts(rowid, words, unigrams, bigrams, trigrams)
            VALUES (new.id, new.words, new.unigrams, new.bigrams, new.trigrams);
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_doc_ai",
    "DROP TRIGGER IF EXISTS search_doc_ad",
    "DROP TRIGGER IF EXISTS search_doc_au",
    "DROP TABLE IF EXISTS search_fts",
]

POSTGRESQL = [
    "ALTER TABLE search_searchdocument ADD COLUMN IF NOT EXISTS tsv tsvector NOT NULL DEFAULT ''::tsvector",
    "CREATE INDEX IF NOT EXISTS search_doc_tsv_gin ON search_searchdocument USING gin (tsv)",
]
POSTGRESQL_DROP = [
    "DROP INDEX IF EXISTS search_doc_tsv_gin",
    "ALTER TABLE search_searchdocument DROP COLUMN IF EXISTS tsv",
]


def statements(vendor: str, *, drop: bool = False) -> list[str]:
    if vendor == "sqlite":
        return SQLITE_DROP if drop else SQLITE
    if vendor == "postgresql":
        return POSTGRESQL_DROP if drop else POSTGRESQL
    return []


def install(apps: Any, schema_editor: Any) -> None:
    """Migration step: create the index objects (idempotent)."""
    for sql in statements(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def uninstall(apps: Any, schema_editor: Any) -> None:
    for sql in statements(schema_editor.connection.vendor, drop=True):
        schema_editor.execute(sql)
