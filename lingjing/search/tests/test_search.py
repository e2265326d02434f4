"""Chinese search: tokens, recall on a generated corpus, ranking and highlighting, visibility, index in step."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from lingjing.community.tests.conftest import *  # noqa: F403
from lingjing.community.tests.conftest import api, client_for, publish
from lingjing.search import service
from lingjing.search.backends import get_backend
from lingjing.search.models import SearchDocument
from lingjing.search.text import (
    SEP,
    document_tokens,
    fts5_expression,
    highlight,
    needles,
    parse_query,
    segments,
    tsquery_literal,
)

pytestmark = pytest.mark.django_db


# --- tokens (no database) ---------------------------------------------------------------------------------


def test_units_are_characters_and_latin_words_and_breaks_split_segments() -> None:
    assert segments("ＡＩ少女 2049：夜雨·茶馆") == [["ai", "少", "女"], ["2049"], ["夜", "雨"], ["茶", "馆"]]


def test_trigram_phrases_never_run_across_segments() -> None:
    tokens = document_tokens("夜雨茶 馆里", "古风")
    assert tokens.trigrams.split() == ["夜雨茶"]  # "馆里" and "古风" have no trigram
    assert tokens.bigrams.split() == ["夜雨", "雨茶", "馆里", "古风"]
    assert SEP in document_tokens("夜雨茶馆", "雨茶馆的").trigrams


def test_query_expressions_by_length() -> None:
    assert fts5_expression(parse_query("猫")) == '{unigrams} : "猫"'
    assert fts5_expression(parse_query("少女")) == '{bigrams} : "少女"'
    assert fts5_expression(parse_query("夜雨茶馆")) == '{trigrams} : "夜雨茶 雨茶馆"'
    assert fts5_expression(parse_query("ai 少女")) == '{unigrams} : "ai" * AND {bigrams} : "少女"'
    assert tsquery_literal(parse_query("夜雨茶馆 猫")) == "('夜雨茶':A <-> '雨茶馆':A) & '猫':C"


def test_query_syntax_cannot_be_injected() -> None:
    query = parse_query('猫" OR "* NEAR(狗) {bigrams}:')
    assert fts5_expression(query) == '{unigrams} : "猫" AND {unigrams} : "or" * AND {unigrams} : "near" * AND ' \
                                     '{unigrams} : "狗" AND {unigrams} : "bigrams" *'


def test_highlight_escapes_first_then_marks() -> None:
    html = str(highlight("<script>夜雨</script>茶馆ＡＩ", needles(parse_query("茶馆 ai"))))
    assert html == "&lt;script&gt;夜雨&lt;/script&gt;<mark>茶馆ＡＩ</mark>"
    assert "<script>" not in str(highlight("<script>", ["script"]))


# --- ranking ----------------------------------------------------------------------------------------------


def test_freshness_and_whole_words_rank_first(alice: Any) -> None:
    old = publish(alice, "少女与猫")
    new = publish(alice, "少女与狗")
    from lingjing.works.models import Work

    Work.objects.filter(pk=old.pk).update(published_at=timezone.now() - dt.timedelta(days=90))
    SearchDocument.objects.filter(work=old).update(published_at=timezone.now() - dt.timedelta(days=90))
    part = publish(alice, "多少女孩")  # "少女" only across jieba's words 多少/女孩
    ids = [item["id"] for item in service.search("少女").items]
    assert set(ids) == {str(old.pk), str(new.pk), str(part.pk)}
    assert ids[0] == str(new.pk)  # new, and a whole word
    assert ids.index(str(part.pk)) > ids.index(str(new.pk))


def test_few_substring_hits_are_widened_by_jieba_words_in_any_order(alice: Any) -> None:
    exact = publish(alice, "夜雨茶馆")
    apart = publish(alice, "茶馆里的夜雨")
    items = service.search("夜雨茶馆").items
    assert [i["id"] for i in items] == [str(exact.pk), str(apart.pk)]
    assert set(service.match_work_ids("夜雨茶馆")) == {exact.pk}  # recall is substring only


# --- visibility and keeping the index in step --------------------------------------------------------------


def test_a_draft_is_invisible_to_search_until_published(alice: Any, bob: Any) -> None:
    from lingjing.works.actions import do_create_work
    from lingjing.works.publishing import do_publish_work

    draft = do_create_work(alice, title="秘密花园", acting_user=alice)
    assert service.match_work_ids("秘密") == []
    assert api(client_for(bob), "get", "/search?q=秘密").json()["items"] == []
    assert api(client_for(alice), "get", "/search?q=秘密").json()["items"] == []  # not even for its author
    do_publish_work(draft, acting_user=alice)
    items = api(client_for(bob), "get", "/search?q=秘密").json()["items"]
    assert [i["id"] for i in items] == [str(draft.pk)]
    assert items[0]["author"]["nickname"] == "alice" and items[0]["highlight"] == "<mark>秘密</mark>花园"


def test_unpublish_edit_delete_and_moderation_keep_the_index_in_step(alice: Any) -> None:
    from lingjing.works.actions import do_delete_work, do_update_work
    from lingjing.works.publishing import do_publish_work, do_unpublish_work, remove_work

    work = publish(alice, "星空列车", tags=["科幻"])
    assert service.match_work_ids("列车") == [work.pk]
    do_update_work(work, title="星空渡口", tags=["奇幻"], acting_user=alice)
    assert service.match_work_ids("列车") == [] and service.match_work_ids("渡口") == [work.pk]
    assert service.match_work_ids("奇幻") == [work.pk] and service.match_work_ids("科幻") == []
    do_unpublish_work(work, acting_user=alice)
    assert service.match_work_ids("渡口") == []
    do_publish_work(work, acting_user=alice)
    with transaction.atomic():
        remove_work(work, acting_user=None)
    assert service.match_work_ids("渡口") == []
    other = publish(alice, "渡口的灯塔")
    do_delete_work(other, acting_user=alice)
    assert service.match_work_ids("渡口") == [] and not SearchDocument.objects.exists()
    assert get_backend().problems() == []


def test_erasure_removes_the_author_from_the_index(alice: Any, bob: Any) -> None:
    from lingjing.privacy.engines.erasure import erase_person

    publish(alice, "孤独的剑客")
    kept = publish(bob, "剑客传")
    erase_person(alice.pk)
    assert service.match_work_ids("剑客") == [kept.pk]
    assert not SearchDocument.objects.filter(author=alice).exists()
    if connection.vendor == "sqlite":  # no token of the erased work is left in the FTS index either
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM search_fts WHERE search_fts MATCH %s", ['{bigrams} : "孤独"'])
            assert cursor.fetchone()[0] == 0


def test_remove_user_from_index_for_the_rights_engines(alice: Any, bob: Any) -> None:
    from lingjing.search.index import remove_user_from_index

    publish(alice, "长安的月亮")
    publish(bob, "长安的太阳")
    with transaction.atomic():
        assert remove_user_from_index(alice.pk) == 1
    assert [d.author_id for d in SearchDocument.objects.all()] == [bob.pk]


def test_rebuild_restores_a_lost_index(alice: Any) -> None:
    from django.core.management import call_command

    work = publish(alice, "海岛日记")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER search_doc_ai")
        assert get_backend().problems() == ["missing search_doc_ai"]
    call_command("search", "rebuild")
    assert get_backend().problems() == []
    assert service.match_work_ids("海岛") == [work.pk]


def test_bulk_indexing_stores_what_one_by_one_indexing_stores_in_a_few_statements(alice: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    from lingjing.search.index import index_works, reindex_work
    from lingjing.works.models import Work, WorkStatus

    now = timezone.now()
    works = [Work(author=alice, title=f"雨夜茶馆第{i}回", tags=["古风", f"卷{i}"], status=WorkStatus.PUBLISHED,
                  published_at=now, script=None) for i in range(60)]  # type: ignore[misc]

    def stored() -> dict[Any, Any]:
        fields = ["work_id", "words", "unigrams", "bigrams", "trigrams"]
        if connection.vendor != "postgresql":
            return {row[0]: row for row in SearchDocument.objects.values_list(*fields)}
        with connection.cursor() as cursor:  # the vector beside the row, as PostgreSQL keeps it
            cursor.execute(f"SELECT {', '.join(fields)}, tsv::text FROM search_searchdocument")  # noqa: S608
            return {row[0]: row for row in cursor.fetchall()}

    with transaction.atomic():
        Work.objects.bulk_create(works)
        with CaptureQueriesContext(connection) as queries:
            assert index_works(works) == 60
        bulk = stored()
        assert len(queries.captured_queries) <= 4  # not one statement per document
        for work in works:
            reindex_work(work)  # the one-by-one path of an action
        assert stored() == bulk and len(bulk) == 60
    assert set(service.match_work_ids("茶馆")) == {w.pk for w in works}
    assert get_backend().problems() == []
