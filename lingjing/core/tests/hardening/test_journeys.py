"""Browser journeys: Chromium (Playwright) against a real ``lingjing serve`` with its task worker.

Every page a journey opens must load without a JavaScript error, without a console error (the CSP reports its
violations there) and with a main document answered below 400 (``browser.Tab``). A failing journey leaves a
screenshot in its tmp dir and prints the path. Without Chromium the journeys skip, unless
``LINGJING_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lingjing.core.tests.hardening.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Site,
    Tab,
    journey,
    redis_server_url,
    skip_or_fail_without_browser,
    start_site,
)

# django_db: pytest-django builds the test database only for sessions whose tests ask for it; the journeys'
# server starts from it (their own rows live in the server's database, not in this test's transaction).
pytestmark = [pytest.mark.process, pytest.mark.django_db]

NECESSARY = {"sessionid", "csrftoken", "messages", "lj_consent"}
RENDER = os.environ.get("LINGJING_JOURNEYS_RENDER") == "1"  # long mode: the creator also renders the video
STORY = (
    "第一章 山雨\n\n阿青推开竹门，山雨刚停。\n\n阿青：师父，我回来了。\n\n"
    "师父放下茶杯，望向远处的云海。\n\n师父：去把剑拿来。\n"
)


@pytest.fixture(scope="module")
def test_connections() -> list[Any]:
    """The database connection each journey's test transaction ran on (see ``_keep_test_connection``)."""
    return []


@pytest.fixture(autouse=True)
def _keep_test_connection(test_connections: list[Any]) -> None:
    """While Playwright's event loop is open, Django keeps connections per context rather than per thread, so
    each test's transaction gets a connection of its own that nothing closes: the module closes them at its
    end (else PostgreSQL refuses to drop the test database, "being accessed by other users")."""
    from django.db import connections

    test_connections.append(connections["default"])


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, django_db_setup: Any, django_db_blocker: Any, test_connections: list[Any]
) -> Iterator[Site]:
    """The journey server, on a copy of the migrated test database (SQLite) or on the test database itself
    (PostgreSQL: flushed when the module ends, as a transactional test would be)."""
    skip_or_fail_without_browser()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from lingjing.core.tests.test_serve import copy_test_database

    data_dir = tmp_path_factory.mktemp("journeys")
    extra: dict[str, str] = {}
    with django_db_blocker.unblock():
        connection.ensure_connection()
        postgres = migrated = connection.vendor == "postgresql"
        if postgres:
            db = connection.settings_dict
            extra["DATABASE_URL"] = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(
                **{key: db.get(key) or "" for key in ("USER", "PASSWORD", "HOST", "PORT", "NAME")}
            ).replace(":@", "@")
        else:
            migrated = copy_test_database(data_dir / "lingjing.sqlite3")  # else serve migrates an empty file
    redis = redis_server_url(data_dir) if settings.REDIS_URL else None
    if redis is not None:
        extra["REDIS_URL"] = redis[0]
    try:
        running = start_site(data_dir, migrated=migrated, **extra)
        try:
            print(f"\njourney server ready: {running.timings}")  # noqa: T201
            yield running
        finally:
            running.stop()
    finally:
        if redis is not None:
            redis[1].terminate()
            redis[1].wait(timeout=10)
        with django_db_blocker.unblock():
            for wrapper in test_connections:
                wrapper.close()
            if postgres:
                call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    """One Chromium for the module (after ``site``, so it closes before the database is flushed).

    Playwright's synchronous API keeps an event loop on this thread, which makes Django refuse database work
    (pytest-django's per-test transaction) as if it ran in async code; the journeys never touch the database
    from here, so Django is told that this is safe while the browser is open."""
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_context(browser: Any, **kwargs: Any) -> Any:
    return browser.new_context(locale="zh-CN", **kwargs)


def sign_in(tab: Tab, phone: str, password: str) -> None:
    tab.goto("/accounts/login/")
    tab.fill({"#id_phone": phone, "#id_password": password})
    tab.submit("main form button[type=submit]", has_text="登录")


def test_without_chromium_the_journeys_skip_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from lingjing.core.tests.hardening import browser as browser_module

    monkeypatch.setattr(browser_module, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv(browser_module.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed at /nonexistent/chromium"):
        skip_or_fail_without_browser()
    monkeypatch.setenv(browser_module.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="LINGJING_REQUIRE_BROWSER=1"):
        skip_or_fail_without_browser()


# --- the visitor ------------------------------------------------------------------------------------------


def test_visitor_browses_searches_and_answers_the_cookie_banner(site: Site, browser: Any, tmp_path: Path) -> None:
    title = site.world["published"]["title"]
    context = new_context(browser)
    with journey(context, site, tmp_path, "visitor") as tab:
        tab.goto("/")
        page = tab.page
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        banner = page.locator("#cookie-banner")
        assert banner.is_visible() and "我们使用 Cookie" in banner.inner_text()
        assert set(tab.cookies()) <= NECESSARY, tab.cookies()  # nothing optional before a choice

        tab.goto("/works/")
        tab.submit("a", has_text=title)
        assert page.locator("h1").inner_text() == title
        assert "登录后发表评论" in tab.text()

        for path in ("/privacy/", "/help/", "/works/?feed=popular", "/privacy/requests/metrics"):
            tab.goto(path)
        tab.goto("/search")
        page.fill("#q", "月光")
        tab.submit(".search-box button[type=submit]")
        assert "找到 1 部作品" in tab.text() and title in tab.text()
        tab.goto("/search?q=" + "桥")  # one character is enough
        assert title in tab.text()
        tab.goto("/search?q=不存在的作品名")
        assert "没有找到" in tab.text()

        # Only the necessary cookies: the banner goes and stays gone, and nothing optional is set.
        tab.submit("#cookie-banner button", has_text="仅必要 Cookie")
        assert page.locator("#cookie-banner").count() == 0
        tab.goto("/privacy/policy")
        assert page.locator("#cookie-banner").count() == 0
        assert "lj_consent" in tab.cookies() and set(tab.cookies()) <= NECESSARY

        # Changed on the cookie page: analytics allowed, its cookie appears with the next page.
        tab.goto("/privacy/cookies")
        assert page.locator("#cookie-table").is_visible()
        tab.submit("main button", has_text="全部接受")
        tab.goto("/")
        assert "lj_aid" in tab.cookies()
    context.close()


def test_do_not_track_turns_analytics_off_and_the_banner_says_so(site: Site, browser: Any, tmp_path: Path) -> None:
    context = new_context(browser, extra_http_headers={"DNT": "1"})
    with journey(context, site, tmp_path, "dnt") as tab:
        tab.goto("/")
        banner = tab.page.locator("#cookie-banner")
        assert "请勿追踪" in banner.inner_text()
        tab.submit("#cookie-banner button", has_text="全部接受")
        assert tab.page.locator("#cookie-banner").count() == 0  # the choice is kept ...
        tab.goto("/works/")
        assert tab.page.locator("#cookie-banner").count() == 0 and "lj_consent" in tab.cookies()
        assert "lj_aid" not in tab.cookies()  # ... but analytics stays off under DNT
        tab.goto("/privacy/cookies")
        assert "统计分析始终关闭" in tab.text()
    context.close()


# --- the creator, and another member who comments ---------------------------------------------------------


def test_member_signs_up_creates_a_work_publishes_it_and_gets_a_comment(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    phone = "+8613900000010"
    title = "山雨归来"
    context = new_context(browser)
    with journey(context, site, tmp_path, "creator") as tab:
        page = tab.page
        tab.goto("/accounts/register/")
        tab.fill({"#id_phone": "139 0000 0010"})
        tab.submit("main form button[type=submit]")
        assert "验证码已发送" in tab.text("body")
        tab.fill({"#id_code": site.code_for(phone), "#id_nickname": "山雨阿青", "#id_birth_date": "1998-03-02",
                  "#id_password": "a-long-pass-phrase-2026"})
        page.check("#id_accept_policy")
        tab.submit("main form button[type=submit]", has_text="同意并注册")
        assert "注册成功" in tab.text("body") and "山雨阿青" in tab.text(".site-header")

        tab.goto("/studio/")
        tab.fill({"#id_title": title, "#id_text": STORY})
        tab.submit("main form button[type=submit]", has_text="创建并生成分镜")
        assert page.locator("h1").inner_text() == title
        work_id = re.search(r"/studio/([0-9a-f-]{36})/", page.url).group(1)  # type: ignore[union-attr]
        tab.submit("a[href*='/jobs/']")
        # The job page polls its progress (htmx, every second) until the worker is done.
        page.locator("#job-progress .job-succeeded").wait_for(timeout=60_000)
        assert "100%" in tab.text("#job-progress")
        tab.check()
        tab.goto(f"/studio/{work_id}/storyboard/")
        assert re.search(r"\d 个镜头", tab.text())
        lines = [area.input_value() for area in page.locator("textarea[name$='lines']").all()]
        assert any("师父：去把剑拿来。" in text for text in lines), lines

        if RENDER:  # the whole offline pipeline: pictures, comic pages, speech, subtitles, video
            tab.goto(f"/studio/{work_id}/")
            tab.submit("main form button[type=submit]", has_text="生成")
            page.locator("#job-progress .job-succeeded").wait_for(timeout=300_000)
            tab.submit("#job-progress a", has_text="查看成品")
            video = page.locator("video.studio-video")
            video.wait_for()
            page.wait_for_function("(v) => v.readyState >= 1 && v.duration > 0", arg=video.element_handle())
            assert page.locator("img.page-thumb").count() >= 1
            tab.check()

        tab.goto(f"/works/{work_id}")
        tab.submit("main form button[type=submit]", has_text="发布")
        assert "作品已发布" in tab.text("body")
        tab.goto("/search?q=" + "山雨")
        assert title in tab.text()

    comment = "画面很美，期待下一集！"
    other = new_context(browser)
    with journey(other, site, tmp_path, "commenter") as tab:
        sign_in(tab, site.world["viewer"]["phone"], site.world["password"])
        tab.goto(f"/works/{work_id}")
        tab.fill({"#comment-body": comment})
        tab.submit(".comment-form button[type=submit]")
        assert comment in tab.text("#comments")
    other.close()

    with journey(context, site, tmp_path, "creator-reads") as tab:
        tab.goto(f"/works/{work_id}")
        assert comment in tab.text("#comments") and site.world["viewer"]["nickname"] in tab.text("#comments")
        for path in ("/inbox/", "/accounts/security/", f"/studio/{work_id}/characters/", f"/studio/{work_id}/results/",
                     "/support/new", "/privacy/consents", "/search/history", "/accounts/profile/"):
            tab.goto(path)
    context.close()


# --- the person's rights ----------------------------------------------------------------------------------


FETCH_UNTIL = """(text) => {
  if (window.ljPoll === undefined) {
    window.ljPoll = "pending";
    fetch(location.href).then((r) => r.text())
      .then((body) => { window.ljPoll = body.includes(text) ? "found" : undefined; })
      .catch(() => { window.ljPoll = undefined; });
  }
  return window.ljPoll === "found";
}"""


def wait_for_link(tab: Tab, text: str, timeout_ms: int = 60_000) -> Any:
    """Wait until a page the worker is still preparing (it has no live updates) shows the link, then reload it:
    the browser fetches the page again every half second (one fetch at a time) until the text is there."""
    tab.page.wait_for_function(FETCH_UNTIL, arg=text, polling=500, timeout=timeout_ms)
    tab.page.reload(wait_until="load")
    tab.check()
    return tab.page.locator("a", has_text=text).first


def test_member_downloads_a_copy_withdraws_consent_and_cancels_the_account(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    phone = site.world["rights"]["phone"]
    context = new_context(browser, accept_downloads=True)
    with journey(context, site, tmp_path, "rights") as tab:
        page = tab.page
        sign_in(tab, phone, site.world["password"])
        tab.goto("/privacy/my-data")
        assert "我的数据" in tab.text("h1") and "行权用户" in tab.text()

        # A copy of everything: fresh verification by SMS, packed by the worker, downloaded as a zip.
        tab.submit("main a", has_text="获取完整副本")
        tab.submit("main button", has_text="发送验证码")
        tab.fill({"#id_code": site.code_for(phone)})
        tab.submit("main button[type=submit].primary", has_text="提交请求")
        assert "请求已受理" in tab.text("body")
        link = wait_for_link(tab, "下载副本（zip）")
        assert "状态变更：处理中" in tab.text(".timeline") and "in_progress" not in tab.text(".timeline")
        with page.expect_download() as download_info:
            link.click()
        archive = Path(download_info.value.path())
        with zipfile.ZipFile(archive) as package:
            names = package.namelist()
        assert any(name.endswith("index.html") for name in names), names

        # A consent given and withdrawn on the consents page; each change leaves a receipt.
        tab.goto("/privacy/consents")
        section = page.locator("section.consent-purpose", has=page.locator("button", has_text="同意")).first
        purpose = section.get_attribute("id")
        tab.submit(f"#{purpose} button", has_text="同意")
        assert "已同意" in tab.text(f"#{purpose} h3")
        tab.submit(f"#{purpose} button", has_text="撤回同意")
        assert "未同意" in tab.text(f"#{purpose} h3") and "回执编号" in tab.text("body")

        # Cancel the account, undo it within the waiting period, then cancel for good.
        tab.goto("/privacy/requests/new?type=cancel_account")
        tab.submit("main button[type=submit].primary", has_text="提交请求")
        assert "注销冷静期" in tab.text()
        tab.submit("main button", has_text="撤销注销，恢复账号")
        assert "已撤销" in tab.text("body")
        tab.goto("/accounts/profile/")
        tab.goto("/privacy/requests/new?type=cancel_account")
        tab.submit("main button[type=submit].primary", has_text="提交请求")
        assert "注销冷静期" in tab.text() and "账号已锁定" in tab.text()
        tab.goto("/studio/")  # a closing account may only undo its cancellation
        assert "/privacy/requests/" in page.url and "撤销注销" in tab.text()
        tab.goto(f"/works/{site.world['published']['id']}")
        assert "/privacy/requests/" in page.url
    context.close()


# --- the staff console ------------------------------------------------------------------------------------


def totp_code(secret: str, used: list[int]) -> str:
    """A code newer than every step used so far that stays accepted for at least one whole step.

    The server accepts one step either side of its own. A code of the current step or the next one is valid for
    30 s or more whatever the timing of the page (a code of the previous step could expire between being typed and
    being checked); when both are used, wait for the next step."""
    import pyotp

    from lingjing.accounts.totp import STEP

    while True:
        now = int(time.time() // STEP)
        step = max(now, max(used, default=now - 1) + 1)
        if step <= now + 1:
            break
        time.sleep(STEP - time.time() % STEP + 0.05)
    used.append(step)
    return str(pyotp.TOTP(secret).generate_otp(step))


def test_staff_pass_the_console_gate_and_handle_a_rights_request_and_a_ticket(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    staff = site.world["staff"]
    used: list[int] = []
    context = new_context(browser)
    with journey(context, site, tmp_path, "console") as tab:
        page = tab.page
        sign_in(tab, staff["phone"], site.world["password"])
        assert "/accounts/login/totp/" in page.url  # staff sign in with their authenticator
        tab.fill({"#id_totp": totp_code(staff["totp_secret"], used)})
        tab.submit("main form button[type=submit]")
        assert "值班专员" in tab.text(".site-header")

        # Every staff desk (the console, the rights-request desk, the support desk) asks for a fresh code and
        # this year's training before it opens.
        for desk in ("/support/agent/", "/privacy/requests/staff/", "/console/"):
            tab.goto(desk)
            assert "/secops/gate/" in page.url, f"{desk} opened without the console gate"
        tab.fill({"#id_totp": totp_code(staff["totp_secret"], used)})
        tab.submit("main form button[type=submit]", has_text="验证")
        page.check("#id_confirm")
        tab.submit("main form button[type=submit]", has_text="确认并进入")
        assert page.url.endswith("/console/"), page.url
        assert "培训确认已记录" in tab.text("body")

        # A rights request: take it, note it, answer it.
        reference = site.world["request"]["reference"]
        tab.goto("/privacy/requests/staff/")
        tab.submit("main a", has_text=reference)
        tab.submit("main button", has_text="由我处理")
        assert "值班专员" in tab.text("dl.facts")
        page.locator("form:has(button[value=note]) textarea").fill("已电话核实出生日期。")
        tab.submit("main button[value=note]")
        tab.submit("main button", has_text="已答复，办结")
        assert "已完成" in tab.text("dl.facts")

        # A ticket: claim it, reply, close it.
        tab.goto("/support/agent/?view=unassigned")
        tab.submit("main button", has_text="领取")
        assert site.world["ticket"]["ref"] in tab.text() and "无法修改头像" in tab.text("h1")
        page.locator("form:has(input[value=reply]) textarea").fill("您好，请换一张小于 5 MiB 的 PNG 图片再试。")
        tab.submit("main form:has(input[value=reply]) button[type=submit]")
        assert "小于 5 MiB" in tab.text("#ticket-thread")
        page.locator("#id_note").fill("已指导用户重新上传。")
        tab.submit("main form:has(input[value=resolve]) button[type=submit]")
        assert "处理结果已记录" in tab.text("body")
        assert page.locator("main form:has(input[value=resolve])").count() == 0
    context.close()

    # The member who asked sees both answers.
    member = new_context(browser)
    with journey(member, site, tmp_path, "console-requester") as tab:
        sign_in(tab, site.world["viewer"]["phone"], site.world["password"])
        tab.goto(f"/support/{site.world['ticket']['id']}/")
        assert "小于 5 MiB" in tab.text("#ticket-thread") and "已解决" in tab.text()
        tab.goto(f"/privacy/requests/{site.world['request']['id']}")
        assert "已完成" in tab.text("dl.facts")
    member.close()
