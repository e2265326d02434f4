"""The PIPL art. 57 notice to affected people, the public announcement, and delivery tracking.

The notice says what happened, which of the person's data was involved, the possible harm, what we did and will
do, what the person can do, the remedies, and how to reach us (policy 四(五)). It goes through the ``notify``
app as a ``security`` notice, which no opt-out can switch off, on every channel the person has: the in-app inbox,
email when they confirmed an address, SMS to their phone, push when configured. One
:class:`~lingjing.secops.models.IncidentNotice` per channel records what became of it; :func:`track` copies the
outcome of outward deliveries back as the ``notify`` worker sends them.

Where ``notify`` is not installed, SMS goes straight to the console outbox (development) and every other channel
is recorded as unreachable, so the incident's public announcement covers the person.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from lingjing.privacy.registry import CATEGORIES
from lingjing.secops.models import AffectedPerson, Incident, IncidentAnnouncement, IncidentNotice, NoticeStatus

OUTWARD = ("email", "sms", "push")
DRILL_MARK = "【演练】"
DEFAULT_ADVICE = ("请留意异常短信和来电，不要向任何人透露验证码；如发现异常，请修改密码并在“账号与安全”页面"
                  "退出其他设备。",
                  "watch for unusual messages and calls and never share a code; if anything looks wrong, change your "
                  "password and sign other devices out on the security page.")
DEFAULT_REMEDIES = ("如因本事件受到损失，请联系我们，我们将依法承担相应责任并协助处理。",
                    "if the incident caused you a loss, contact us: we will help and bear our legal responsibility.")


def notify_installed() -> bool:
    return apps.is_installed("lingjing.notify")


def _marked(incident: Incident, text: str) -> str:
    """A drill's text starts with the drill mark (once)."""
    return text if not incident.drill or text.startswith(DRILL_MARK) else DRILL_MARK + text


def notice_context(incident: Incident, categories: list[str]) -> dict[str, str]:
    kinds = "、".join(CATEGORIES[c].label.zh for c in categories if c in CATEGORIES) or "您的个人信息"
    return {
        "what": _marked(incident, f"{incident.summary}（涉及您的个人信息：{kinds}）"),
        "impact": incident.impact,
        "measures": incident.measures,
        "advice": incident.advice or DEFAULT_ADVICE[0],
        "remedies": incident.remedies or DEFAULT_REMEDIES[0],
        "contact": settings.LINGJING_CONTROLLER["email"],
        "url": "/inbox/",
    }


def send_to_person(incident: Incident, affected: AffectedPerson) -> list[IncidentNotice]:
    """Send the notice on every channel and answer the (unsaved) notice rows. Runs inside the caller's
    transaction (``actions.do_send_incident_notice``)."""
    from lingjing.accounts.models import User

    user = User.objects.filter(pk=affected.person_id).first() if affected.person_id else None
    context = notice_context(incident, list(affected.categories))
    now = timezone.now()
    if user is None or user.status == "erased" or not user.is_active:
        return [IncidentNotice(incident=incident, person=user, channel="none", status=NoticeStatus.UNREACHABLE,
                               error="no_account", created_at=now)]
    if incident.drill:
        return _drill(incident, user, context, now)
    if notify_installed():
        return _through_notify(incident, user, context, now, OUTWARD)
    return _fallback(incident, user, context, now)


def _through_notify(incident: Incident, user: Any, context: dict[str, str], now: Any,
                    channels: tuple[str, ...]) -> list[IncidentNotice]:
    from lingjing.notify.service import notify

    sent = notify(user, "security", "security.incident", context, channels=list(channels))
    rows: list[IncidentNotice] = []
    if sent.notification is not None:
        rows.append(IncidentNotice(incident=incident, person=user, channel="inbox", status=NoticeStatus.SENT,
                                   delivery_ref=str(sent.notification.pk), created_at=now, sent_at=now))
    for delivery in sent.deliveries:
        skipped = delivery.status == "skipped"
        rows.append(IncidentNotice(
            incident=incident, person=user, channel=delivery.channel,
            status=NoticeStatus.UNREACHABLE if skipped else NoticeStatus.PENDING,
            delivery_ref=str(delivery.pk), error=(delivery.last_error or "")[:64], created_at=now,
        ))
    if not rows:
        rows.append(IncidentNotice(incident=incident, person=user, channel="none", status=NoticeStatus.UNREACHABLE,
                                   error=(sent.skipped or "not_sent")[:64], created_at=now))
    return rows


def _drill(incident: Incident, user: Any, context: dict[str, str], now: Any) -> list[IncidentNotice]:
    """A drill's notice stays on the platform: the inbox (marked 【演练】 in its text), and an SMS only into the
    development outbox. A real SMS or email would go to the reserved numbers of synthetic accounts, which may
    belong to strangers: with a real provider those channels are recorded as suppressed."""
    rows = (_through_notify(incident, user, context, now, ()) if notify_installed() else
            [IncidentNotice(incident=incident, person=user, channel="inbox", status=NoticeStatus.UNREACHABLE,
                            error="no_inbox", created_at=now)])
    rows.append(IncidentNotice(incident=incident, person=user, channel="email", status=NoticeStatus.UNREACHABLE,
                               error="drill_outward_suppressed", created_at=now))
    if settings.LINGJING_SMS_BACKEND == "console" and user.phone:
        _console_sms(incident, user.phone, context)
        rows.append(IncidentNotice(incident=incident, person=user, channel="sms", status=NoticeStatus.SENT,
                                   created_at=now, sent_at=now))
    else:
        rows.append(IncidentNotice(incident=incident, person=user, channel="sms", status=NoticeStatus.UNREACHABLE,
                                   error="drill_outward_suppressed", created_at=now))
    return rows


def _console_sms(incident: Incident, phone: str, context: dict[str, str]) -> None:
    from lingjing.core.outbox import append_jsonl

    text = (f"【灵境】个人信息安全事件告知：{context['what']} 可能的影响：{context['impact']} "
            f"我们的措施：{context['measures']} 您可以：{context['advice']} 联系我们：{context['contact']}")
    append_jsonl("sms.jsonl", {"to": phone, "text": text, "kind": "incident", "incident": incident.ref})


def _fallback(incident: Incident, user: Any, context: dict[str, str], now: Any) -> list[IncidentNotice]:
    rows = [IncidentNotice(incident=incident, person=user, channel="inbox", status=NoticeStatus.UNREACHABLE,
                           error="no_inbox", created_at=now),
            IncidentNotice(incident=incident, person=user, channel="email", status=NoticeStatus.UNREACHABLE,
                           error="no_confirmed_email", created_at=now)]
    phone = user.phone or ""
    if phone and settings.LINGJING_SMS_BACKEND == "console":
        _console_sms(incident, phone, context)
        rows.append(IncidentNotice(incident=incident, person=user, channel="sms", status=NoticeStatus.SENT,
                                   created_at=now, sent_at=now))
    else:
        rows.append(IncidentNotice(incident=incident, person=user, channel="sms", status=NoticeStatus.UNREACHABLE,
                                   error="no_phone" if not phone else "sms_backend", created_at=now))
    return rows


def reached(notices: list[IncidentNotice]) -> bool:
    """Whether a person was (or is being) told on at least one channel outside the platform."""
    return any(n.channel in OUTWARD and n.status in (NoticeStatus.PENDING, NoticeStatus.SENT) for n in notices)


def track(incident: Incident) -> int:
    """Copy the outcome of pending outward deliveries from the ``notify`` app onto the notices."""
    from lingjing.secops.actions import do_track_deliveries

    if not notify_installed():
        return 0
    from lingjing.notify.models import Delivery

    pending = list(IncidentNotice.objects.filter(incident=incident, status=NoticeStatus.PENDING,
                                                 channel__in=OUTWARD).exclude(delivery_ref=""))
    deliveries = {str(d.pk): d for d in Delivery.objects.filter(pk__in=[n.delivery_ref for n in pending])
                  .only("id", "status", "last_error", "sent_at")}
    updates: dict[Any, tuple[str, str, Any]] = {}
    for notice in pending:
        delivery = deliveries.get(notice.delivery_ref)
        if delivery is None:
            continue
        if delivery.status == "sent":
            updates[notice.pk] = (NoticeStatus.SENT, "", delivery.sent_at)
        elif delivery.status in ("failed", "skipped"):
            updates[notice.pk] = (NoticeStatus.FAILED, delivery.last_error or delivery.status, None)
    return do_track_deliveries(incident, updates)


# --- the public announcement --------------------------------------------------------------------------------


def announcement_text(incident: Incident) -> dict[str, str]:
    kinds = "、".join(CATEGORIES[c].label.zh for c in incident.categories if c in CATEGORIES) or "个人信息"
    kinds_en = ", ".join(CATEGORIES[c].label.en for c in incident.categories if c in CATEGORIES) or "personal data"
    contact = settings.LINGJING_CONTROLLER["email"]
    body_zh = (
        f"{DRILL_MARK if incident.drill else ''}发生了什么：{incident.summary}\n涉及的个人信息：{kinds}\n"
        f"可能的影响：{incident.impact}\n"
        f"我们已采取或将要采取的措施：{incident.measures}\n"
        f"您可以：{incident.advice or DEFAULT_ADVICE[0]}\n"
        f"补救措施：{incident.remedies or DEFAULT_REMEDIES[0]}\n联系我们：平台客服或 {contact}"
    )
    body_en = (
        f"{'[Drill] ' if incident.drill else ''}What happened: {incident.summary}\nData involved: {kinds_en}\n"
        f"Possible impact: {incident.impact}\nWhat we did and will do: {incident.measures}\n"
        f"What you can do: {incident.advice or DEFAULT_ADVICE[1]}\n"
        f"Remedies: {incident.remedies or DEFAULT_REMEDIES[1]}\n"
        f"Contact: customer service on the platform or {contact}"
    )
    return {
        "title_zh": _marked(incident, f"个人信息安全事件公告（{incident.ref}）"),
        "title_en": f"{'[Drill] ' if incident.drill else ''}Personal information security incident ({incident.ref})",
        "body_zh": body_zh,
        "body_en": body_en,
    }


def publish_announcement(row: IncidentAnnouncement, *, acting_user: Any) -> str:
    """Put the announcement on the site through the ``notify`` app's announcements (banner and every inbox).
    Answers its id, or "" when the notify app is not installed (the announcement is then on the incident page
    ``/security/incidents/<ref>`` only)."""
    if not notify_installed():
        return ""
    from django.core.exceptions import PermissionDenied

    from lingjing.notify.actions import can_publish, do_save_announcement
    from lingjing.notify.models import Announcement, AnnouncementKind

    if not can_publish(acting_user):
        return ""  # e.g. handled from the command line: a staff member publishes it from the incident page
    announcement = Announcement(kind=AnnouncementKind.SECURITY, title_zh=row.title_zh[:120],
                                title_en=row.title_en[:160], body_zh=row.body_zh, body_en=row.body_en, banner=True)
    try:
        saved = do_save_announcement(announcement, acting_user=acting_user)
    except PermissionDenied:
        return ""
    return str(saved.pk)
