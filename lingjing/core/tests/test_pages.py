"""The site shell: layout, pages, language switch, error pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_home_says_what_the_platform_is_in_chinese(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "灵境 AI 动漫创作平台" in html
    # The works app registers the feed as a home section, which replaces the placeholder.
    assert "作品广场即将开放" not in html
    assert "works/works.css" in html


def test_layout_has_nav_footer_and_account_links(client: Client) -> None:
    html = client.get("/").content.decode()
    for href, text in [
        ("/", "首页"), ("/search", "搜索"), ("/studio/", "创作"), ("/privacy/", "隐私中心"),
        ("/accounts/login/", "登录"), ("/accounts/register/", "注册"),
        ("/privacy/policy", "隐私政策"), ("/help/", "帮助与联系我们"), ("/privacy/cookies", "Cookie 设置"),
    ]:  # fmt: skip
        assert re.search(rf'<a [^>]*href="{re.escape(href)}"[^>]*>{re.escape(text)}</a>', html), (href, text)
    assert 'action="/i18n/setlang/"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_signed_in_user_sees_nickname_and_sign_out(client: Client, make_user: Any) -> None:
    client.force_login(make_user("小明"))
    html = client.get("/").content.decode()
    assert "小明" in html
    assert 'action="/accounts/logout/"' in html and "退出" in html
    assert 'href="/accounts/login/"' not in html


def test_htmx_is_loaded_with_the_csp_nonce_and_no_inline_styles(client: Client) -> None:
    response = client.get("/")
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce, csp
    assert "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert f'<script nonce="{nonce.group(1)}" src="/static/vendor/htmx.min.js"' in html
    assert "&quot;includeIndicatorStyles&quot;: false" in html or '"includeIndicatorStyles": false' in html
    assert " style=" not in html and "<style" not in html
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in tag for tag in scripts)


def test_switching_to_english_renders_english(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/help/"})
    assert response.status_code == 302 and response["Location"] == "/help/"
    html = client.get("/help/").content.decode()
    assert '<html lang="en">' in html
    assert "Help and contact" in html
    assert "Privacy policy" in html and "Privacy center" in html
    assert "帮助与联系我们" not in html
    home = client.get("/").content.decode()
    assert "Lingjing AI anime creation platform" in home
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "帮助与联系我们" in client.get("/help/").content.decode()


def test_help_page_gives_contact_channels_deadline_and_regulators(client: Client) -> None:
    html = client.get("/help/").content.decode()
    assert 'href="mailto:support@lingjingai.cn"' in html
    assert "灵境万维（杭州）智能科技有限公司" in html
    assert 'href="/support/"' in html
    assert "15 个工作日内答复" in html and "30 天" in html
    for regulator in ("网信", "电信", "公安", "市场监管"):
        assert regulator in html


def test_healthz_answers_200_when_the_database_answers(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_does_not(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import connection

    def broken_cursor(*args: Any, **kwargs: Any) -> Any:
        raise OSError("database is down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_unknown_page_is_a_chinese_404(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and 'href="/help/"' in html


def test_csrf_failure_page_is_chinese(make_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/i18n/setlang/", {"language": "en"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "页面已过期" in html and "Cookie" in html


@pytest.mark.urls("lingjing.core.tests.error_urls")
def test_permission_denied_page_is_chinese(client: Client) -> None:
    response = client.get("/forbidden/")
    assert response.status_code == 403
    assert "没有访问权限" in response.content.decode()


@pytest.mark.urls("lingjing.core.tests.error_urls")
def test_server_error_page_is_chinese_without_details() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "服务器出错了" in html
    assert "secret-internal-detail" not in html and "Traceback" not in html


def test_pages_stay_chinese_for_an_english_browser_until_english_is_chosen(client: Client) -> None:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in html and "隐私中心" in html
    client.cookies["lj_lang"] = "en"
    assert '<html lang="en">' in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    client.cookies["lj_lang"] = "klingon"
    assert '<html lang="zh-hans">' in client.get("/").content.decode()
