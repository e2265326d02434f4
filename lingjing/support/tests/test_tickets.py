"""Customer service: tickets of members and visitors, the agents' queue and access, the conversation, screenshots,
resolution, deadlines and privacy-request hand-over (policy 一(二)4, 九; promises C1.5, C9.1, L1)."""

from __future__ import annotations

import datetime as dt
import io
import sys
import types
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from lingjing.core.outbox import read_jsonl
from lingjing.notify.models import Notification
from lingjing.security.audit_models import AuditEntry
from lingjing.support.access import access_ticket
from lingjing.support.actions import (
    do_assign_ticket,
    do_open_ticket,
    do_post_message,
    do_purge_unconfirmed,
    do_resolve_ticket,
    do_save_canned_reply,
)
from lingjing.support.convert import convert_ticket_to_rights_request
from lingjing.support.models import Attachment, CannedReply, Ticket, TicketMessage
from lingjing.support.overdue import flag_overdue
from lingjing.support.tests.conftest import client_for, code_in, open_ticket, png_with_exif

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _views(ticket: Ticket) -> int:
    return AuditEntry.objects.filter(event="support.ticket_viewed", object_id=str(ticket.pk)).count()


# --- agent access -------------------------------------------------------------------------------------------


def test_an_agent_not_assigned_to_a_ticket_cannot_read_it(alice: Any, ann: Any, bert: Any) -> None:
    ticket = open_ticket(alice, title="我的作品被盗用", body="作品《雨夜》被他人搬运")
    do_assign_ticket(ticket, ann, acting_user=ann)
    # bert is an agent too, but the ticket is ann's
    with pytest.raises(PermissionDenied):
        access_ticket(bert, ticket.pk)
    for path in (f"/support/agent/{ticket.pk}/", f"/support/{ticket.pk}/", f"/support/{ticket.pk}/thread"):
        response = client_for(bert).get(path)
        assert response.status_code == 403, path
        assert "雨夜" not in response.content.decode() and "盗用" not in response.content.decode()
    api = client_for(bert).get(f"/api/v1/support/agent/tickets/{ticket.pk}")
    assert api.status_code == 403 and api.json()["error"]["code"] == "forbidden"
    assert _views(ticket) == 0
    # the queue shows bert the ticket's existence, never its words
    queue = client_for(bert).get("/support/agent/?view=all").content.decode()
    assert ticket.ref in queue and "盗用" not in queue
    # ann, to whom it is assigned, reads it, and the reading is audited
    page = client_for(ann).get(f"/support/agent/{ticket.pk}/").content.decode()
    assert "我的作品被盗用" in page and "雨夜" in page
    assert _views(ticket) == 1
    entry = AuditEntry.objects.get(event="support.ticket_viewed", object_id=str(ticket.pk))
    assert entry.actor == f"u:{ann.pk}" and entry.subject == f"u:{alice.pk}"
    # after ann releases it, she cannot read it any more either
    do_assign_ticket(ticket, None, acting_user=ann)
    assert client_for(ann).get(f"/support/agent/{ticket.pk}/").status_code == 403


def test_staff_without_the_agent_role_and_other_members_get_404(alice: Any, bob: Any, olga: Any) -> None:
    ticket = open_ticket(alice)
    assert client_for(bob).get(f"/support/{ticket.pk}/").status_code == 404
    assert client_for(olga).get(f"/support/{ticket.pk}/").status_code == 404
    assert client_for().get(f"/support/{ticket.pk}/").status_code == 404
    assert client_for(bob).get(f"/api/v1/support/tickets/{ticket.pk}").status_code == 404


def test_claiming_handing_over_and_the_agents_own_tickets(alice: Any, ann: Any, bert: Any) -> None:
    ticket = open_ticket(alice)
    assert client_for(ann).post(f"/support/agent/{ticket.pk}/claim").status_code == 302
    ticket.refresh_from_db()
    assert ticket.assigned_to_id == ann.pk
    with pytest.raises(PermissionDenied):
        do_assign_ticket(ticket, bert, acting_user=bert)  # bert cannot take it from ann
    own = open_ticket(ann, title="我自己的问题")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        do_assign_ticket(own, ann, acting_user=ann)
    with pytest.raises(PermissionDenied):
        do_assign_ticket(ticket, ann, acting_user=alice)


# --- the conversation ---------------------------------------------------------------------------------------


def test_a_member_opens_a_ticket_and_converses_with_the_agent(
    alice: Any, ann: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(alice)
    assert client.get("/support/new").status_code == 200
    response = client.post("/support/new", {"category": "creation", "title": "导出视频失败",
                                            "body": "点击导出后一直转圈"})
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject_ref=f"u:{alice.pk}")
    assert ticket.status == "open" and ticket.due_at is not None and ticket.accepted_at is not None
    assert Notification.objects.filter(user=alice, template="support.received").exists()
    do_assign_ticket(ticket, ann, acting_user=ann)
    with django_capture_on_commit_callbacks(execute=True):
        do_post_message(ticket, "请问您使用的是哪个浏览器？", as_agent=True, acting_user=ann)
        do_post_message(ticket, "此用户上周也反馈过类似问题", as_agent=True, internal=True, acting_user=ann)
    page = client.get(f"/support/{ticket.pk}/").content.decode()
    assert "哪个浏览器" in page and "上周也反馈过" not in page  # internal notes never reach the person
    api = client.get(f"/api/v1/support/tickets/{ticket.pk}").json()
    assert [m["body"] for m in api["messages"]] == ["点击导出后一直转圈", "请问您使用的是哪个浏览器？"]
    assert Notification.objects.filter(user=alice, template="support.reply").count() == 1
    client.post(f"/support/{ticket.pk}/", {"body": "Chrome 120"})
    ticket.refresh_from_db()
    assert ticket.status == "open"
    agent_page = client_for(ann).get(f"/support/agent/{ticket.pk}/").content.decode()
    assert "Chrome 120" in agent_page and "上周也反馈过" in agent_page


def test_canned_replies_are_inserted_into_the_agents_reply(alice: Any, ann: Any) -> None:
    reply = do_save_canned_reply(CannedReply(title="清缓存", body_zh="请清除浏览器缓存后重试。",
                                             body_en="Please clear the browser cache."), acting_user=ann)
    ticket = open_ticket(alice)
    do_assign_ticket(ticket, ann, acting_user=ann)
    page = client_for(ann).get(f"/support/agent/{ticket.pk}/?canned={reply.pk}").content.decode()
    assert "请清除浏览器缓存后重试。</textarea>" in page


def test_the_resolution_is_recorded_told_and_a_reply_reopens(alice: Any, ann: Any) -> None:
    ticket = open_ticket(alice)
    do_assign_ticket(ticket, ann, acting_user=ann)
    with pytest.raises(PermissionDenied):
        do_resolve_ticket(ticket, "solved", "x", acting_user=alice)
    done = do_resolve_ticket(ticket, "solved", "已为您重置登录状态", acting_user=ann)
    assert done.status == "resolved" and done.resolution_note == "已为您重置登录状态"
    assert done.resolved_by_id == ann.pk and done.resolved_at is not None
    page = client_for(alice).get(f"/support/{ticket.pk}/").content.decode()
    assert "问题已解决" in page and "已为您重置登录状态" in page
    assert Notification.objects.filter(user=alice, template="support.resolved").exists()
    do_post_message(done, "又不行了", as_agent=False, acting_user=alice)
    done.refresh_from_db()
    assert done.status == "open" and done.resolution == ""
    assert AuditEntry.objects.filter(event="support.ticket_reopened", object_id=str(ticket.pk)).exists()
    # the earlier resolution stays in the conversation
    assert TicketMessage.objects.filter(ticket=ticket, author_role="system", body__isnull=False).count() == 1


def test_the_thread_updates_live_and_agent_polls_are_audited_only_when_they_show_something(
    alice: Any, ann: Any
) -> None:
    ticket = open_ticket(alice)
    do_assign_ticket(ticket, ann, acting_user=ann)
    client = client_for(alice)
    page = client.get(f"/support/{ticket.pk}/").content.decode()
    assert 'hx-trigger="every 5s"' in page
    version = page.split("/thread?v=")[1].split('"')[0]
    assert client.get(f"/support/{ticket.pk}/thread?v={version}").status_code == 204
    agent = client_for(ann)
    views = _views(ticket)
    assert agent.get(f"/support/{ticket.pk}/thread?v={version}").status_code == 204
    assert _views(ticket) == views  # nothing shown, nothing to audit
    do_post_message(ticket, "已收到，正在排查", as_agent=True, acting_user=ann)
    update = client.get(f"/support/{ticket.pk}/thread?v={version}")
    assert update.status_code == 200 and "已收到，正在排查" in update.content.decode()
    assert agent.get(f"/support/{ticket.pk}/thread?v={version}").status_code == 200
    assert _views(ticket) == views + 1


# --- visitors -----------------------------------------------------------------------------------------------


def test_a_visitor_confirms_an_email_before_the_ticket_is_accepted_and_gets_the_reply_by_link(
    ann: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    visitor = client_for()
    response = visitor.post("/support/new", {"category": "other", "title": "无法注册", "body": "收不到短信",
                                             "contact_kind": "email", "contact": "guest@Example.CN"})
    assert response.status_code == 302 and "/support/confirm/" in response["Location"]
    ticket = Ticket.objects.get()
    assert ticket.status == "unconfirmed" and ticket.subject_ref.startswith("v:") and ticket.due_at is None
    assert ticket.contact == "guest@example.cn"
    # not in any queue until confirmed
    assert ticket.ref not in client_for(ann).get("/support/agent/?view=all").content.decode()
    assert visitor.post(response["Location"], {"code": "000000"}).status_code == 200
    code = code_in(mailoutbox[-1].body)
    accepted = visitor.post(response["Location"], {"code": code})
    assert accepted.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.contact_confirmed_at and ticket.due_at
    assert "收不到短信" in visitor.get(f"/support/{ticket.pk}/").content.decode()
    assert client_for().get(f"/support/{ticket.pk}/").status_code == 404  # another browser: nothing
    do_assign_ticket(ticket, ann, acting_user=ann)
    with django_capture_on_commit_callbacks(execute=True):
        do_post_message(ticket, "请检查短信拦截设置", as_agent=True, acting_user=ann)
    mail = mailoutbox[-1]
    assert mail.to == ["guest@example.cn"] and ticket.ref in mail.subject
    link = mail.body.split("http://127.0.0.1:8000")[-1].split()[0]
    other = client_for()
    assert other.get(link).status_code == 302
    assert "请检查短信拦截设置" in other.get(f"/support/{ticket.pk}/").content.decode()
    assert client_for().get(link.replace("/support/v/", "/support/v/x")).status_code == 404


def test_a_visitor_can_confirm_a_phone_with_an_sms_code(ann: Any) -> None:
    visitor = client_for()
    response = visitor.post("/support/new", {"category": "complaint", "title": "举报侵权作品",
                                             "body": "有人搬运我的作品", "contact_kind": "phone",
                                             "contact": "139 1234 0099"})
    ticket = Ticket.objects.get()
    assert ticket.contact == "+8613912340099"
    sms = [m for m in read_jsonl("sms.jsonl") if m["to"] == "+8613912340099"]
    assert visitor.post(response["Location"], {"code": code_in(sms[-1]["text"])}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_unconfirmed_visitor_tickets_go_after_a_day_with_their_key(ann: Any) -> None:
    from lingjing.security.models import DataKey, ShreddedSubject

    ticket = do_open_ticket(user=None, category="other", title="t", body="b", contact_kind="email",
                            contact="x@example.cn", acting_user=None)
    assert DataKey.objects.filter(subject=ticket.subject_ref).exists()
    assert do_purge_unconfirmed(older_than=timezone.now() - dt.timedelta(hours=24)) == 0
    assert do_purge_unconfirmed(older_than=timezone.now() + dt.timedelta(seconds=1)) == 1
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert not DataKey.objects.filter(subject=ticket.subject_ref).exists()
    assert ShreddedSubject.objects.filter(subject=ticket.subject_ref).exists()


# --- screenshots --------------------------------------------------------------------------------------------


def test_screenshots_are_reencoded_without_metadata_and_served_only_through_the_ticket(
    alice: Any, bob: Any, ann: Any
) -> None:
    from PIL import Image

    client = client_for(alice)
    upload = SimpleUploadedFile("../../etc/passwd.jpg", png_with_exif((2700, 300)), content_type="image/jpeg")
    client.post("/support/new", {"category": "creation", "title": "画面错位", "body": "见截图", "screenshots": upload})
    ticket = Ticket.objects.get()
    shot = Attachment.objects.get(ticket=ticket)
    assert shot.file.startswith("support/") and shot.file.endswith(".png") and "passwd" not in shot.file
    with default_storage.open(shot.file, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        assert image.format == "PNG" and max(image.size) == 2560
        assert not image.getexif() and "exif" not in image.info
    url = f"/support/{ticket.pk}/attachments/{shot.pk}"
    assert client.get(url).status_code == 200
    assert client_for(bob).get(url).status_code == 404
    assert client_for(ann).get(url).status_code == 403
    do_assign_ticket(ticket, ann, acting_user=ann)
    views = _views(ticket)
    assert client_for(ann).get(url)["Cache-Control"] == "private, no-store"
    assert AuditEntry.objects.filter(event="support.ticket_viewed", object_id=str(ticket.pk),
                                     details__what="attachment").count() == 1
    assert _views(ticket) == views + 1


def test_doubtful_screenshots_are_refused_and_nothing_is_stored(alice: Any, settings: Any) -> None:
    client = client_for(alice)
    polyglot = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n<svg onload=alert(1)>", content_type="image/png")
    response = client.post("/support/new", {"category": "other", "title": "t", "body": "b", "screenshots": polyglot})
    assert response.status_code == 200 and "PNG、JPEG" in response.content.decode()
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert not (settings.MEDIA_ROOT / "support").exists() or not any((settings.MEDIA_ROOT / "support").iterdir())


# --- records at rest ----------------------------------------------------------------------------------------


def _raw_dump() -> str:
    """Every row of every table, read with plain SQL: what a stolen database file or backup would show."""
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - introspected names
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value).decode("utf-8", "ignore"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_ticket_messages_are_not_readable_in_a_raw_database_dump(alice: Any, ann: Any) -> None:
    secrets = ["我的身份证号码是110101199003076519", "夜里在西湖边拍的截图", "内部：该用户疑似被盗号",
               "已核实并冻结异常登录", "guest-secret@example.cn", "标题：账号被盗"]
    ticket = open_ticket(alice, category="complaint", title=secrets[5], body=secrets[0])
    do_assign_ticket(ticket, ann, acting_user=ann)
    do_post_message(ticket, secrets[1], as_agent=False, acting_user=alice)
    do_post_message(ticket, secrets[2], as_agent=True, internal=True, acting_user=ann)
    do_resolve_ticket(ticket, "solved", secrets[3], acting_user=ann)
    do_open_ticket(user=None, category="other", title="访客", body="访客问题", contact_kind="email",
                   contact=secrets[4], acting_user=None)
    dump = _raw_dump()
    assert "ljx1$" in dump  # sealed envelopes are there
    for text in secrets:
        assert text not in dump, text
        assert text[:8] not in dump, text
    # and through the model, the person's key opens them
    assert TicketMessage.objects.filter(ticket=ticket).first().body == secrets[0]  # type: ignore[union-attr]


def test_the_registry_declares_ticket_data_with_its_retention() -> None:
    from lingjing.privacy.registry import RowErase, declaration_for

    ticket = declaration_for(Ticket)
    message = declaration_for(TicketMessage)
    assert ticket is not None and message is not None
    assert ticket.fields["title"].category == "support.message"
    assert ticket.fields["contact"].category == "support.contact"
    assert ticket.fields["resolution_note"].retention.days == 3 * 366
    assert message.fields["body"].category == "support.message" and message.on_erase == RowErase.KEEP
    assert ticket.subject_ref == "subject_ref" and message.keep_days == 3 * 366


def test_erasing_the_person_keeps_the_record_but_not_a_readable_word(alice: Any, ann: Any) -> None:
    from lingjing.privacy.engines import erase_person

    ticket = open_ticket(alice, title="注销前的问题", body="请帮我导出作品")
    do_assign_ticket(ticket, ann, acting_user=ann)
    do_resolve_ticket(ticket, "explained", "已说明导出方法", acting_user=ann)
    erase_person(alice.pk)
    kept = Ticket.objects.get(pk=ticket.pk)
    assert kept.category == "account" and kept.resolution == "explained"
    assert kept.title is None and kept.resolution_note is None
    assert all(m.body is None for m in TicketMessage.objects.filter(ticket=ticket))


# --- deadlines ----------------------------------------------------------------------------------------------


def test_a_complaint_overdue_on_the_working_day_calendar_raises_an_alert(
    alice: Any, ann: Any, bert: Any, olga: Any
) -> None:
    received = dt.datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI)  # the Friday before National Day
    with time_machine.travel(received, tick=False):
        complaint = open_ticket(alice, category="complaint", title="投诉：作品被误删", body="请恢复")
        question = open_ticket(alice, category="account", title="改昵称")
        do_assign_ticket(complaint, ann, acting_user=ann)
    complaint.refresh_from_db()
    # 15 working days: the holiday week (1-8 Oct) does not count, the make-up days (28 Sep, 11 Oct) do
    assert timezone.localtime(complaint.due_at).date() == dt.date(2025, 10, 23)
    # Mon 20 Oct: a Monday-to-Friday count (due Fri 17 Oct) would already cry overdue; the calendar does not
    with time_machine.travel(dt.datetime(2025, 10, 20, 9, 0, tzinfo=SHANGHAI), tick=False):
        assert flag_overdue() == []
    with time_machine.travel(dt.datetime(2025, 10, 23, 23, 0, tzinfo=SHANGHAI), tick=False):
        assert flag_overdue() == []
    with time_machine.travel(dt.datetime(2025, 10, 24, 0, 5, tzinfo=SHANGHAI), tick=False):
        flagged = flag_overdue()
        assert sorted(flagged) == sorted([str(complaint.pk), str(question.pk)])
        assert flag_overdue() == []  # flagged once
    alerts = Notification.objects.filter(template="support.overdue")
    complaint_alerts = {n.user_id for n in alerts if complaint.ref in (n.title or "")}
    question_alerts = {n.user_id for n in alerts if question.ref in (n.title or "")}
    assert complaint_alerts == {ann.pk, olga.pk}  # its agent and the privacy officer
    assert question_alerts == {ann.pk, bert.pk}  # unassigned, not a complaint: every agent, no officer
    entry = AuditEntry.objects.get(event="support.ticket_overdue", object_id=str(complaint.pk))
    assert entry.details["privacy_officer"] is True
    assert "已超期" in client_for(ann).get("/support/agent/?view=overdue").content.decode()
    # the alerts are service notices: they reach the inbox whatever the staff member's preferences
    assert {n.category for n in alerts} == {"service"}


def test_a_resolved_ticket_is_never_flagged(alice: Any, ann: Any) -> None:
    with time_machine.travel(dt.datetime(2025, 9, 1, 9, 0, tzinfo=SHANGHAI), tick=False):
        ticket = open_ticket(alice, category="complaint")
        do_assign_ticket(ticket, ann, acting_user=ann)
        do_resolve_ticket(ticket, "report_handled", "已处理", acting_user=ann)
    with time_machine.travel(dt.datetime(2025, 12, 1, 9, 0, tzinfo=SHANGHAI), tick=False):
        assert flag_overdue() == []


# --- privacy requests ---------------------------------------------------------------------------------------


def test_a_privacy_request_ticket_records_the_conversion_until_the_rights_module_exists(
    alice: Any, ann: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.exceptions import ValidationError

    from lingjing.support import convert

    other = open_ticket(alice, category="account")
    do_assign_ticket(other, ann, acting_user=ann)
    with pytest.raises(ValidationError):
        convert_ticket_to_rights_request(other, acting_user=ann, request_type="copy")
    ticket = open_ticket(alice, category="privacy_request", title="请删除我的搜索记录")
    do_assign_ticket(ticket, ann, acting_user=ann)
    monkeypatch.setattr(convert, "HOOK_MODULE", "lingjing.privacy.requests_not_installed_here")
    monkeypatch.setitem(sys.modules, "lingjing.privacy.requests_not_installed_here", None)
    pending = convert_ticket_to_rights_request(ticket, acting_user=ann, request_type="deletion")
    assert pending.conversion == "pending" and pending.rights_request_type == "deletion"
    assert pending.rights_request_ref == ""
    assert AuditEntry.objects.filter(event="support.ticket_converted", details__state="pending").exists()

    created: list[Any] = []
    fake = types.ModuleType("lingjing.privacy.requests_fake")

    def create_from_support_ticket(t: Ticket, *, request_type: str, acting_user: Any) -> Any:
        created.append((t.pk, request_type))
        return types.SimpleNamespace(pk="RR-1")

    fake.create_from_support_ticket = create_from_support_ticket  # type: ignore[attr-defined]
    monkeypatch.setattr(convert, "HOOK_MODULE", "lingjing.privacy.requests_fake")
    monkeypatch.setitem(sys.modules, "lingjing.privacy.requests_fake", fake)
    assert convert.replay_pending_conversions() == 1
    ticket.refresh_from_db()
    assert ticket.conversion == "created" and ticket.rights_request_ref == "RR-1"
    assert created == [(ticket.pk, "deletion")]
    with pytest.raises(ValidationError):
        convert_ticket_to_rights_request(ticket, acting_user=ann, request_type="deletion")


# --- API ----------------------------------------------------------------------------------------------------


def test_api_for_members_and_agents(alice: Any, ann: Any) -> None:
    client = client_for(alice)
    created = client.post("/api/v1/support/tickets", {"category": "account", "title": "改手机号",
                                                      "body": "旧号码已停用"}, content_type="application/json")
    assert created.status_code == 201
    ticket_id = created.json()["id"]
    assert client.get("/api/v1/support/tickets").json()[0]["title"] == "改手机号"
    bad = client.post("/api/v1/support/tickets", {"category": "nope", "title": "x", "body": "y"},
                      content_type="application/json")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    agent = client_for(ann)
    queue = agent.get("/api/v1/support/agent/queue").json()
    assert [q["id"] for q in queue] == [ticket_id] and "title" not in queue[0]
    assert agent.post(f"/api/v1/support/agent/tickets/{ticket_id}/claim").status_code == 200
    reply = agent.post(f"/api/v1/support/agent/tickets/{ticket_id}/messages", {"body": "请上传身份证明"},
                       content_type="application/json")
    assert reply.status_code == 201
    resolved = agent.post(f"/api/v1/support/agent/tickets/{ticket_id}/resolve",
                          {"resolution": "solved", "note": "已更换"}, content_type="application/json")
    assert resolved.json()["status"] == "resolved"
    assert client.get(f"/api/v1/support/tickets/{ticket_id}").json()["resolution_note"] == "已更换"
    assert client_for().get("/api/v1/support/tickets").status_code == 401


def test_pages_are_chinese_first_and_english_on_request(alice: Any) -> None:
    client = client_for(alice)
    assert "问题描述" in client.get("/support/new").content.decode()
    client.cookies["lj_lang"] = "en"
    page = client.get("/support/new").content.decode()
    assert "Describe the problem" in page and "Complaint or report" in page
    assert "Notification settings" in client.get("/inbox/preferences").content.decode()
