"""Search logs under consent (policy 一(二)3, L9): with consent the history is kept, shown, used for suggestions and
deletable; without it search works and only a pseudonymous count without the query text is logged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from lingjing.community.tests.conftest import *  # noqa: F403
from lingjing.community.tests.conftest import api, client_for, grant, publish
from lingjing.search.models import SearchHistory, SearchLogWindow
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db


def _everything_stored() -> str:
    """Every row of the search log and the audit log, as text (to prove a query is not in them)."""
    rows = list(SearchLogWindow.objects.values()) + list(AuditEntry.objects.values())
    return json.dumps(rows, default=str, ensure_ascii=False)


def test_without_consent_search_works_and_nothing_identifying_is_kept(alice: Any, bob: Any) -> None:
    work = publish(alice, "樱花与少年")
    for client in (client_for(bob), Client()):
        items = api(client, "get", "/search?q=少年樱花").json()["items"]  # widened by jieba words
        assert [i["id"] for i in items] == [str(work.pk)]
        assert client.get("/search?q=樱花").status_code == 200
    assert not SearchHistory.objects.exists()
    stored = _everything_stored()
    assert "樱花" not in stored and "少年" not in stored
    logs = list(SearchLogWindow.objects.all())
    assert sum(w.searches for w in logs) == 4
    assert {w.channel for w in logs} == {"api", "web"}
    signed_in = [w for w in logs if w.actor_key]
    assert signed_in and all(str(bob.pk) not in w.actor_key and len(w.actor_key) == 32 for w in signed_in)
    assert all(w.net_key and "127.0.0" not in w.net_key for w in logs)
    assert api(client_for(bob), "get", "/search/history").json() == {"items": [], "kept": False}


def test_with_consent_the_history_is_kept_sealed_shown_suggested_and_deletable(alice: Any, bob: Any) -> None:
    publish(alice, "樱花与少年")
    grant(bob, "search_history")
    client = client_for(bob)
    for q in ("樱花", "樱花", "少年"):  # the same query twice in a row is one entry
        api(client, "get", f"/search?q={q}")
    history = api(client, "get", "/search/history").json()
    assert history["kept"] is True
    assert [e["query"] for e in history["items"]] == ["少年", "樱花"]
    assert history["items"][1]["results"] == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM search_searchhistory")
        assert all(raw.startswith("ljx1$") for (raw,) in cursor.fetchall())  # sealed under bob's key
    suggestions = api(client, "get", "/search/suggest?q=樱").json()["items"]
    assert {"text": "樱花", "kind": "history"} in suggestions and {"text": "樱花与少年", "kind": "work"} in suggestions
    assert all(s["kind"] == "work" for s in api(Client(), "get", "/search/suggest?q=樱").json()["items"])
    page = client.get("/search/history").content.decode()
    assert "樱花" in page and "少年" in page
    entry = SearchHistory.objects.filter(user=bob).order_by("created_at").first()
    assert entry is not None
    assert api(client, "delete", f"/search/history/{entry.pk}").status_code == 204
    assert [e["query"] for e in api(client, "get", "/search/history").json()["items"]] == ["少年"]
    client.post("/search/history/delete")
    assert not SearchHistory.objects.filter(user=bob).exists()
    assert AuditEntry.objects.filter(event="search.history_deleted", subject=f"u:{bob.pk}").count() == 2


def test_withdrawing_consent_stops_recording_and_deletes_the_history(
    alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    publish(alice, "樱花与少年")
    grant(bob, "search_history")
    client = client_for(bob)
    api(client, "get", "/search?q=樱花")
    assert SearchHistory.objects.filter(user=bob).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = api(client, "put", "/privacy/consents/search_history", {"granted": False})
    assert response.status_code == 200
    assert not SearchHistory.objects.filter(user=bob).exists()
    api(client, "get", "/search?q=少年")
    assert not SearchHistory.objects.filter(user=bob).exists()
    assert [i["title"] for i in api(client, "get", "/search?q=少年").json()["items"]] == ["樱花与少年"]


def test_the_search_page_renders_results_and_escapes_the_query(alice: Any) -> None:
    publish(alice, "<b>粗体</b>标题")
    html = Client().get("/search?q=<script>粗体").content.decode()
    assert "<script>粗体" not in html and "&lt;script&gt;粗体" in html
    html = Client().get("/search?q=粗体").content.decode()
    assert "&lt;b&gt;<mark>粗体</mark>&lt;/b&gt;标题" in html
    assert "不保存您的搜索词" in html
