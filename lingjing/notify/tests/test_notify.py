"""The notification service: categories and opt-outs, channels, templates, rate limits, retries, delivery records,
announcements (policy 一(三), 四(五); promises C1.6, C4.4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from lingjing.core.outbox import read_jsonl
from lingjing.notify import messages
from lingjing.notify.actions import do_save_announcement, do_set_channels
from lingjing.notify.delivery import backoff, retry_due
from lingjing.notify.models import Announcement, Delivery, DeliveryStatus, Notification
from lingjing.notify.service import notify
from lingjing.notify.tests.conftest import confirm_email, grant
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db

CAMPAIGN = {"headline": "双十一创作季", "text": "新模板限时免费"}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_opted_out_user_gets_the_maintenance_announcement_and_no_marketing(
    alice: Any, bob: Any, publisher: Any, django_capture_on_commit_callbacks: Any
) -> None:
    grant(alice, "marketing", True)
    grant(alice, "marketing", False)  # withdrew
    do_set_channels(alice, "marketing", [], acting_user=alice)  # and switched marketing off
    with pytest.raises(ValidationError):
        do_set_channels(alice, "service", [], acting_user=alice)  # service notices cannot be switched off
    grant(bob, "marketing", True)

    with django_capture_on_commit_callbacks(execute=True):
        ann = do_save_announcement(
            Announcement(kind="maintenance", title_zh="系统维护通知", body_zh="12 月 1 日 02:00-04:00 维护"),
            acting_user=publisher,
        )
    ann.refresh_from_db()
    assert ann.fanout_state == "done"
    entry = Notification.objects.get(user=alice, announcement=ann)
    assert entry.category == "service"
    assert "系统维护通知" in _client(alice).get("/inbox/").content.decode()

    refused = notify(alice, "marketing", "marketing.campaign", CAMPAIGN)
    assert refused.skipped == "no_consent" and refused.notification is None and not refused.deliveries
    assert not Notification.objects.filter(user=alice, category="marketing").exists()
    assert not Delivery.objects.filter(subject_ref=f"u:{alice.pk}", category="marketing").exists()

    sent = notify(bob, "marketing", "marketing.campaign", CAMPAIGN)
    assert sent.notification is not None and sent.notification.title == "双十一创作季"


def test_marketing_needs_consent_and_the_persons_channel_choice(alice: Any) -> None:
    grant(alice, "marketing", True)
    do_set_channels(alice, "marketing", [], acting_user=alice)
    assert notify(alice, "marketing", "marketing.campaign", CAMPAIGN).skipped == "switched_off"
    do_set_channels(alice, "marketing", ["inbox"], acting_user=alice)
    assert notify(alice, "marketing", "marketing.campaign", CAMPAIGN).notification is not None


def test_a_template_cannot_travel_under_another_category(alice: Any) -> None:
    with pytest.raises(messages.UnknownMessage):
        notify(alice, "service", "marketing.campaign", CAMPAIGN)  # an advertisement dressed as a service notice
    with pytest.raises(messages.UnknownMessage):
        notify(alice, "account", "support.reply", {"ticket_ref": "X"})  # missing context


def test_every_template_renders_in_chinese_and_english() -> None:
    for name, kind in messages.MESSAGES.items():
        context = {key: f"<{key}>" for key in kind.required}
        zh = messages.render(name, context, "zh-hans")
        en = messages.render(name, context, "en")
        assert zh.title and en.title and zh.body and en.body, name
        assert (zh.title, zh.body) != (en.title, en.body), name
        for key in kind.required:
            assert f"<{key}>" in zh.title + zh.body and f"<{key}>" in en.title + en.body, (name, key)


def test_the_message_follows_the_persons_language(alice: Any) -> None:
    from lingjing.notify.actions import do_set_language

    do_set_language(alice, "en", acting_user=alice)
    sent = notify(alice, "account", "support.reply", {"ticket_ref": "AB12", "url": "/support/x/"})
    assert sent.notification is not None
    assert sent.notification.title == "Customer service replied to your ticket AB12"


def test_the_security_incident_notice_goes_on_every_named_channel_whatever_the_preferences(
    alice: Any, settings: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any,
    push_server: dict[str, Any],
) -> None:
    confirm_email(alice, "alice@example.cn")
    do_set_channels(alice, "security", ["inbox"], acting_user=alice)  # she chose the inbox alone
    incident = {
        "what": "11 月 20 日，一台日志服务器被未经授权访问。",
        "impact": "您的昵称和登录时间可能被获取，密码未受影响。",
        "measures": "已隔离服务器、更换密钥并报告监管部门。",
        "advice": "请留意冒充客服的来电，不要透露验证码。",
        "remedies": "如遭受损失，可通过客服申请协助和补偿。",
    }
    with django_capture_on_commit_callbacks(execute=True):
        sent = notify(alice, "security", "security.incident", incident, channels=["email", "sms", "push"])
    assert sorted(sent.channels) == ["email", "inbox", "push", "sms"]
    assert {d.channel: d.status for d in Delivery.objects.filter(subject_ref=f"u:{alice.pk}")} == {
        "email": "sent", "sms": "sent", "push": "sent"}
    body = mailoutbox[-1].body
    for text in incident.values():
        assert text in body  # what happened, impact, measures, advice, remedies (policy 四(五))
    assert any(m["to"] == alice.phone and "个人信息安全事件告知" in m["text"] for m in read_jsonl("sms.jsonl"))
    request = push_server["requests"][-1]
    expected = "sha256=" + hmac.new(settings.LINGJING_PUSH_WEBHOOK_SECRET.encode(),
                                    request["timestamp"].encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["signature"], expected)
    payload = json.loads(request["body"])
    assert payload["to"] == f"u:{alice.pk}" and payload["category"] == "security"


def test_outward_channels_are_rate_limited_per_person_and_the_inbox_still_gets_it(
    alice: Any, settings: Any
) -> None:
    settings.LINGJING_NOTIFY_PER_USER_HOUR = 2
    confirm_email(alice, "alice@example.cn")
    results = [notify(alice, "account", "support.reply", {"ticket_ref": str(n), "url": "/"}) for n in range(3)]
    assert [r.deliveries[0].status for r in results] == ["pending", "pending", "skipped"]
    assert results[2].deliveries[0].last_error == "rate_limited"
    assert Notification.objects.filter(user=alice).count() == 3


def test_no_email_goes_to_an_unconfirmed_address(alice: Any) -> None:
    from lingjing.notify.actions import do_set_notify_email

    do_set_notify_email(alice, "alice@example.cn", acting_user=alice)
    sent = notify(alice, "account", "support.reply", {"ticket_ref": "1", "url": "/"})
    assert sent.deliveries[0].status == "skipped" and sent.deliveries[0].last_error == "no_confirmed_email"


def test_a_failed_email_is_retried_with_backoff_and_every_attempt_recorded(
    alice: Any, flaky_mail: Any, django_capture_on_commit_callbacks: Any
) -> None:
    confirm_email(alice, "alice@example.cn")
    flaky_mail.failures = 1
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sent = notify(alice, "account", "support.reply", {"ticket_ref": "T1", "url": "/support/"})
        row = Delivery.objects.get(pk=sent.deliveries[0].pk)
        assert row.status == DeliveryStatus.RETRYING and row.attempts == 1
        assert row.last_error.startswith("ConnectionRefusedError")
        assert row.next_retry_at == start + backoff(1)
        assert not flaky_mail.sent
        assert retry_due() == {}  # not due yet
    with time_machine.travel(start + backoff(1) + dt.timedelta(seconds=1), tick=False):
        assert retry_due() == {"sent": 1}
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT and row.attempts == 2 and row.sent_at is not None
    assert flaky_mail.sent[0].to == ["alice@example.cn"] and "T1" in flaky_mail.sent[0].subject
    events = list(AuditEntry.objects.filter(object_id=str(row.pk)).order_by("seq").values_list("event", flat=True))
    assert events == ["notify.retry_scheduled", "notify.delivered"]


def test_an_email_that_keeps_failing_stops_after_the_last_attempt(
    alice: Any, flaky_mail: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.LINGJING_NOTIFY_MAX_ATTEMPTS = 3
    confirm_email(alice, "alice@example.cn")
    flaky_mail.failures = 99
    now = timezone.now()
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        sent = notify(alice, "account", "support.reply", {"ticket_ref": "T2", "url": "/"})
    for hours in (1, 2):
        with time_machine.travel(now + dt.timedelta(hours=hours), tick=False):
            retry_due()
    row = Delivery.objects.get(pk=sent.deliveries[0].pk)
    assert row.status == DeliveryStatus.FAILED and row.attempts == 3 and row.next_retry_at is None
    with time_machine.travel(now + dt.timedelta(hours=9), tick=False):
        assert retry_due() == {}
    assert AuditEntry.objects.filter(object_id=str(row.pk), event="notify.delivery_failed").count() == 1


def test_backoff_grows_fourfold_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 240, 960]
    assert backoff(20) == dt.timedelta(hours=6)


def test_a_scheduled_announcement_waits_for_its_time_and_shows_a_banner(
    alice: Any, publisher: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.notify.announcements import publish_due

    starts = timezone.now() + dt.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        ann = do_save_announcement(
            Announcement(kind="service", title_zh="新功能上线公告", title_en="New features", body_zh="正文",
                         starts_at=starts, ends_at=starts + dt.timedelta(days=1)), acting_user=publisher)
    assert not Notification.objects.filter(announcement=ann).exists()
    assert "新功能上线公告" not in Client().get("/").content.decode()
    with time_machine.travel(starts + dt.timedelta(minutes=1), tick=False):
        assert publish_due() == [ann.pk]
        assert Notification.objects.filter(announcement=ann, user=alice).exists()
        page = Client().get("/").content.decode()
        assert "新功能上线公告" in page and f"/inbox/announcements/{ann.pk}/" in page
        english = Client(headers={"cookie": "lj_lang=en"})
        english.cookies["lj_lang"] = "en"
        assert "New features" in english.get("/").content.decode()
        assert publish_due() == []  # done: a second run adds nothing
    with time_machine.travel(starts + dt.timedelta(days=2), tick=False):
        assert "新功能上线公告" not in Client().get("/").content.decode()
    assert Notification.objects.filter(announcement=ann).count() == Notification.objects.filter(
        announcement=ann).values("user").distinct().count()


def test_only_staff_who_may_publish_can_publish(alice: Any) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        do_save_announcement(Announcement(title_zh="假公告", body_zh="x"), acting_user=alice)


def test_the_inbox_page_polls_a_partial_that_is_silent_until_something_changes(alice: Any) -> None:
    client = _client(alice)
    page = client.get("/inbox/").content.decode()
    assert 'hx-trigger="every 5s"' in page and "<script>" not in page.replace('<script nonce', '')
    version = page.split("/inbox/partial?v=")[1].split("&")[0]
    assert client.get(f"/inbox/partial?v={version}").status_code == 204
    notify(alice, "account", "support.reply", {"ticket_ref": "LIVE1", "url": "/support/"})
    update = client.get(f"/inbox/partial?v={version}")
    assert update.status_code == 200 and "LIVE1" in update.content.decode()


def test_a_person_reads_only_their_own_inbox(alice: Any, bob: Any) -> None:
    sent = notify(alice, "account", "support.reply", {"ticket_ref": "PRIV", "url": "/support/"})
    assert sent.notification is not None
    assert _client(bob).post(f"/inbox/{sent.notification.pk}/open").status_code == 404
    response = _client(alice).post(f"/inbox/{sent.notification.pk}/open")
    assert response.status_code == 302 and response["Location"] == "/support/"
    sent.notification.refresh_from_db()
    assert sent.notification.read_at is not None


def test_preferences_page_and_api(alice: Any, mailoutbox: list[Any]) -> None:
    client = _client(alice)
    page = client.get("/inbox/preferences").content.decode()
    assert "不能关闭" in page
    response = client.post("/inbox/preferences", {"action": "channels", "language": "zh-hans",
                                                  "ch_social": [], "ch_marketing": ["inbox"],
                                                  "ch_account": ["inbox"], "ch_security": ["email"],
                                                  "ch_service": []})
    assert response.status_code == 302
    api = client.get("/api/v1/notifications/preferences").json()
    by = {c["category"]: c for c in api["categories"]}
    assert by["service"]["channels"] == ["inbox"] and by["service"]["mandatory"]
    assert by["security"]["channels"] == ["inbox", "email"]
    assert by["social"]["channels"] == []
    refused = client.put("/api/v1/notifications/preferences/security", {"channels": []},
                         content_type="application/json")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request"
    client.post("/inbox/preferences", {"action": "email", "email": "alice@example.cn"})
    code = mailoutbox[-1].body.split("验证码是 ")[1][:6]
    client.post("/inbox/preferences", {"action": "confirm", "code": code})
    assert client.get("/api/v1/notifications/preferences").json()["email_confirmed"] is True


def test_inbox_api(alice: Any) -> None:
    notify(alice, "account", "support.reply", {"ticket_ref": "API1", "url": "/support/"})
    client = _client(alice)
    listing = client.get("/api/v1/notifications").json()
    assert listing["unread"] == 1 and listing["items"][0]["title"].endswith("API1")
    item = listing["items"][0]["id"]
    assert client.post(f"/api/v1/notifications/{item}/read").json()["read"] is True
    assert client.get("/api/v1/notifications").json()["unread"] == 0
    assert Client().get("/api/v1/notifications").status_code == 401
    assert Client().get("/api/v1/notifications/announcements").status_code == 200


class _PushHandler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        self.server.requests.append({  # type: ignore[attr-defined]
            "body": self.rfile.read(length), "signature": self.headers.get("X-Lingjing-Signature", ""),
            "timestamp": self.headers.get("X-Lingjing-Timestamp", ""),
        })
        self.send_response(202)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


@pytest.fixture
def push_server(settings: Any) -> Iterator[dict[str, Any]]:
    server = HTTPServer(("127.0.0.1", 0), _PushHandler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.LINGJING_PUSH_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/push"
    settings.LINGJING_PUSH_WEBHOOK_SECRET = "test-push-secret-0123456789"
    settings.LINGJING_PUSH_RECIPIENT = "self-hosted"
    try:
        yield {"requests": server.requests}  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
