"""Chinese text for the search index: normalisation, the token streams, queries and highlighting.

Why n-grams
-----------
Chinese has no spaces, and people search with one character (``猫``), two (``少女``) or a phrase (``夜雨茶馆``).
A word index alone (jieba) misses a query that cuts across its word boundaries, and FTS5's trigram tokenizer
cannot answer queries under three characters. So every document is indexed as n-grams of its *units* (a CJK
character is a unit; a run of Latin letters or digits is one unit), one column each:

* ``unigrams`` — a one-unit query is a lookup of that token: exact for "contains this character";
* ``bigrams`` — a two-unit query is a lookup of that pair;
* ``trigrams`` — a query of n ≥ 3 units is the *phrase* of its n-2 trigrams: it matches exactly when the units
  stand next to each other in the text, i.e. when the query is a substring of a segment (text split at spaces
  and punctuation). :data:`SEP` between segments keeps a phrase from running across two of them. Trigrams are
  rare enough that these phrases stay fast on a million documents, where bigram phrases were not.
* ``words`` — jieba's segmentation, at index and at query time. It ranks (a document holding the query's words
  as whole words scores higher than one where they are parts of longer words) and it widens a query that finds
  few works by substring: then works holding all of the query's words in any order are added after them.

The same :func:`normalise` runs at index and query time (NFKC, case folded), so full-width letters, case and
compatibility forms never cause a miss.
"""

from __future__ import annotations

import html
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.utils.safestring import SafeString, mark_safe

log = logging.getLogger("lingjing.search")

# A private-use character: normalisation drops every private-use character from text, so this token can never
# come from a document or a query. It keeps a bigram phrase from running across two segments.
SEP = "\ue000"
QUERY_MAX_CHARS = 100
QUERY_MAX_SEGMENTS = 8


@lru_cache(maxsize=1)
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def jieba_module() -> Any:
    """jieba, initialised once per process (the studio's importer uses its dictionary to recognise Chinese)."""
    return _jieba()


def normalise(text: str) -> str:
    """NFKC and case folding: ``ＡＩ少女`` and ``ai少女`` are the same text to the index."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def _kind(ch: str) -> str:
    """``c`` a character that is a unit by itself (CJK and other scripts without spaces), ``w`` part of a word
    (Latin, digits, marks), ``b`` a break (space, punctuation, symbols, private use)."""
    cat = unicodedata.category(ch)
    if cat == "Lo":
        return "c"
    if cat[0] in "LNM":
        return "w"
    return "b"


def segments(text: str) -> list[list[str]]:
    """The units of each segment of normalised ``text``: ``"AI 少女2049"`` → ``[["ai"], ["少", "女", "2049"]]``."""
    out: list[list[str]] = []
    units: list[str] = []
    word = ""
    for ch in normalise(text):
        kind = _kind(ch)
        if kind == "w":
            word += ch
            continue
        if word:
            units.append(word)
            word = ""
        if kind == "c":
            units.append(ch)
        elif units:
            out.append(units)
            units = []
    if word:
        units.append(word)
    if units:
        out.append(units)
    return out


def _bigrams(units: Sequence[str]) -> list[str]:
    return [units[i] + units[i + 1] for i in range(len(units) - 1)]


def jieba_words(segment: Sequence[str]) -> list[str]:
    """jieba's words of one segment (normalised, units joined back), without breaks."""
    jieba = _jieba()
    text = "".join(segment)
    return [w for w in (t.strip() for t in jieba.lcut(text)) if w and all(_kind(c) != "b" for c in w)]  # type: ignore[attr-defined]


def _trigrams(units: Sequence[str]) -> list[str]:
    return [units[i] + units[i + 1] + units[i + 2] for i in range(len(units) - 2)]


@dataclass(frozen=True)
class Tokens:
    """The token streams of one document, each a space-joined string (what the index stores)."""

    words: str
    unigrams: str
    bigrams: str
    trigrams: str


def document_tokens(*texts: str) -> Tokens:
    """Tokens of a document made of several texts (title, tags): each text starts a new segment."""
    words: list[str] = []
    unigrams: list[str] = []
    bigrams: list[str] = []
    trigrams: list[str] = []
    for text in texts:
        for seg in segments(text):
            words += jieba_words(seg)
            unigrams += seg
            bigrams += _bigrams(seg)
            triples = _trigrams(seg)
            if triples:
                if trigrams:
                    trigrams.append(SEP)
                trigrams += triples
    return Tokens(" ".join(words), " ".join(unigrams), " ".join(bigrams), " ".join(trigrams))


# --- queries ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One segment of a query: its units, bigrams and jieba words. Every clause must match."""

    units: tuple[str, ...]
    words: tuple[str, ...]

    @property
    def trigrams(self) -> tuple[str, ...]:
        return tuple(_trigrams(self.units))

    @property
    def text(self) -> str:
        return "".join(self.units)

    @property
    def prefix(self) -> bool:
        """A lone Latin/digit word also matches longer words it begins (``ai`` → ``aigc``)."""
        return len(self.units) == 1 and _kind(self.units[0][0]) == "w"


@dataclass(frozen=True)
class Query:
    raw: str
    clauses: tuple[Clause, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.clauses)

    @property
    def length(self) -> int:
        return sum(len(c.text) for c in self.clauses)


def parse_query(raw: str) -> Query:
    """Split a query into clauses (segments); jieba cuts each segment into words, as at index time."""
    text = (raw or "").strip()[:QUERY_MAX_CHARS]
    clauses = []
    for seg in segments(text)[:QUERY_MAX_SEGMENTS]:
        words = tuple(jieba_words(seg)) if len(seg) > 1 else tuple(seg)
        clauses.append(Clause(tuple(seg), words))
    return Query(text, tuple(dict.fromkeys(clauses)))


def _q(token: str) -> str:
    # Tokens hold letters, digits and marks only (breaks were dropped), so a double-quoted FTS5 string cannot be
    # broken out of; the replace is belt and braces.
    return '"' + token.replace('"', '""') + '"'


def fts5_expression(query: Query) -> str:
    """The FTS5 MATCH expression of a query's substring semantics (empty when the query has no units)."""
    parts = []
    for clause in query.clauses:
        units = clause.units
        if len(units) == 1:
            parts.append(f"{{unigrams}} : {_q(units[0])}{' *' if clause.prefix else ''}")
        elif len(units) == 2:
            parts.append(f"{{bigrams}} : {_q(units[0] + units[1])}")
        else:
            parts.append(f"{{trigrams}} : {_q(' '.join(clause.trigrams))}")
    return " AND ".join(parts)


def fts5_words_expression(query: Query) -> str:
    """The widening query: every jieba word of every clause, in any order (empty when it would add nothing)."""
    if all(len(c.words) < 2 for c in query.clauses):
        return ""
    return "{words} : (" + " AND ".join(_q(w) for c in query.clauses for w in c.words) + ")"


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


# PostgreSQL weights of the streams: trigrams A, bigrams B, unigrams C, words D.
WEIGHT = {"trigrams": "A", "bigrams": "B", "unigrams": "C", "words": "D"}


def tsquery_literal(query: Query) -> str:
    """The PostgreSQL ``tsquery`` of a query, over the weighted vector of :func:`tsvector_literal`."""
    parts = []
    for clause in query.clauses:
        units = clause.units
        if len(units) == 1:
            parts.append(f"{_lexeme(units[0])}:{'*' if clause.prefix else ''}C")
        elif len(units) == 2:
            parts.append(f"{_lexeme(units[0] + units[1])}:B")
        else:
            parts.append("(" + " <-> ".join(f"{_lexeme(t)}:A" for t in clause.trigrams) + ")")
    return " & ".join(parts)


def tsquery_words_literal(query: Query) -> str:
    if all(len(c.words) < 2 for c in query.clauses):
        return ""
    return " & ".join(f"{_lexeme(w)}:D" for c in query.clauses for w in c.words)


def tsvector_literal(tokens: Tokens) -> str:
    """A ``tsvector`` with explicit positions and weights (:data:`WEIGHT`), stream after stream.

    Positions are written by us rather than PostgreSQL's parser, so CJK text needs no parser support and the
    trigram phrase positions are exactly ours (the separator keeps its position, as a gap).
    """
    positions: dict[str, list[str]] = {}
    pos = 0
    for name in ("trigrams", "bigrams", "unigrams", "words"):
        weight = WEIGHT[name]
        for token in getattr(tokens, name).split():
            pos += 1
            if pos > 16383:  # PostgreSQL's largest position
                break
            if token == SEP:
                continue
            positions.setdefault(token, []).append(f"{pos}{weight}")
        pos += 1  # a gap between streams: no phrase runs from one into the next
    return " ".join(f"{_lexeme(t)}:{','.join(p[:256])}" for t, p in positions.items())


def query_words(query: Query) -> list[str]:
    """The query's jieba words (ranking: how many are whole words of a document), without repeats."""
    return list(dict.fromkeys(w for c in query.clauses for w in c.words))


# --- highlighting -----------------------------------------------------------------------------------------


def _normalised_with_origin(text: str) -> tuple[str, list[int]]:
    """The normalised text (breaks removed) and, for each of its characters, the index it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for n in normalise(ch):
            if _kind(n) != "b":
                chars.append(n)
                origin.append(i)
    return "".join(chars), origin


def highlight(text: str, needles: Iterable[str]) -> SafeString:
    """``text`` HTML-escaped, with every occurrence of a needle wrapped in ``<mark>`` (escape first, then mark)."""
    norm, origin = _normalised_with_origin(text)
    marked = [False] * len(text)
    for needle in {n for n in needles if n}:
        start = norm.find(needle)
        while start != -1:
            for k in range(start, start + len(needle)):
                marked[origin[k]] = True
            start = norm.find(needle, start + 1)
    out: list[str] = []
    inside = False
    for i, ch in enumerate(text):
        if marked[i] and not inside:
            out.append("<mark>")
            inside = True
        elif not marked[i] and inside:
            out.append("</mark>")
            inside = False
        out.append(html.escape(ch))
    if inside:
        out.append("</mark>")
    return mark_safe("".join(out))  # noqa: S308 - every character was escaped above


def needles(query: Query) -> list[str]:
    """What to mark for a query: each clause's text, and its jieba words (they may match apart)."""
    out: list[str] = []
    for clause in query.clauses:
        out.append(clause.text)
        out += [w for w in clause.words if len(w) > 1]
    return out


def _has_run(units: Sequence[str], run: Sequence[str], prefix: bool) -> bool:
    n = len(run)
    for i in range(len(units) - n + 1):
        if list(units[i:i + n]) == list(run) or (prefix and units[i].startswith(run[0])):
            return True
    return False


def contains(text: str | list[list[str]], query: Query) -> bool:
    """What the index must find for a query (the reference of the recall tests and the bench): every clause's
    units stand together in one segment of the text (``text``, or its :func:`segments`). For Chinese this is
    plain substring search; a Latin word or number is a unit, found whole (or, alone in its clause, by its
    beginning)."""
    segs = segments(text) if isinstance(text, str) else text
    return all(any(_has_run(s, c.units, c.prefix) for s in segs) for c in query.clauses)
