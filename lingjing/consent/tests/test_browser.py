"""The cookie banner in a real browser (Debian Chromium driven by Playwright): no optional cookie before a choice,
no Content-Security-Policy violation (the banner needs no inline script), DNT honoured."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("LINGJING_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) or shutil.which("chromium")), reason="chromium not installed"),
    pytest.mark.django_db(transaction=True),
]
NECESSARY = {"sessionid", "csrftoken", "messages", "lj_consent"}


@pytest.fixture
def purposes() -> None:
    """Live-server tests run on a flushed database (pytest-django runs transactional tests last, after other
    transactional tests emptied the tables): put back the purposes the data migration seeds."""
    import importlib

    from django.apps import apps

    importlib.import_module("lingjing.consent.migrations.0002_seed_purposes").seed(apps, None)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch, purposes: None) -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()
        # ORM reads made while the loop ran opened connections in that context: close them, or the test
        # database cannot be dropped at the end of the session (PostgreSQL).
        from django.db import connections

        connections.close_all()


def _names(context: Any) -> set[str]:
    return {c["name"] for c in context.cookies()}


def test_banner_blocks_optional_cookies_until_a_choice_in_chromium(browser: Any, live_server: Any) -> None:
    from lingjing.consent.models import AnalyticsEvent

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{live_server.url}/privacy/")
    assert page.locator("#cookie-banner").is_visible()
    page.goto(f"{live_server.url}/privacy/policy")
    assert _names(context) <= NECESSARY - {"lj_consent"}
    assert AnalyticsEvent.objects.count() == 0

    page.locator("#cookie-banner button[value=accept_all]").click()
    page.wait_for_load_state()
    assert "lj_consent" in _names(context)
    page.goto(f"{live_server.url}/privacy/")
    assert page.locator("#cookie-banner").count() == 0
    assert "lj_aid" in _names(context)
    assert AnalyticsEvent.objects.filter(kind="pageview").exists()
    assert violations == []
    context.close()


def test_dnt_browser_gets_no_analytics_cookie_even_after_accepting(browser: Any, live_server: Any) -> None:
    from lingjing.consent.models import AnalyticsEvent

    context = browser.new_context(extra_http_headers={"DNT": "1"})
    page = context.new_page()
    page.goto(f"{live_server.url}/privacy/cookies")
    page.locator("button[value=accept_all]").first.click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/privacy/")
    assert "lj_consent" in _names(context) and "lj_aid" not in _names(context)
    assert AnalyticsEvent.objects.count() == 0
    context.close()
