"""Every write of the rights-request machinery: ``do_<verb>_<noun>(..., *, acting_user)``, one durable transaction
each, with its audit row (and the request's own history event) inside it. Notices to the requester join the same
transaction (``requests.notices``); tasks are enqueued after commit.

Who acts is passed as ``acting_user`` (a signed-in person or staff member) or, for requesters without an account
session (web form, guardian, close relative), as ``actor`` — a pseudonymous reference (``u:<uuid>`` of the account
whose phone was proven, ``guardian:p:...``, ``relative:v:...``). Audit entries never hold request text; the
requester's own words and the refusal statement are sealed on the request under the person's key.

The fulfilment of each type (``submit_request`` at the end) composes these actions; long work (copy packages,
transfers, erasure) runs in ``lingjing.privacy.requests.tasks``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lingjing.privacy.registry import CATEGORIES
from lingjing.privacy.requests import deadlines, notices
from lingjing.privacy.requests.models import (
    CLOSED_STATUSES,
    NEEDS_FRESH_VERIFICATION,
    OPEN_STATUSES,
    RELATIVE_TYPES,
    Channel,
    DeletionGround,
    EventKind,
    PortabilityEndpoint,
    ProcessingRestriction,
    ProxyKind,
    ProxyStatus,
    RefusalGround,
    Relationship,
    RequesterKind,
    RequestEvent,
    RequestProxy,
    RequestStatus,
    RequestType,
    RightsRequest,
    TransferMode,
    TransferTarget,
    WorksChoice,
)
from lingjing.privacy.requests.restriction import EVERYTHING, restrictable_purposes
from lingjing.security.audit import AuditEvent, actor_ref, record
from lingjing.security.crypto import blind_index

DETAILS_MAX = 4000
REASON_MAX = 2000


class DuplicateRequest(Exception):
    """An open request of the same type exists (or today's copy was already made)."""

    def __init__(self, existing: RightsRequest, message: str, code: str = "duplicate_request") -> None:
        super().__init__(message)
        self.existing = existing
        self.message = message
        self.code = code


class InvalidTransition(ValidationError):
    pass


@dataclass(frozen=True)
class Requester:
    """Who files a request, and how they proved it."""

    kind: str = RequesterKind.SELF
    channel: str = Channel.WEB
    verification: str = "session"  # session | step_up | sms_code | guardian | staff
    acting_user: Any = None  # the signed-in person, or staff filing on someone's behalf
    actor: str = ""  # pseudonymous reference when nobody is signed in
    phone_index: str = ""  # the phone the requester proved (web form, guardian)
    proxy: RequestProxy | None = None
    keep_session_key: str = ""  # a cancellation keeps this browser session signed in (to undo)
    keep_token_id: Any = None  # ... or this API token

    @property
    def ref(self) -> str:
        return self.actor or actor_ref(self.acting_user)


def _actor(acting_user: Any, actor: str = "") -> str:
    return actor or actor_ref(acting_user)


def _subject(req: RightsRequest) -> str:
    return f"u:{req.user_id}" if req.user_id else ""


def _event(req: RightsRequest, kind: str, *, actor: str, from_status: str = "", to_status: str = "",
           code: str = "", note: str | None = None) -> RequestEvent:
    event = RequestEvent(request=req, user_id=req.user_id, kind=kind, from_status=from_status,
                         to_status=to_status, code=code[:40], actor=actor[:80])
    if note and req.user_id:
        event.note = note[:REASON_MAX]
    event.save(force_insert=True)
    return event


def _locked(req: RightsRequest) -> RightsRequest:
    # FOR UPDATE OF the request row only: PostgreSQL refuses to lock the nullable side of the outer joins.
    return RightsRequest.objects.select_for_update(of=("self",)).select_related("user", "proxy").get(pk=req.pk)


def _transition(req: RightsRequest, to: str, *, actor: str, acting_user: Any, code: str = "",
                note: str | None = None, tell: bool = True) -> None:
    """Move a locked request to ``to`` (inside the caller's transaction): pause and resume the deadline, close it,
    record the event and the audit row, and tell the requester."""
    now = timezone.now()
    before = req.status
    if before == to:
        return
    if before in CLOSED_STATUSES:
        raise InvalidTransition("该请求已结束")
    fields = ["status", "updated_at", "status_reason"]
    if to == RequestStatus.AWAITING_REQUESTER and req.paused_at is None:
        req.paused_at = now
        fields.append("paused_at")
        _event(req, EventKind.PAUSED, actor=actor, code=code)
    if before == RequestStatus.AWAITING_REQUESTER and req.paused_at is not None:
        req.paused_days += deadlines.paused_working_days(req.paused_at, now)
        req.paused_at = None
        req.due_at = deadlines.due_for(req.received_at, paused_days=req.paused_days, grace_until=req.grace_until)
        fields += ["paused_at", "paused_days", "due_at"]
        _event(req, EventKind.RESUMED, actor=actor, code=code)
    if to in CLOSED_STATUSES:
        req.closed_at = now
        fields.append("closed_at")
    req.status = to
    req.status_reason = code[:40]
    req.updated_at = now
    req.save(update_fields=fields)
    _event(req, EventKind.STATUS, actor=actor, from_status=before, to_status=to, code=code, note=note)
    record(AuditEvent.RIGHTS_REQUEST_STATUS_CHANGED, acting_user=acting_user, actor=actor, subject=_subject(req),
           obj=req, details={"type": req.type, "from": before, "to": to, "code": code})
    if tell and to in (RequestStatus.COMPLETED, RequestStatus.AWAITING_REQUESTER, RequestStatus.WITHDRAWN):
        notices.status_changed(req)


# --- validation ---------------------------------------------------------------------------------------------


def clean_params(type_: str, params: Mapping[str, Any] | None, *, details: str = "",
                 deletion_ground: str = "") -> dict[str, Any]:
    """The parameters a request of ``type_`` keeps (no free text in them); ValidationError when unusable."""
    from lingjing.privacy.requests.scoped import DELETABLE

    if type_ not in RequestType.values:
        raise ValidationError(f"未知的请求类型：{type_}", code="unknown_type")
    raw = dict(params or {})
    if len(details) > DETAILS_MAX:
        raise ValidationError(f"说明最多 {DETAILS_MAX} 字", code="details_too_long")
    out: dict[str, Any] = {}
    if type_ == RequestType.DELETION:
        if deletion_ground not in DeletionGround.values:
            raise ValidationError("请选择删除的理由（隐私政策第五部分第（三）项所列五种情形之一）",
                                  code="ground_required")
        categories = [str(c) for c in raw.get("categories") or []]
        if not categories:
            raise ValidationError("请选择要删除的个人信息类别；删除全部个人信息请申请注销账号",
                                  code="categories_required")
        bad = [c for c in categories if c not in DELETABLE]
        if bad:
            labels = "、".join(CATEGORIES[c].label.zh if c in CATEGORIES else c for c in bad)
            raise ValidationError(f"这些信息随账号存在，须通过注销账号删除：{labels}", code="not_deletable")
        out["categories"] = sorted(set(categories))
    elif type_ == RequestType.RESTRICTION:
        purposes = [str(p) for p in raw.get("purposes") or []]
        allowed = {*restrictable_purposes(), EVERYTHING}
        if not purposes or any(p not in allowed for p in purposes):
            raise ValidationError("请选择要限制处理的用途", code="purposes_required")
        out["purposes"] = [EVERYTHING] if EVERYTHING in purposes else sorted(set(purposes))
    elif type_ == RequestType.WITHDRAW_CONSENT:
        from lingjing.consent.models import Purpose

        purposes = sorted({str(p) for p in raw.get("purposes") or []})
        known = set(Purpose.objects.filter(key__in=purposes, active=True).values_list("key", flat=True))
        if not purposes or set(purposes) - known:
            raise ValidationError("请选择要撤回同意的用途", code="purposes_required")
        out["purposes"] = purposes
    elif type_ == RequestType.CANCEL_ACCOUNT:
        works = str(raw.get("works") or WorksChoice.ANONYMISE)
        if works not in WorksChoice.values:
            raise ValidationError("请选择已发布作品的处理方式", code="works_choice")
        out["works"] = works
    elif type_ == RequestType.TRANSFER:
        mode = str(raw.get("mode") or (TransferMode.ENDPOINT if raw.get("endpoint") else TransferMode.REGISTERED))
        if mode not in TransferMode.values:
            raise ValidationError("未知的转移方式", code="transfer_mode")
        out["mode"] = mode
        if raw.get("consent") not in (True, "true", "1", 1, "on"):
            raise ValidationError("请确认同意将您的个人信息副本提供给您指定的接收方", code="consent_required")
        out["consent"] = True
        if mode == TransferMode.REGISTERED:
            slug = str(raw.get("recipient") or "")
            if not PortabilityEndpoint.objects.filter(recipient_slug=slug, active=True).exists():
                raise ValidationError("该接收方尚未开通个人信息转移接口", code="recipient_unknown")
            out["recipient"] = slug
        else:
            from lingjing.privacy.requests.transfer import clean_endpoint

            clean_endpoint(str(raw.get("endpoint") or ""))
            if raw.get("domestic") not in (True, "true", "1", 1, "on"):
                raise ValidationError("请确认接收方位于中国境内；向境外转移请选择已登记的接收方",
                                      code="domestic_required")
    elif type_ == RequestType.EXPLANATION:
        decision = raw.get("decision_id")
        if decision:
            try:
                out["decision_id"] = str(uuid.UUID(str(decision)))
            except ValueError:
                raise ValidationError("决定编号无效", code="decision_id") from None
    elif type_ == RequestType.CORRECTION:
        items = raw.get("items") or []
        if not items and not details.strip():
            raise ValidationError("请说明要更正的内容", code="details_required")
        clean_items = []
        for item in items:
            if not isinstance(item, Mapping) or not {"model", "field", "object_id"} <= set(item):
                raise ValidationError("更正项格式无效", code="correction_items")
            clean_items.append({"model": str(item["model"]), "field": str(item["field"]),
                                "object_id": str(item["object_id"])})
        out["items"] = clean_items
    return out


def _open_duplicate(user: Any, type_: str) -> RightsRequest | None:
    return RightsRequest.objects.filter(user=user, type=type_, status__in=OPEN_STATUSES).order_by("received_at").first()


def _copy_today(user: Any) -> RightsRequest | None:
    """A copy made (or being made) for ``user`` within the last 24 hours: one a day."""
    since = timezone.now() - dt.timedelta(days=1)
    return (RightsRequest.objects.filter(user=user, type=RequestType.COPY, received_at__gte=since)
            .exclude(status__in=[RequestStatus.REFUSED, RequestStatus.WITHDRAWN]).order_by("-received_at").first())


def transfers_this_year(user: Any) -> int:
    year_start = timezone.localtime().replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return (RightsRequest.objects.filter(user=user, type=RequestType.TRANSFER, received_at__gte=year_start)
            .exclude(status__in=[RequestStatus.REFUSED, RequestStatus.WITHDRAWN]).count())


# --- receiving a request ------------------------------------------------------------------------------------


def do_create_request(
    user: Any,
    type_: str,
    *,
    requester: Requester,
    params: Mapping[str, Any] | None = None,
    details: str = "",
    deletion_ground: str = "",
    transfer_endpoint: str = "",
    received_at: dt.datetime | None = None,
    support_ticket_ref: str = "",
) -> RightsRequest:
    """Receive one request about ``user``: validate, detect duplicates, record, acknowledge at once.

    1. Parameters are checked per type; a request needing fresh verification must come with one.
    2. An open request of the same type for the same person is not duplicated (:class:`DuplicateRequest`), nor a
       second copy within a day.
    3. The request, its ``received`` event and the audit row commit together with the acknowledgement notice.
    4. Cancellations start their undo window in the same transaction; transfers beyond the year's free count wait
       for the fee. Everything else is handed to :func:`start_fulfilment` by the caller.
    """
    clean = clean_params(type_, params, details=details, deletion_ground=deletion_ground)
    if type_ in NEEDS_FRESH_VERIFICATION and requester.verification not in ("step_up", "sms_code", "guardian", "staff"):
        raise PermissionDenied("此操作需要先完成身份验证：请获取短信验证码并输入")
    if requester.kind == RequesterKind.RELATIVE and type_ not in RELATIVE_TYPES:
        raise ValidationError("近亲属可以查阅、复制、更正、删除已故用户的个人信息", code="relative_type")
    now = timezone.now()
    received = received_at or now
    with transaction.atomic(durable=True):
        from django.contrib.auth import get_user_model

        # One request at a time per person: the row lock serialises concurrent submissions.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        existing = _open_duplicate(user, type_)
        if existing is not None:
            raise DuplicateRequest(existing, f"您已有一个处理中的同类请求（编号 {existing.reference}），"
                                             "请在该请求处理完毕后再提交，或先撤销它")
        if type_ == RequestType.COPY:
            today = _copy_today(user)
            if today is not None:
                raise DuplicateRequest(today, f"每天可以生成一份个人信息副本；今天的副本（编号 {today.reference}）"
                                              "已在生成或可以下载", code="copy_daily_limit")
        req = RightsRequest(
            user=user, type=type_, channel=requester.channel, requester_kind=requester.kind, proxy=requester.proxy,
            requester_phone_index=requester.phone_index, params=clean, deletion_ground=deletion_ground,
            received_at=received, verified_at=now, verification=requester.verification,
            due_at=deadlines.due_for(received), support_ticket_ref=support_ticket_ref[:80], updated_at=now,
        )
        if details.strip():
            req.details = details.strip()
        if type_ == RequestType.TRANSFER and transfers_this_year(user) >= settings.LINGJING_TRANSFER_FREE_PER_YEAR:
            # NDR art. 25: a cost fee only for transfers clearly beyond a reasonable number; never for access/copy.
            req.fee_fen = settings.LINGJING_TRANSFER_FEE_FEN
        req.save(force_insert=True)
        actor = requester.ref
        _event(req, EventKind.RECEIVED, actor=actor, to_status=req.status, code=requester.channel)
        _event(req, EventKind.VERIFIED, actor=actor, code=requester.verification)
        record(AuditEvent.RIGHTS_REQUEST_RECEIVED, acting_user=requester.acting_user, actor=requester.actor or None,
               subject=f"u:{user.pk}", obj=req,
               details={"type": type_, "channel": requester.channel, "requester": requester.kind,
                        "verification": requester.verification, "params": sorted(clean), "fee_fen": req.fee_fen,
                        "due_at": req.due_at.isoformat()})
        if type_ == RequestType.TRANSFER and clean["mode"] == TransferMode.ENDPOINT:
            from lingjing.privacy.requests.transfer import clean_endpoint, new_handshake_token

            target = TransferTarget(request=req, user=user, mode=TransferMode.ENDPOINT,
                                    recipient_slug="", endpoint=clean_endpoint(transfer_endpoint or
                                                                               str((params or {}).get("endpoint"))))
            target.token = new_handshake_token()
            target.save(force_insert=True)
        elif type_ == RequestType.TRANSFER:
            TransferTarget.objects.create(request=req, user=user, mode=TransferMode.REGISTERED,
                                          recipient_slug=clean["recipient"])
        if type_ == RequestType.CANCEL_ACCOUNT:
            _start_cancellation(req, actor=actor, acting_user=requester.acting_user, keep=requester)
        elif req.fee_fen:
            _transition(req, RequestStatus.AWAITING_REQUESTER, actor="system", acting_user=None, code="awaiting_fee",
                        tell=False)
        notices.acknowledge(req)
        req.ack_sent_at = timezone.now()
        req.save(update_fields=["ack_sent_at"])
        _event(req, EventKind.ACKNOWLEDGED, actor="system")
        record(AuditEvent.RIGHTS_REQUEST_ACKNOWLEDGED, actor="system", subject=f"u:{user.pk}", obj=req,
               details={"type": type_})
    return req


def _start_cancellation(req: RightsRequest, *, actor: str, acting_user: Any, keep: Requester) -> None:
    """Inside the request's transaction: lock the account for the undo window (``LINGJING_DELETION_GRACE_DAYS``).

    The account goes ``closing`` (it can sign in only to undo; its works are hidden), every other browser session
    and API token is signed out (the one that asked keeps a way to undo). Grace 0: the erasure starts at once.
    """
    from lingjing.accounts.models import User, UserStatus

    now = timezone.now()
    req.grace_until = now + dt.timedelta(days=settings.LINGJING_DELETION_GRACE_DAYS)
    req.due_at = deadlines.due_for(req.received_at, grace_until=req.grace_until)
    req.save(update_fields=["grace_until", "due_at"])
    assert req.user_id is not None
    User.objects.filter(pk=req.user_id).update(status=UserStatus.CLOSING)
    _transition(req, RequestStatus.IN_PROGRESS, actor=actor, acting_user=acting_user, code="grace_period", tell=False)
    revoked = revoke_access_in_transaction(req.user_id, keep_session_key=keep.keep_session_key,
                                           keep_token_id=keep.keep_token_id)
    record(AuditEvent.RIGHTS_CANCELLATION_STARTED, acting_user=acting_user, actor=actor or None,
           subject=_subject(req), obj=req,
           details={"grace_until": req.grace_until.isoformat(), "works": req.params.get("works"), **revoked})
    notices.cancellation_scheduled(req)


def revoke_access_in_transaction(
    user_id: Any, *, keep_session_key: str = "", keep_token_id: Any = None
) -> dict[str, int]:
    """Sign the person out everywhere (browser sessions and API tokens), except the ones named. Joins the caller's
    transaction; the caller audits."""
    import hashlib

    from django.contrib.sessions.models import Session

    from lingjing.accounts.models import ApiToken, UserSession

    now = timezone.now()
    keep_hash = hashlib.sha256(keep_session_key.encode()).hexdigest() if keep_session_key else ""
    sessions = 0
    for web in UserSession.objects.filter(user_id=user_id, revoked_at__isnull=True).exclude(key_hash=keep_hash):
        key = web.session_key
        if key:
            Session.objects.filter(session_key=key).delete()
        UserSession.objects.filter(pk=web.pk).update(revoked_at=now)
        sessions += 1
    tokens = ApiToken.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if keep_token_id is not None:
        tokens = tokens.exclude(pk=keep_token_id)
    revoked_tokens = tokens.update(revoked_at=now)
    return {"sessions_revoked": sessions, "tokens_revoked": revoked_tokens}


def do_revoke_all_access(user_id: Any, *, request_id: Any, acting_user: Any = None) -> dict[str, int]:
    """The erasure saga's first step: no session or token of the person survives."""
    with transaction.atomic(durable=True):
        counts = revoke_access_in_transaction(user_id)
        record(AuditEvent.RIGHTS_SESSIONS_REVOKED, acting_user=acting_user, subject=f"u:{user_id}",
               details={"request": str(request_id), **counts})
    return counts


# --- lifecycle by staff and requesters --------------------------------------------------------------------------


def _require_staff(user: Any, perm: str = "privacy.change_rightsrequest") -> None:
    if not (getattr(user, "is_authenticated", False) and user.is_staff and user.has_perm(perm)):
        raise PermissionDenied("没有处理个人信息权利请求的权限")


def _not_own(req: RightsRequest, staff: Any) -> None:
    if req.user_id is not None and staff.pk == req.user_id:
        raise PermissionDenied("不能处理关于自己的请求")


def do_assign_request(req: RightsRequest, *, assignee: Any, acting_user: Any) -> RightsRequest:
    _require_staff(acting_user)
    _require_staff(assignee)
    _not_own(req, assignee)
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.status in CLOSED_STATUSES:
            raise InvalidTransition("该请求已结束")
        locked.assigned_to = assignee
        locked.updated_at = timezone.now()
        locked.save(update_fields=["assigned_to", "updated_at"])
        _event(locked, EventKind.ASSIGNED, actor=actor_ref(acting_user), code=f"u:{assignee.pk}"[:40])
        record(AuditEvent.RIGHTS_REQUEST_ASSIGNED, acting_user=acting_user, subject=_subject(locked), obj=locked,
               details={"assignee": f"u:{assignee.pk}"})
        if locked.status == RequestStatus.RECEIVED:
            _transition(locked, RequestStatus.IN_PROGRESS, actor=actor_ref(acting_user), acting_user=acting_user,
                        code="assigned", tell=False)
    return locked


def do_add_note(req: RightsRequest, *, note: str, acting_user: Any) -> None:
    _require_staff(acting_user)
    text = note.strip()
    if not text:
        raise ValidationError("备注不能为空")
    with transaction.atomic(durable=True):
        locked = _locked(req)
        _event(locked, EventKind.NOTE, actor=actor_ref(acting_user), note=text)
        record(AuditEvent.RIGHTS_REQUEST_NOTE_ADDED, acting_user=acting_user, subject=_subject(locked), obj=locked)


def do_set_request_type(req: RightsRequest, *, type_: str, acting_user: Any) -> RightsRequest:
    """Staff correct the type of a request that came through customer service (before work has started)."""
    _require_staff(acting_user)
    if type_ not in (RequestType.ACCESS, RequestType.CORRECTION, RequestType.EXPLANATION):
        raise ValidationError("这种请求须由请求人本人验证身份、作出选择后提交")
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.status != RequestStatus.RECEIVED:
            raise InvalidTransition("只有刚受理的请求可以更改类型")
        before = locked.type
        locked.type = type_
        locked.params = clean_params(type_, {}, details=locked.details or "x")
        locked.save(update_fields=["type", "params"])
        _event(locked, EventKind.NOTE, actor=actor_ref(acting_user), code=f"type:{before}>{type_}"[:40])
        record(AuditEvent.RIGHTS_REQUEST_STATUS_CHANGED, acting_user=acting_user, subject=_subject(locked),
               obj=locked, details={"type_from": before, "type": type_})
    return locked


def do_ask_requester(req: RightsRequest, *, note: str, acting_user: Any, code: str = "more_information") -> None:
    """Staff need more from the requester: the deadline pauses until they answer (or staff resume)."""
    _require_staff(acting_user)
    with transaction.atomic(durable=True):
        locked = _locked(req)
        _transition(locked, RequestStatus.AWAITING_REQUESTER, actor=actor_ref(acting_user), acting_user=acting_user,
                    code=code, note=note)


def do_resume_request(req: RightsRequest, *, acting_user: Any = None, actor: str = "", details: str = "") -> None:
    """The requester answered (or staff resume): the deadline runs again, extended by the working days waited."""
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.status != RequestStatus.AWAITING_REQUESTER:
            raise InvalidTransition("该请求没有在等待补充")
        if locked.fee_fen and locked.fee_paid_at is None:
            raise InvalidTransition("请先支付转移费用")
        if details.strip() and locked.user_id:
            previous = locked.details or ""
            locked.details = (previous + "\n\n" + details.strip()).strip()[:DETAILS_MAX]
            locked.save(update_fields=["details"])
        _transition(locked, RequestStatus.IN_PROGRESS, actor=_actor(acting_user, actor), acting_user=acting_user,
                    code="resumed", tell=False)


def do_record_fee_paid(req: RightsRequest, *, acting_user: Any) -> RightsRequest:
    """Staff record that the transfer fee was paid; the transfer then proceeds."""
    _require_staff(acting_user)
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.type != RequestType.TRANSFER or not locked.fee_fen or locked.fee_paid_at is not None:
            raise InvalidTransition("该请求没有待支付的费用")
        locked.fee_paid_at = timezone.now()
        locked.save(update_fields=["fee_paid_at"])
        _event(locked, EventKind.FEE, actor=actor_ref(acting_user), code="paid")
        record(AuditEvent.RIGHTS_FEE_RECORDED, acting_user=acting_user, subject=_subject(locked), obj=locked,
               details={"fee_fen": locked.fee_fen})
        _transition(locked, RequestStatus.IN_PROGRESS, actor=actor_ref(acting_user), acting_user=acting_user,
                    code="fee_paid", tell=False)
        request_id = str(locked.pk)
        transaction.on_commit(lambda: _enqueue("push_transfer", request_id))
    return locked


def do_refuse_request(req: RightsRequest, *, ground: str, reason: str, acting_user: Any) -> RightsRequest:
    """Refuse in writing, naming one of the policy's eight grounds and the reason (PIPL art. 50)."""
    _require_staff(acting_user)
    _not_own(req, acting_user)
    if ground not in RefusalGround.values:
        raise ValidationError({"ground": ["拒绝只能依据隐私政策第五部分第（八）项所列八种情形之一"]})
    text = reason.strip()
    if not text:
        raise ValidationError({"reason": ["请写明拒绝的理由：请求人会收到这份书面说明"]})
    if len(text) > REASON_MAX:
        raise ValidationError({"reason": [f"理由最多 {REASON_MAX} 字"]})
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.status in CLOSED_STATUSES:
            raise InvalidTransition("该请求已结束")
        if locked.type == RequestType.CANCEL_ACCOUNT:
            _release_closing_account(locked)
        now = timezone.now()
        locked.refusal_ground = ground
        locked.refusal_reason = text
        locked.decided_by = acting_user
        locked.decided_at = now
        locked.save(update_fields=["refusal_ground", "refusal_reason", "decided_by", "decided_at"])
        _transition(locked, RequestStatus.REFUSED, actor=actor_ref(acting_user), acting_user=acting_user,
                    code=ground, tell=False)
        record(AuditEvent.RIGHTS_REQUEST_REFUSED, acting_user=acting_user, subject=_subject(locked), obj=locked,
               details={"type": locked.type, "ground": ground})
        notices.refused(locked)
    return locked


def _release_closing_account(req: RightsRequest) -> None:
    from lingjing.accounts.models import User, UserStatus

    if req.user_id is not None:
        User.objects.filter(pk=req.user_id, status=UserStatus.CLOSING).update(status=UserStatus.ACTIVE)


def do_withdraw_request(req: RightsRequest, *, acting_user: Any = None, actor: str = "") -> RightsRequest:
    """The requester withdraws (``POST /privacy/requests/{id}/cancel``).

    * an open request ends ``withdrawn`` (a copy being built is discarded; a transfer not yet sent stops);
    * a cancellation in its undo window is undone: the account is active again;
    * a restriction in force is lifted (the request stays completed: it was carried out);
    * anything already carried out, or an erasure already running, cannot be undone.
    """
    from lingjing.privacy.requests.models import ErasureSaga

    who = _actor(acting_user, actor)
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.type == RequestType.RESTRICTION and locked.status == RequestStatus.COMPLETED:
            lifted = ProcessingRestriction.objects.filter(request=locked, lifted_at__isnull=True).update(
                lifted_at=timezone.now())
            if not lifted:
                raise InvalidTransition("该限制已经解除")
            _event(locked, EventKind.STEP, actor=who, code="restriction_lifted")
            record(AuditEvent.RIGHTS_RESTRICTION_LIFTED, acting_user=acting_user, actor=actor or None,
                   subject=_subject(locked), obj=locked, details={"purposes": locked.params.get("purposes", [])})
            return locked
        if locked.status in CLOSED_STATUSES:
            raise InvalidTransition("该请求已处理完毕，不能撤销")
        if locked.type == RequestType.CANCEL_ACCOUNT:
            if ErasureSaga.objects.filter(request_id=locked.pk).exists():
                raise InvalidTransition("冷静期已结束，注销正在执行，不能撤销")
            _release_closing_account(locked)
            hidden = [str(w) for w in locked.result.get("hidden_works", [])]
            transaction.on_commit(lambda: republish_works(hidden))
            record(AuditEvent.RIGHTS_CANCELLATION_UNDONE, acting_user=acting_user, actor=actor or None,
                   subject=_subject(locked), obj=locked)
        if locked.type == RequestType.TRANSFER and hasattr(locked, "transfer") and locked.transfer.status != "pending":
            raise InvalidTransition("转移已经进行，不能撤销")
        _transition(locked, RequestStatus.WITHDRAWN, actor=who, acting_user=acting_user, code="withdrawn")
        record(AuditEvent.RIGHTS_REQUEST_WITHDRAWN, acting_user=acting_user, actor=actor or None,
               subject=_subject(locked), obj=locked, details={"type": locked.type})
        name = locked.package_name
        if name:
            from lingjing.privacy.requests.package import delete_package

            transaction.on_commit(lambda: delete_package(name))
    return locked


def do_complete_request(req: RightsRequest, *, result: Mapping[str, Any] | None = None, acting_user: Any = None,
                        actor: str = "", code: str = "done") -> RightsRequest:
    with transaction.atomic(durable=True):
        locked = _locked(req)
        _complete_in_transaction(locked, result=result, acting_user=acting_user, actor=actor, code=code)
    return locked


def _complete_in_transaction(req: RightsRequest, *, result: Mapping[str, Any] | None, acting_user: Any,
                             actor: str = "", code: str = "done") -> None:
    if req.status == RequestStatus.COMPLETED:
        return
    if result:
        req.result = {**req.result, **dict(result)}
        req.save(update_fields=["result"])
    if acting_user is not None and getattr(acting_user, "is_staff", False):
        req.decided_by = acting_user
        req.decided_at = timezone.now()
        req.save(update_fields=["decided_by", "decided_at"])
    _transition(req, RequestStatus.COMPLETED, actor=_actor(acting_user, actor), acting_user=acting_user, code=code)


def do_flag_overdue(req: RightsRequest, *, now: dt.datetime | None = None) -> bool:
    """Flag one open request past its deadline (once) and alert the privacy officers."""
    at = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if (locked.status not in (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS) or locked.due_at >= at
                or locked.overdue_flagged_at is not None):
            return False
        locked.overdue_flagged_at = at
        locked.save(update_fields=["overdue_flagged_at"])
        _event(locked, EventKind.OVERDUE, actor="system")
        told = notices.alert_officers(locked, "privacy.request_overdue")
        record(AuditEvent.RIGHTS_REQUEST_OVERDUE, actor="system", subject=_subject(locked), obj=locked,
               details={"type": locked.type, "due_at": locked.due_at.isoformat(), "officers": told})
    return True


# --- fulfilment actions -------------------------------------------------------------------------------------


def do_record_access(req: RightsRequest, *, records: int, categories: list[str], acting_user: Any = None,
                     actor: str = "") -> RightsRequest:
    """The person (or their guardian or relative) was shown every datum held: audit the disclosure, complete."""
    with transaction.atomic(durable=True):
        locked = _locked(req)
        record(AuditEvent.PERSON_EXPORTED, acting_user=acting_user, actor=actor or None, subject=_subject(locked),
               obj=locked, details={"request": str(locked.pk), "records": records, "categories": categories,
                                    "requester": locked.requester_kind})
        _complete_in_transaction(locked, result={"records": records, "categories": categories},
                                 acting_user=acting_user, actor=actor, code="shown")
    return locked


def do_record_my_data_view(user: Any, *, records: int, channel: str, acting_user: Any) -> None:
    """``/privacy/my-data`` (page or API) disclosed the person's data to themselves: audited, no request row."""
    with transaction.atomic(durable=True):
        record(AuditEvent.PERSON_EXPORTED, acting_user=acting_user, subject=f"u:{user.pk}",
               details={"channel": channel, "records": records})


def do_apply_restriction(req: RightsRequest, *, acting_user: Any = None, actor: str = "") -> RightsRequest:
    """Restriction takes effect at once: one active row per purpose, read by ``is_restricted`` on every check."""
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.status in CLOSED_STATUSES:
            return locked
        purposes = list(locked.params.get("purposes", []))
        user_id = locked.user_id
        assert user_id is not None
        for purpose in purposes:
            if not ProcessingRestriction.objects.filter(user_id=user_id, purpose=purpose,
                                                        lifted_at__isnull=True).exists():
                ProcessingRestriction.objects.create(user_id=user_id, purpose=purpose, request=locked)
        record(AuditEvent.RIGHTS_RESTRICTION_SET, acting_user=acting_user, actor=actor or None,
               subject=_subject(locked), obj=locked, details={"purposes": purposes})
        _complete_in_transaction(locked, result={"purposes": purposes}, acting_user=acting_user, actor=actor,
                                 code="restricted")
    return locked


def do_apply_correction(req: RightsRequest, *, items: Iterable[Mapping[str, str]], acting_user: Any,
                        complete: bool = True) -> RightsRequest:
    """Staff (or the self-service path) set the corrected values, each on the person's own row, audited field by
    field without the values; then the request completes."""
    from lingjing.privacy.requests import scoped

    if acting_user is not None and getattr(acting_user, "is_staff", False) and acting_user.pk != req.user_id:
        _require_staff(acting_user)
    values = list(items)
    if not values:
        raise ValidationError("没有要更正的内容")
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.status in CLOSED_STATUSES:
            raise InvalidTransition("该请求已结束")
        user = locked.user
        for item in values:
            scoped.apply_correction(user, item["model"], item["field"], item["object_id"], item["value"])
            record(AuditEvent.RIGHTS_DATA_CORRECTED, acting_user=acting_user, subject=_subject(locked), obj=locked,
                   details={"model": item["model"], "field": item["field"], "object": item["object_id"]})
        fields = [f"{i['model']}.{i['field']}" for i in values]
        if complete:
            _complete_in_transaction(locked, result={"corrected": fields}, acting_user=acting_user, code="corrected")
    return locked


def do_grant_deletion(req: RightsRequest, *, acting_user: Any) -> RightsRequest:
    """Staff accept a deletion request on its ground: the deletion runs now (``requests.tasks.erase_scope``)."""
    _require_staff(acting_user)
    _not_own(req, acting_user)
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.type != RequestType.DELETION or locked.status in CLOSED_STATUSES:
            raise InvalidTransition("该请求不能执行删除")
        locked.decided_by = acting_user
        locked.decided_at = timezone.now()
        locked.save(update_fields=["decided_by", "decided_at"])
        _transition(locked, RequestStatus.IN_PROGRESS, actor=actor_ref(acting_user), acting_user=acting_user,
                    code="deletion_granted", tell=False)
        request_id = str(locked.pk)
        transaction.on_commit(lambda: _enqueue("erase_scope", request_id))
    return locked


def do_finish_scoped_deletion(req: RightsRequest, *, report: Mapping[str, Any], propagations: int) -> RightsRequest:
    return do_complete_request(req, result={"deletion": dict(report), "recipients_notified": propagations},
                               code="deleted")


def do_record_package(req: RightsRequest, *, name: str, size: int, sha256: str, summary: Mapping[str, Any]) -> bool:
    """A copy package was built: keep its name and digest, start the 7-day link, tell the requester. False when the
    request was withdrawn meanwhile (the caller deletes the file)."""
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if locked.status != RequestStatus.IN_PROGRESS:
            return False
        locked.package_name = name
        locked.package_size = size
        locked.package_sha256 = sha256
        locked.package_expires_at = timezone.now() + dt.timedelta(days=settings.LINGJING_COPY_LINK_DAYS)
        locked.save(update_fields=["package_name", "package_size", "package_sha256", "package_expires_at"])
        record(AuditEvent.RIGHTS_COPY_BUILT, actor="system", subject=_subject(locked), obj=locked,
               details={"bytes": size, "sha256": sha256, **{k: v for k, v in summary.items() if k != "per_category"}})
        if locked.type == RequestType.COPY:
            _complete_in_transaction(locked, result=dict(summary), acting_user=None, actor="system", code="copy_ready")
            notices.copy_ready(locked)
    return True


def do_record_download(req: RightsRequest, *, acting_user: Any = None, actor: str = "") -> None:
    with transaction.atomic(durable=True):
        record(AuditEvent.RIGHTS_COPY_DOWNLOADED, acting_user=acting_user, actor=actor or None, subject=_subject(req),
               obj=req, details={"sha256": req.package_sha256})


def do_expire_package(req: RightsRequest) -> bool:
    """The copy's 7 days are over: the file goes (after commit), the record says so."""
    with transaction.atomic(durable=True):
        locked = _locked(req)
        if not locked.package_name or locked.package_deleted_at is not None:
            return False
        name = locked.package_name
        locked.package_deleted_at = timezone.now()
        locked.save(update_fields=["package_deleted_at"])
        _event(locked, EventKind.STEP, actor="system", code="package_deleted")
        record(AuditEvent.RIGHTS_COPY_EXPIRED, actor="system", subject=_subject(locked), obj=locked)
        from lingjing.privacy.requests.package import delete_package

        transaction.on_commit(lambda: delete_package(name))
    return True


def do_clear_requester_traces(user_id: Any, *, request_id: Any) -> int:
    """Erasure saga: the person's own request records keep no lookup key nor package (they stay as proof)."""
    with transaction.atomic(durable=True):
        rows = RightsRequest.objects.filter(user_id=user_id).filter(~Q(requester_phone_index="") | ~Q(package_name=""))
        names = [n for n in rows.values_list("package_name", flat=True) if n]
        count = rows.update(requester_phone_index="", package_name="", package_deleted_at=timezone.now())
        record(AuditEvent.RIGHTS_SAGA_STEP, actor="system", subject=f"u:{user_id}",
               details={"request": str(request_id), "step": "request_records", "rows": count})
        from lingjing.privacy.requests.package import delete_package

        def remove() -> None:
            for name in names:
                delete_package(name)

        transaction.on_commit(remove)
    return count


def do_record_transfer_outcome(req: RightsRequest, *, delivered: bool, error: str = "", bytes_sent: int = 0,
                               sharing_record_id: str = "", conditions: Mapping[str, Any] | None = None) -> None:
    with transaction.atomic(durable=True):
        locked = _locked(req)
        target = TransferTarget.objects.select_for_update().get(request=locked)
        target.attempts += 1
        target.last_error = error[:80]
        fields = ["attempts", "last_error"]
        if delivered:
            target.status = "delivered"
            target.delivered_at = timezone.now()
            target.bytes_sent = bytes_sent
            target.sharing_record_id = sharing_record_id[:40]
            fields += ["status", "delivered_at", "bytes_sent", "sharing_record_id"]
        target.save(update_fields=fields)
        if delivered:
            record(AuditEvent.RIGHTS_TRANSFER_DELIVERED, actor="system", subject=_subject(locked), obj=locked,
                   details={"recipient": target.recipient_slug, "mode": target.mode, "bytes": bytes_sent,
                            "sharing_record": sharing_record_id})
            _complete_in_transaction(locked, result={"delivered": True, "bytes": bytes_sent,
                                                     "conditions": dict(conditions or {})},
                                     acting_user=None, actor="system", code="transferred")
        else:
            record(AuditEvent.RIGHTS_TRANSFER_FAILED, actor="system", subject=_subject(locked), obj=locked,
                   details={"recipient": target.recipient_slug, "mode": target.mode, "error": error[:80]})
            if locked.status == RequestStatus.IN_PROGRESS:
                # Waiting for the requester to fix the endpoint (or withdraw): the deadline pauses.
                locked.result = {**locked.result, "conditions": dict(conditions or {})}
                locked.save(update_fields=["result"])
                _transition(locked, RequestStatus.AWAITING_REQUESTER, actor="system", acting_user=None,
                            code=error[:40] or "transfer_failed")


def do_save_endpoint(slug: str, url: str, *, active: bool = True, acting_user: Any) -> PortabilityEndpoint:
    """Staff register (or change) a recipient's transfer endpoint. The recipient must be in the sharing registry,
    registered for the ``rights`` purpose, and the URL must be HTTPS."""
    from lingjing.privacy.requests.transfer import clean_endpoint
    from lingjing.sharing.models import Recipient

    _require_staff(acting_user)
    recipient = Recipient.objects.filter(slug=slug, active=True).first()
    if recipient is None:
        raise ValidationError("接收方未在对外提供登记表中登记或已停用")
    if "rights" not in recipient.purposes:
        raise ValidationError("接收方须登记“响应个人信息权利请求”这一处理目的，才能接收个人信息转移")
    clean = clean_endpoint(url)
    with transaction.atomic(durable=True):
        row, _created = PortabilityEndpoint.objects.update_or_create(
            recipient_slug=slug, defaults={"url": clean, "active": active, "updated_at": timezone.now()})
        record(AuditEvent.RIGHTS_ENDPOINT_SAVED, acting_user=acting_user, obj=row,
               details={"recipient": slug, "active": active})
    return row


# --- proxies: guardians and close relatives -----------------------------------------------------------------


def new_proxy_subject() -> str:
    return f"v:{uuid.uuid4()}"


def do_register_guardian_proxy(*, guardian_phone: str, child: Any) -> RequestProxy:
    """The guardian proven on the guardian page acts for ``child``: one proxy row per guardian and child."""
    index = blind_index(guardian_phone)
    existing = RequestProxy.objects.filter(kind=ProxyKind.GUARDIAN, phone_index=index, for_user=child).first()
    if existing is not None:
        return existing
    from lingjing.accounts.actions import phone_ref

    with transaction.atomic(durable=True):
        proxy = RequestProxy(subject_ref=new_proxy_subject(), kind=ProxyKind.GUARDIAN, phone_index=index,
                             relationship=Relationship.GUARDIAN, for_user=child, status=ProxyStatus.VERIFIED,
                             decided_at=timezone.now())
        proxy.phone = guardian_phone
        proxy.save(force_insert=True)
        record(AuditEvent.RIGHTS_PROXY_SUBMITTED, actor="guardian:" + phone_ref(guardian_phone),
               subject=f"u:{child.pk}", obj=proxy, details={"kind": "guardian"})
    return proxy


def do_submit_relative_application(
    *, name: str, phone: str, relationship: str, deceased_phone: str, wanted: list[str], details: str,
    proof_files: list[str],
) -> RequestProxy:
    """A close relative of a deceased user applies (PIPL art. 49), their own phone already proven by an SMS code.

    Nothing about the account is revealed now: staff check the proof first (:func:`do_decide_relative`)."""
    if relationship not in Relationship.values or relationship == Relationship.GUARDIAN:
        raise ValidationError({"relationship": ["请选择与已故用户的关系"]})
    types = [t for t in wanted if t in RELATIVE_TYPES]
    if not types:
        raise ValidationError({"wanted": ["请选择要行使的权利（查阅、复制、更正、删除）"]})
    if not name.strip():
        raise ValidationError({"name": ["请填写您的姓名"]})
    if not proof_files:
        raise ValidationError({"proof": ["请上传死亡证明和亲属关系证明"]})
    with transaction.atomic(durable=True):
        proxy = RequestProxy(subject_ref=new_proxy_subject(), kind=ProxyKind.RELATIVE, phone_index=blind_index(phone),
                             relationship=relationship, wanted_types=types, proof_files=list(proof_files))
        proxy.name = name.strip()[:100]
        proxy.phone = phone
        proxy.deceased_phone = deceased_phone
        if details.strip():
            proxy.details = details.strip()[:DETAILS_MAX]
        proxy.save(force_insert=True)
        record(AuditEvent.RIGHTS_PROXY_SUBMITTED, actor=f"relative:{proxy.subject_ref}", subject=proxy.subject_ref,
               obj=proxy, details={"kind": "relative", "types": types, "files": len(proof_files)})
        transaction.on_commit(lambda: _alert_new_application(str(proxy.pk)))
    return proxy


def _alert_new_application(proxy_id: str) -> None:
    from lingjing.notify.service import notify

    for officer in notices.privacy_officers():
        with transaction.atomic():
            notify(officer, "service", "privacy.staff_attention", {
                "request_ref": "P-" + proxy_id.replace("-", "")[:8].upper(),
                "url": f"/privacy/requests/staff/proxies/{proxy_id}/",
                "what": "近亲属代为行使权利的申请待核验", "what_en": "A close relative's application to verify",
            })


def do_decide_relative(
    proxy: RequestProxy, *, verify: bool, reason: str, deceased: Any = None, no_contrary_arrangement: bool = False,
    acting_user: Any,
) -> list[RightsRequest]:
    """Staff decide a relative's application after checking the proof.

    Verified: the account is identified, the deceased made no contrary arrangement, and one request per wanted
    type is created for it, received when the application was (the deadline counts from then). Rejected: the
    relative gets the written reason. Answers the requests created.
    """
    _require_staff(acting_user)
    text = reason.strip()
    if not text:
        raise ValidationError({"reason": ["请写明核验结论和理由"]})
    if verify and deceased is None:
        raise ValidationError({"deceased": ["请找到已故用户的账号"]})
    if verify and not no_contrary_arrangement:
        raise ValidationError({"arrangement": ["请确认已故用户生前没有另作安排（《个人信息保护法》第四十九条）"]})
    created: list[RightsRequest] = []
    with transaction.atomic(durable=True):
        locked = RequestProxy.objects.select_for_update().get(pk=proxy.pk)
        if locked.status != ProxyStatus.SUBMITTED:
            raise InvalidTransition("该申请已处理")
        locked.status = ProxyStatus.VERIFIED if verify else ProxyStatus.REJECTED
        locked.decided_by = acting_user
        locked.decided_at = timezone.now()
        locked.decision_reason = text[:REASON_MAX]
        locked.no_contrary_arrangement = no_contrary_arrangement
        locked.for_user = deceased if verify else None
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason",
                                   "no_contrary_arrangement", "for_user"])
        record(AuditEvent.RIGHTS_PROXY_DECIDED, acting_user=acting_user, subject=locked.subject_ref, obj=locked,
               details={"verified": verify, "for": f"u:{deceased.pk}" if verify else ""})
    if not verify:
        with transaction.atomic(durable=True):
            from lingjing.notify.service import notify_contact

            notify_contact(locked.subject_ref, phone=locked.phone or "", category="account",
                           template="privacy.request_refused", context={
                               "request_ref": "P-" + locked.pk.hex[:8].upper(), "request_type": "代为行使权利",
                               "request_type_en": "acting for a deceased relative",
                               "ground": "近亲属身份或死亡事实未能核实",
                               "ground_en": "The relationship or the death could not be verified",
                               "reason": text, "url": "/privacy/requests/verify"})
        return created
    requester = Requester(kind=RequesterKind.RELATIVE, channel=Channel.RELATIVE, verification="staff",
                          actor=f"relative:{locked.subject_ref}", phone_index=locked.phone_index, proxy=locked)
    for type_ in locked.wanted_types:
        try:
            req = do_create_request(deceased, type_, requester=requester, details=locked.details or "",
                                    received_at=locked.created_at)
        except DuplicateRequest as exc:
            req = exc.existing
        created.append(req)
        start_fulfilment(req)
    return created


# --- the customer-service hand-over -------------------------------------------------------------------------


def do_create_request_from_ticket(ticket: Any, *, request_type: str, acting_user: Any) -> RightsRequest:
    """A privacy-request ticket becomes a rights request (``lingjing.support.convert``).

    The ticket's person is ``u:<uuid>`` (signed in when they wrote) or ``v:<uuid>`` (a visitor): a visitor must
    prove the account's phone on the web form first, so a visitor's ticket cannot create a request here. Types
    that need fresh verification cannot be taken over from a ticket either: the person is asked to file them.
    An empty type becomes ``access`` for staff to correct (``do_set_request_type``)."""
    from django.contrib.auth import get_user_model

    user_id = ticket.subject_ref[2:] if str(ticket.subject_ref).startswith("u:") else None
    if user_id is None:
        raise ValidationError("访客工单须由请求人在“网页表单”中验证账号手机号后提交请求")
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise ValidationError("工单对应的账号不存在")
    type_ = request_type or RequestType.ACCESS
    if type_ in NEEDS_FRESH_VERIFICATION:
        raise ValidationError("复制、转移和注销须由本人验证身份后提交，请引导用户在隐私中心提交")
    if type_ == RequestType.DELETION:
        raise ValidationError("删除请求须由本人选择删除理由后提交，请引导用户在隐私中心提交")
    requester = Requester(channel=Channel.SUPPORT, verification="session", acting_user=acting_user,
                          actor="" if acting_user is not None else f"u:{user.pk}")
    received = getattr(ticket, "created_at", None)
    params: dict[str, Any] = {}
    details = "（由客服工单转交）"
    if type_ == RequestType.RESTRICTION:
        params = {"purposes": [EVERYTHING]}
    elif type_ == RequestType.WITHDRAW_CONSENT:
        from lingjing.consent.models import ConsentState

        params = {"purposes": list(ConsentState.objects.filter(user=user, granted=True, purpose__active=True)
                                   .values_list("purpose__key", flat=True))}
    try:
        req = do_create_request(user, type_, requester=requester, params=params, details=details,
                                received_at=received, support_ticket_ref=str(ticket.pk))
    except DuplicateRequest as exc:
        return exc.existing
    if type_ in (RequestType.CORRECTION,):
        return req  # staff resolve it
    return start_fulfilment(req)


# --- putting it together ------------------------------------------------------------------------------------


def _enqueue(name: str, request_id: str) -> None:
    from lingjing.privacy.requests import tasks

    getattr(tasks, name).enqueue(request_id)


def start_fulfilment(req: RightsRequest, *, acting_user: Any = None, actor: str = "") -> RightsRequest:
    """Carry out what can be carried out at once, and hand the rest to a task or to staff. Outside any
    transaction. Safe to call again: each step checks the request's state first."""
    from lingjing.privacy.requests import explain

    req = RightsRequest.objects.select_related("user", "proxy").get(pk=req.pk)
    if req.status in CLOSED_STATUSES or req.status == RequestStatus.AWAITING_REQUESTER:
        return req
    if req.type == RequestType.RESTRICTION:
        return do_apply_restriction(req, acting_user=acting_user, actor=actor)
    if req.type == RequestType.WITHDRAW_CONSENT:
        from lingjing.consent.actions import do_set_consents

        purposes = list(req.params.get("purposes", []))
        receipt = do_set_consents(req.user, dict.fromkeys(purposes, False), method="settings",
                                  acting_user=acting_user if acting_user is not None else req.user)
        return do_complete_request(req, result={"purposes": purposes, "receipt": str(receipt.pk) if receipt else ""},
                                   acting_user=acting_user, actor=actor, code="withdrawn_consent")
    if req.type == RequestType.EXPLANATION:
        summary = explain.summary(req.user, decision_id=req.params.get("decision_id"))
        return do_complete_request(req, result=summary, acting_user=acting_user, actor=actor, code="explained")
    if req.type == RequestType.CORRECTION:
        return _self_service_correction(req, acting_user=acting_user)
    if req.type in (RequestType.COPY, RequestType.TRANSFER):
        with transaction.atomic(durable=True):
            locked = _locked(req)
            if locked.status == RequestStatus.RECEIVED:
                _transition(locked, RequestStatus.IN_PROGRESS, actor="system", acting_user=None, code="building",
                            tell=False)
        _enqueue("build_copy" if req.type == RequestType.COPY else "push_transfer", str(req.pk))
        return RightsRequest.objects.get(pk=req.pk)
    if req.type == RequestType.CANCEL_ACCOUNT:
        if settings.LINGJING_DELETION_GRACE_DAYS == 0:
            _enqueue("run_saga", str(req.pk))
        else:
            hide_works(req)
        return RightsRequest.objects.get(pk=req.pk)
    # access is completed by the page or API that shows the data; deletion waits for staff to assess the ground
    if req.type == RequestType.DELETION:
        notices_alert_new(req)
    return req


def notices_alert_new(req: RightsRequest) -> None:
    with transaction.atomic(durable=True):
        notices.alert_officers(req, "privacy.staff_attention", what="删除请求待评估理由",
                               what_en="A deletion request to assess")


def _self_service_correction(req: RightsRequest, *, acting_user: Any) -> RightsRequest:
    """Corrections the person can make themselves are applied at once; the rest go to staff."""
    items = correction_items(req)
    if not items:
        notices_alert_new_correction(req)
        return req
    from lingjing.privacy.requests.scoped import SELF_SERVICE

    if any(f"{i['model']}.{i['field']}" in SELF_SERVICE for i in items):
        return req  # shown the self-service page; nothing applied on their behalf
    try:
        return do_apply_correction(req, items=items, acting_user=acting_user)
    except ValidationError:
        notices_alert_new_correction(req)
        return RightsRequest.objects.get(pk=req.pk)


def notices_alert_new_correction(req: RightsRequest) -> None:
    with transaction.atomic(durable=True):
        notices.alert_officers(req, "privacy.staff_attention", what="更正请求待核实",
                               what_en="A correction request to verify")


def correction_items(req: RightsRequest) -> list[dict[str, str]]:
    """The structured corrections with their new values (kept sealed in ``details`` as JSON)."""
    raw = req.details or ""
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    return [
        {"model": str(i["model"]), "field": str(i["field"]), "object_id": str(i["object_id"]), "value": str(i["value"])}
        for i in items
        if isinstance(i, dict) and {"model", "field", "object_id", "value"} <= set(i)
    ]


def correction_details(items: list[dict[str, str]], text: str) -> str:
    """What a correction request keeps sealed: the structured items with their values, and the person's words."""
    return json.dumps({"items": items, "text": text.strip()}, ensure_ascii=False)


def submit_request(
    user: Any, type_: str, *, requester: Requester, params: Mapping[str, Any] | None = None, details: str = "",
    deletion_ground: str = "", transfer_endpoint: str = "",
) -> RightsRequest:
    """Receive a request and carry out at once what can be (restriction, consent withdrawal, explanation, a
    self-service correction), or start the task (copy, transfer) or the undo window (cancellation)."""
    req = do_create_request(user, type_, requester=requester, params=params, details=details,
                            deletion_ground=deletion_ground, transfer_endpoint=transfer_endpoint)
    return start_fulfilment(req, acting_user=requester.acting_user, actor=requester.actor)


def claim_request_work(request_id: Any, *, kind: str, stale_after: dt.timedelta = dt.timedelta(hours=1)) -> bool:
    """A worker claims a request's background work (``kind``: packing, pushing, erasing) with one conditional
    UPDATE, so two workers never do it at once; a claim older than ``stale_after`` (a dead worker) can be taken
    over, and so can a claim taken by an earlier run of the same task (``core.leases.holds_claim``). Bookkeeping
    without personal data, like a task queue's own row."""
    from lingjing.core.leases import holds_claim, note_claim

    now = timezone.now()
    key = f"rights:{request_id}:{kind}"
    free = Q(status_reason__in=["building", "resumed", "fee_paid", "deletion_granted", ""]) | Q(
        status_reason=kind, updated_at__lt=now - stale_after)
    with transaction.atomic():
        claimed = RightsRequest.objects.filter(free, pk=request_id, status=RequestStatus.IN_PROGRESS)
        if not claimed.update(status_reason=kind, updated_at=now):
            # The same task run again after its worker died (core/leases.py) takes over its own claim.
            if not holds_claim(key):
                return False
            mine = RightsRequest.objects.filter(pk=request_id, status=RequestStatus.IN_PROGRESS, status_reason=kind)
            if not mine.update(updated_at=now):
                return False
        note_claim(key)
    return True


def do_retry_transfer(req: RightsRequest, *, acting_user: Any = None, actor: str = "") -> None:
    """The requester made their endpoint answer (or it was down): try the transfer again."""
    if req.type != RequestType.TRANSFER:
        raise InvalidTransition("只有转移请求可以重试")
    do_resume_request(req, acting_user=acting_user, actor=actor)
    _enqueue("push_transfer", str(req.pk))


def do_record_staff_view(obj: RightsRequest | RequestProxy, *, acting_user: Any, what: str = "request") -> None:
    """A staff member opened a request's sealed text or a relative's proof: audited (who, which, what)."""
    subject = _subject(obj) if isinstance(obj, RightsRequest) else obj.subject_ref
    with transaction.atomic(durable=True):
        record(AuditEvent.RIGHTS_REQUEST_VIEWED, acting_user=acting_user, subject=subject, obj=obj,
               details={"what": what[:40]})


def hide_works(req: RightsRequest) -> list[str]:
    """Cancellation window: the person's published works leave public view (and the search index) through the
    publishing actions; their ids are kept on the request so an undo puts them back."""
    from lingjing.works.models import Work, WorkStatus
    from lingjing.works.publishing import do_unpublish_work

    hidden = [str(i) for i in req.result.get("hidden_works", [])]
    for work in Work.objects.filter(author_id=req.user_id, status=WorkStatus.PUBLISHED).order_by("pk"):
        do_unpublish_work(work, acting_user=None, reason="account_closing")
        hidden.append(str(work.pk))
    with transaction.atomic(durable=True):
        locked = _locked(req)
        locked.result = {**locked.result, "hidden_works": sorted(set(hidden))}
        locked.save(update_fields=["result"])
        _event(locked, EventKind.STEP, actor="system", code=f"works_hidden:{len(hidden)}")
    return hidden


def republish_works(work_ids: list[str]) -> int:
    """Undo of a cancellation: the works hidden for the window are public again (they were screened before)."""
    from lingjing.works.models import Work, WorkStatus
    from lingjing.works.publishing import do_publish_work

    count = 0
    for work in Work.objects.filter(pk__in=work_ids, status=WorkStatus.UNPUBLISHED).select_related("author"):
        try:
            do_publish_work(work, acting_user=None, screen=False)
            count += 1
        except (PermissionDenied, ValidationError):
            continue  # the author cannot publish any more (e.g. another restriction): it stays private
    return count
