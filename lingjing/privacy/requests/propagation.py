"""Telling the recipients that received a person's data to delete it too (policy 五(三); PIPL art. 47).

1. **Plan** (:func:`plan`): from the person's sharing log (``sharing.SharingRecord``, kept three years), one
   :class:`~lingjing.privacy.requests.models.Propagation` per recipient that received their data (for a deletion of
   some categories: the recipients that received those). Authorities (legal requests) and the public (public
   display, which the erasure itself takes down) are not asked. Planning is idempotent (one row per request and
   recipient) and commits with its audit row.
2. **Deliver** (:func:`deliver_due`): to the recipient's transfer endpoint (a JSON deletion notice, over verified
   HTTPS), else to the e-mail address in its registry contact, else it is handed to the privacy officers to
   notify by other means (``manual``; staff mark it done). The notice names the person only by what the recipient
   can match: the per-recipient pseudonym (``sharing.deid.hash_value`` of the user id) and the times, categories
   and payload digests of what it received. Failures are retried with back-off (5 min × 4ⁿ, at most a day apart)
   up to :data:`MAX_ATTEMPTS`, then marked failed and the officers alerted. Every attempt is audited.
3. Run by the erasure saga and the scoped deletion right away, and by ``run_due`` for the retries.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from lingjing.privacy.requests.models import Propagation, PropagationStatus
from lingjing.security.audit import AuditEvent, record

MAX_ATTEMPTS = 6
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def backoff(attempts: int) -> dt.timedelta:
    factor = int(4 ** max(0, attempts - 1))
    return min(dt.timedelta(minutes=5) * factor, dt.timedelta(days=1))


def plan(user_id: uuid.UUID | str, request_id: Any, *, categories: list[str] | None = None) -> int:
    """Create the deletion notices owed for this request. Answers how many recipients are concerned."""
    from lingjing.sharing.deid import hash_value
    from lingjing.sharing.models import RecipientKind, RecordStatus, SharingRecord

    records = (SharingRecord.objects.filter(person_id=uuid.UUID(str(user_id)), status=RecordStatus.RELEASED)
               .exclude(recipient__kind__in=[RecipientKind.AUTHORITY, RecipientKind.PUBLIC])
               .select_related("recipient").order_by("at"))
    wanted = set(categories) if categories else None
    per: dict[str, dict[str, Any]] = {}
    for rec in records.iterator(chunk_size=500):
        if wanted is not None and not wanted & set(rec.categories):
            continue
        entry = per.setdefault(rec.recipient.slug, {"categories": set(), "first": rec.at, "last": rec.at})
        entry["categories"].update(rec.categories)
        entry["last"] = rec.at
    created = 0
    for slug, entry in per.items():
        try:
            with transaction.atomic(durable=True):
                Propagation.objects.create(
                    request_id=request_id, recipient_slug=slug, pseudonym=hash_value(str(user_id), slug),
                    categories=sorted(entry["categories"]), first_disclosed_at=entry["first"],
                    last_disclosed_at=entry["last"])
                record(AuditEvent.RIGHTS_SAGA_STEP, actor="system", subject=f"u:{user_id}",
                       details={"request": str(request_id), "step": "propagation_planned", "recipient": slug})
                created += 1
        except IntegrityError:  # planned before (a rerun)
            continue
    return len(per)


def _notice(prop: Propagation) -> dict[str, Any]:
    from lingjing.sharing.models import SharingRecord

    controller = settings.LINGJING_CONTROLLER
    disclosures = list(
        SharingRecord.objects.filter(pk__in=_record_ids(prop)).order_by("at")
        .values("at", "categories", "flow", "payload_digest")[:100]
    )
    return {
        "type": "deletion_request",
        "controller": {"name": controller["name"], "email": controller["email"]},
        "reference": f"D-{prop.request_id.hex[:8].upper()}",
        "subject_pseudonym": prop.pseudonym,
        "categories": list(prop.categories),
        "disclosures": [{"at": d["at"].isoformat(), "categories": d["categories"], "flow": d["flow"],
                         "payload_sha256": d["payload_digest"]} for d in disclosures],
        "legal_basis": "《个人信息保护法》第四十七条；灵境隐私政策第五部分第（三）项",
        "asked": "请删除您从我们处获得的该用户的个人信息，法律法规另有规定或您已获得其单独授权的除外。",
    }


def _record_ids(prop: Propagation) -> list[Any]:
    """The sharing records behind a notice (found through the request's person while the link still exists)."""
    from lingjing.privacy.requests.models import RightsRequest
    from lingjing.sharing.models import SharingRecord

    user_id = RightsRequest.objects.filter(pk=prop.request_id).values_list("user_id", flat=True).first()
    if user_id is None:
        return []
    return list(SharingRecord.objects.filter(person_id=user_id, recipient__slug=prop.recipient_slug)
                .values_list("pk", flat=True)[:100])


def _send(prop: Propagation) -> str:
    """Deliver one notice; answers the channel used. Raises on failure."""
    from lingjing.privacy.requests.models import PortabilityEndpoint
    from lingjing.sharing.models import Recipient

    body = _notice(prop)
    endpoint = PortabilityEndpoint.objects.filter(recipient_slug=prop.recipient_slug, active=True).first()
    if endpoint is not None:
        import httpx

        from lingjing.privacy.requests.transfer import _client

        with _client() as client:
            answer = client.post(endpoint.url, content=json.dumps(body, ensure_ascii=False).encode(),
                                 headers={"Content-Type": "application/json", "X-Lingjing-Transfer": "deletion"})
        if not 200 <= answer.status_code < 300:
            raise httpx.HTTPError(f"recipient_{answer.status_code}")
        return "endpoint"
    recipient = Recipient.objects.filter(slug=prop.recipient_slug).first()
    match = EMAIL.search(recipient.contact) if recipient is not None else None
    if match is None:
        return "manual"
    from django.core.mail import EmailMessage

    text = (f"{body['asked']}\n\n依据：{body['legal_basis']}\n编号：{body['reference']}\n"
            f"该用户在贵方的假名标识：{body['subject_pseudonym']}\n"
            f"涉及的个人信息种类：{'、'.join(body['categories'])}\n"
            "提供记录：\n" + "\n".join(
                f"- {d['at']} {','.join(d['categories'])} {d['flow']} sha256={d['payload_sha256']}"
                for d in body["disclosures"])
            + f"\n\n机器可读版本：\n{json.dumps(body, ensure_ascii=False)}\n\n{body['controller']['name']}")
    EmailMessage(f"【灵境】个人信息删除通知 {body['reference']}", text, to=[match.group(0)]).send()
    return "email"


def attempt(prop_id: int, *, now: dt.datetime | None = None) -> str:
    """One delivery attempt of one notice (claimed by a conditional update, so two workers never both send)."""
    at = now or timezone.now()
    claimed = Propagation.objects.filter(pk=prop_id, status=PropagationStatus.PENDING, next_attempt_at__lte=at) \
        .update(attempts=F("attempts") + 1, next_attempt_at=at + dt.timedelta(minutes=10))
    if not claimed:
        return "skipped"
    prop = Propagation.objects.get(pk=prop_id)
    subject = ""
    try:
        channel = _send(prop)
        error = ""
    except Exception as exc:  # noqa: BLE001 - any failure of a third party is retried, its class recorded
        channel, error = "", type(exc).__name__[:80]
    with transaction.atomic(durable=True):
        if channel == "manual":
            Propagation.objects.filter(pk=prop.pk).update(status=PropagationStatus.MANUAL, channel="manual")
            record(AuditEvent.RIGHTS_PROPAGATION_FAILED, actor="system", subject=subject, obj=prop,
                   details={"recipient": prop.recipient_slug, "channel": "manual"})
            _alert_manual(prop)
            return "manual"
        if channel:
            Propagation.objects.filter(pk=prop.pk).update(status=PropagationStatus.SENT, channel=channel, sent_at=at,
                                                          last_error="")
            record(AuditEvent.RIGHTS_PROPAGATION_SENT, actor="system", subject=subject, obj=prop,
                   details={"recipient": prop.recipient_slug, "channel": channel, "attempt": prop.attempts})
            return "sent"
        final = prop.attempts >= MAX_ATTEMPTS
        Propagation.objects.filter(pk=prop.pk).update(
            status=PropagationStatus.FAILED if final else PropagationStatus.PENDING, last_error=error,
            next_attempt_at=at + backoff(prop.attempts))
        record(AuditEvent.RIGHTS_PROPAGATION_FAILED, actor="system", subject=subject, obj=prop,
               details={"recipient": prop.recipient_slug, "error": error, "attempt": prop.attempts, "final": final})
        if final:
            _alert_manual(prop)
        return "failed" if final else "retry"


def _alert_manual(prop: Propagation) -> None:
    from lingjing.notify.service import notify
    from lingjing.privacy.requests.notices import privacy_officers

    for officer in privacy_officers():
        notify(officer, "service", "privacy.staff_attention", {
            "request_ref": f"D-{prop.request_id.hex[:8].upper()}", "url": "/privacy/requests/staff/propagations/",
            "what": f"须另行通知接收方“{prop.recipient_slug}”删除个人信息",
            "what_en": f"Tell recipient {prop.recipient_slug} to delete the data by other means",
        })


def deliver_due(*, now: dt.datetime | None = None, limit: int = 200, request_id: Any = None) -> dict[str, int]:
    at = now or timezone.now()
    rows = Propagation.objects.filter(status=PropagationStatus.PENDING, next_attempt_at__lte=at)
    if request_id is not None:
        rows = rows.filter(request_id=request_id)
    counts: dict[str, int] = {}
    for pk in list(rows.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]):
        outcome = attempt(pk, now=at)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def do_mark_propagation_done(prop: Propagation, *, acting_user: Any) -> None:
    """Staff notified the recipient by other means (letter, phone): recorded."""
    from django.core.exceptions import PermissionDenied

    if not (getattr(acting_user, "is_authenticated", False) and acting_user.is_staff
            and acting_user.has_perm("privacy.change_rightsrequest")):
        raise PermissionDenied("没有处理个人信息权利请求的权限")
    with transaction.atomic(durable=True):
        updated = Propagation.objects.filter(
            pk=prop.pk, status__in=[PropagationStatus.MANUAL, PropagationStatus.FAILED]
        ).update(status=PropagationStatus.SENT, channel="manual", sent_at=timezone.now(),
                 handled_by=f"u:{acting_user.pk}")
        if updated:
            record(AuditEvent.RIGHTS_PROPAGATION_SENT, acting_user=acting_user, obj=prop,
                   details={"recipient": prop.recipient_slug, "channel": "manual"})
