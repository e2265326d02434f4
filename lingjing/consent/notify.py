"""Telling people about a material policy change before it takes effect (policy 八, promise C8.1).

1. Claim the version: ``notify_state`` pending/running -> running (a rerun after a crash resumes).
2. In chunks: create the in-app notice (:class:`PolicyNotice`) for every active person who has none yet for
   this version, with one audit row per chunk, in one transaction per chunk.
3. Deliver: for each notice not yet sent, claim it (conditional UPDATE of ``email_sent_at`` / ``sms_sent_at``)
   and then send an email (when the person has an address) and an SMS (when they have a phone). Claiming
   before sending makes delivery at most once per channel; the in-app notice is there either way.
4. Mark the version done.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from lingjing.consent.models import PolicyNotice, PolicyVersion
from lingjing.security.audit import AuditEvent, record

log = logging.getLogger("lingjing.consent")
CHUNK = 500


def active_people() -> Any:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    qs = user_model.objects.all()
    if any(f.name == "status" for f in user_model._meta.concrete_fields):
        qs = qs.filter(status__in=["active", "pending_guardian"])
    if any(f.name == "is_active" for f in user_model._meta.concrete_fields):
        qs = qs.filter(**{"is_active": True})
    return qs


def send_sms(to: str, text: str, *, person: Any = None, reference: str = "") -> bool:
    """One policy-change SMS through the accounts SMS service (disclosure gate included). False when it could not
    go out (no notice template, the gate refused, the provider failed): the in-app notice stands either way."""
    from lingjing.accounts.sms import SmsDeliveryError
    from lingjing.accounts.sms import send_sms as send_text_sms
    from lingjing.sharing.gate import DisclosureRefused

    try:
        send_text_sms(to, text, category="notice", person=person, flow="consent.policy_notice", reference=reference)
    except (SmsDeliveryError, DisclosureRefused) as exc:
        log.warning("policy notice SMS not sent: %s", type(exc).__name__)
        return False
    return True


def _create_notices(version: PolicyVersion) -> int:
    created_total = 0
    while True:
        with transaction.atomic(durable=True):
            ids = list(
                active_people().exclude(policy_notices__version=version).values_list("pk", flat=True)[:CHUNK]
            )
            if not ids:
                break
            PolicyNotice.objects.bulk_create(
                [PolicyNotice(user_id=uid, version=version) for uid in ids], ignore_conflicts=True
            )
            record(AuditEvent.POLICY_NOTIFIED, actor="system", obj=version,
                   details={"number": version.number, "notices": len(ids), "channel": "in_app"})
            created_total += len(ids)
    return created_total


def _message_texts(version: PolicyVersion) -> dict[str, str]:
    context = {
        "version": version,
        "effective": timezone.localtime(version.effective_at),
        "controller": settings.LINGJING_CONTROLLER,
        "site": getattr(settings, "LINGJING_SITE_URL", ""),
    }
    return {
        "subject": f"【灵境】隐私政策更新通知（第 {version.number} 版）",
        "text": render_to_string("consent/email/policy_change.txt", context),
        "html": render_to_string("consent/email/policy_change.html", context),
        "sms": (
            f"【灵境】我们更新了隐私政策（第{version.number}版），将于"
            f"{timezone.localtime(version.effective_at):%Y-%m-%d}生效，涉及对您权利的重要变化。"
            "详情请登录后在“隐私中心”查看。"
        ),
    }


def _claim(notice_id: int, column: str) -> bool:
    """Mark one channel of one notice as sent; True only for the caller that flipped it."""
    return bool(PolicyNotice.objects.filter(pk=notice_id, **{f"{column}__isnull": True}).update(
        **{column: timezone.now()}
    ))


def _deliver(version: PolicyVersion) -> tuple[int, int]:
    texts = _message_texts(version)
    emails = sms_count = 0
    pending = PolicyNotice.objects.filter(version=version).filter(
        Q(email_sent_at__isnull=True) | Q(sms_sent_at__isnull=True)
    )
    for notice in pending.select_related("user").iterator(chunk_size=CHUNK):
        user = notice.user
        address = getattr(user, "email", "") or ""
        phone = getattr(user, "phone", "") or ""
        if notice.email_sent_at is None and _claim(notice.pk, "email_sent_at") and address:
            message = EmailMultiAlternatives(texts["subject"], texts["text"], to=[address])
            message.attach_alternative(texts["html"], "text/html")
            message.send()
            emails += 1
        if (notice.sms_sent_at is None and _claim(notice.pk, "sms_sent_at") and phone
                and send_sms(phone, texts["sms"], person=user, reference=f"policy:{version.number}")):
            sms_count += 1
    return emails, sms_count


def run_policy_notification(version_id: int) -> dict[str, int]:
    claimed = PolicyVersion.objects.filter(pk=version_id, notify_state__in=["pending", "running"]).update(
        notify_state="running"
    )
    if not claimed:
        return {"notices": 0, "emails": 0, "sms": 0}
    version = PolicyVersion.objects.get(pk=version_id)
    notices = _create_notices(version)
    emails, sms_count = _deliver(version)
    PolicyVersion.objects.filter(pk=version_id).update(notify_state="done")
    log.info("policy v%s: %s notices, %s emails, %s SMS", version.number, notices, emails, sms_count)
    return {"notices": notices, "emails": emails, "sms": sms_count}
