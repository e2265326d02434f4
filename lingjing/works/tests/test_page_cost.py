"""A work's page shows its author from the card's row: no query loads the author's account (nor any sealed field
of it) for a visitor; the author's own draft, which has no card, still names them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from lingjing.community.tests.conftest import *  # noqa: F403
from lingjing.community.tests.conftest import client_for, publish

pytestmark = pytest.mark.django_db


def test_a_visitor_sees_the_author_without_a_query_for_their_account(alice: Any) -> None:
    work = publish(alice, "星河列车")
    client = Client()
    client.get(f"/works/{work.pk}")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/works/{work.pk}")
    assert response.status_code == 200 and alice.nickname in response.content.decode()
    assert not [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "accounts_user"')]


def test_the_author_sees_their_draft_with_their_name(alice: Any) -> None:
    from lingjing.works.actions import do_create_work

    draft = do_create_work(alice, title="草稿", acting_user=alice)
    page = client_for(alice).get(f"/works/{draft.pk}").content.decode()
    assert "草稿" in page and alice.nickname in page
