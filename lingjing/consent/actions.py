"""Every write of the consent app: consents, receipts, purposes and notices, policy versions and notices.

Each ``do_*`` runs in ``transaction.atomic(durable=True)`` and writes its audit row in that transaction;
messages and tasks are scheduled with ``on_commit``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from lingjing.consent.models import (
    ConsentReceipt,
    ConsentRecord,
    ConsentState,
    Method,
    PolicyAcceptance,
    PolicyNotice,
    PolicyVersion,
    Purpose,
    PurposeKind,
    PurposeNotice,
)
from lingjing.security.audit import AuditEvent, record

USER_AGENT_MAX = 300


class ConsentError(ValueError):
    """A consent change that cannot be made (unknown purpose, bad method)."""


def truncate_ip(raw: str | None) -> str:
    """IPv4 to its /24, IPv6 to its /48 (the network, never the host)."""
    if not raw:
        return ""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _request_facts(request: HttpRequest | None) -> tuple[str, str]:
    if request is None:
        return "", ""
    agent = request.headers.get("User-Agent", "")[:USER_AGENT_MAX]
    return agent, truncate_ip(request.META.get("REMOTE_ADDR"))


def _policy_number() -> int | None:
    from lingjing.consent.policy import current_policy_version

    version = current_policy_version()
    return version.number if version else None


def _controller() -> dict[str, str]:
    c = settings.LINGJING_CONTROLLER
    return {"name": c["name"], "name_en": c.get("name_en", ""), "email": c["email"]}


def set_consents_in_transaction(
    user: Any,
    choices: Mapping[str, bool],
    *,
    method: str,
    request: HttpRequest | None = None,
    acting_user: Any = None,
    only_changes: bool = True,
) -> ConsentReceipt | None:
    """The body of :func:`do_set_consents`, for callers already inside a transaction (e.g. registration).

    Writes one :class:`ConsentRecord` per changed purpose, updates :class:`ConsentState`, and issues one
    receipt for the whole change. Returns None when nothing changed.
    """
    if method not in Method.values:
        raise ConsentError(f"unknown consent method {method!r}")
    purposes = {p.key: p for p in Purpose.objects.filter(key__in=list(choices), active=True)}
    unknown = sorted(set(choices) - set(purposes))
    if unknown:
        raise ConsentError(f"unknown consent purpose(s): {', '.join(unknown)}")
    states = {s.purpose_id: s for s in ConsentState.objects.select_for_update().filter(user=user,
                                                                                      purpose__in=purposes.values())}
    now = timezone.now()
    agent, ip_prefix = _request_facts(request)
    changes: list[tuple[Purpose, bool, int | None]] = []
    for key, granted in choices.items():
        purpose = purposes[key]
        state = states.get(purpose.pk)
        if only_changes and state is not None and state.granted == bool(granted):
            continue
        notice = purpose.current_notice()
        changes.append((purpose, bool(granted), notice.version if notice else None))
    if not changes:
        return None
    receipt = ConsentReceipt.objects.create(
        user=user, at=now, controller=_controller(), policy_version=_policy_number(), method=method,
        purposes=[{"purpose": p.key, "granted": g, "notice_version": v} for p, g, v in changes],
    )
    for purpose, granted, version in changes:
        rec = ConsentRecord(user=user, purpose=purpose, notice_version=version, granted=granted, method=method,
                            at=now, ip_prefix=ip_prefix, receipt=receipt)
        rec.user_agent = agent
        rec.save(force_insert=True)
        ConsentState.objects.update_or_create(
            user=user, purpose=purpose,
            defaults={"granted": granted, "method": method, "notice_version": version, "updated_at": now},
        )
        record(
            AuditEvent.CONSENT_GRANTED if granted else AuditEvent.CONSENT_WITHDRAWN,
            acting_user=acting_user, actor=None if acting_user is not None else f"u:{user.pk}",
            subject=f"u:{user.pk}", obj=rec,
            details={"purpose": purpose.key, "method": method, "notice_version": version,
                     "receipt": str(receipt.pk)},
        )
    _announce(user.pk, [(p.key, g) for p, g, _v in changes], method, receipt.pk)
    return receipt


def _announce(user_id: Any, changes: list[tuple[str, bool]], method: str, receipt_id: Any) -> None:
    from lingjing.consent.events import consent_changed

    def send() -> None:
        for key, granted in changes:
            consent_changed.send(sender=ConsentRecord, user_id=user_id, purpose=key, granted=granted, method=method,
                                 receipt_id=receipt_id)

    transaction.on_commit(send)


def do_set_consents(
    user: Any,
    choices: Mapping[str, bool],
    *,
    method: str,
    request: HttpRequest | None = None,
    acting_user: Any,
) -> ConsentReceipt | None:
    """Grant or withdraw several purposes at once (banner, settings page); one receipt for the change."""
    with transaction.atomic(durable=True):
        return set_consents_in_transaction(user, choices, method=method, request=request, acting_user=acting_user)


def do_set_consent(
    user: Any, purpose: str, granted: bool, *, method: str, request: HttpRequest | None = None, acting_user: Any
) -> ConsentReceipt:
    """Grant or withdraw one purpose. Always issues a receipt, even when the answer was already the same
    (the person asked for confirmation of their choice; the API contract returns a receipt id)."""
    with transaction.atomic(durable=True):
        receipt = set_consents_in_transaction(
            user, {purpose: granted}, method=method, request=request, acting_user=acting_user, only_changes=False
        )
    assert receipt is not None
    return receipt


def do_record_signal_refusal(user: Any, purposes: Iterable[str], *, method: str, request: HttpRequest | None,
                             acting_user: Any) -> ConsentReceipt | None:
    """DNT/GPC decided for purposes the person never answered: record the refusal with the signal as method.

    Only purposes without any stored answer are touched; an explicit earlier choice is never replaced.
    """
    with transaction.atomic(durable=True):
        answered = set(ConsentState.objects.filter(user=user).values_list("purpose__key", flat=True))
        todo = {key: False for key in purposes if key not in answered}
        if not todo:
            return None
        return set_consents_in_transaction(user, todo, method=method, request=request, acting_user=acting_user)


# --- the purpose catalogue --------------------------------------------------------------------------------


def do_add_purpose(
    key: str,
    *,
    kind: str,
    title_zh: str,
    title_en: str,
    text_zh: str,
    text_en: str,
    registry_purpose: str = "",
    cookie_category: str = "",
    honours_signals: bool = False,
    position: int = 100,
    acting_user: Any,
) -> Purpose:
    """Add a purpose that needs consent (e.g. a new third-party recipient or cross-border transfer).

    Adding the same key again with a different text publishes a new notice version instead.
    """
    if kind not in PurposeKind.values:
        raise ConsentError(f"unknown purpose kind {kind!r}")
    with transaction.atomic(durable=True):
        purpose, created = Purpose.objects.get_or_create(
            key=key,
            defaults={"kind": kind, "registry_purpose": registry_purpose, "cookie_category": cookie_category,
                      "honours_signals": honours_signals, "position": position},
        )
        if created:
            PurposeNotice.objects.create(purpose=purpose, version=1, title_zh=title_zh, title_en=title_en,
                                         text_zh=text_zh, text_en=text_en)
            record(AuditEvent.CONSENT_PURPOSE_ADDED, acting_user=acting_user, obj=purpose,
                   details={"key": key, "kind": kind})
        else:
            _new_notice(purpose, title_zh, title_en, text_zh, text_en, acting_user)
        return purpose


def _new_notice(purpose: Purpose, title_zh: str, title_en: str, text_zh: str, text_en: str, acting_user: Any) -> None:
    current = purpose.current_notice()
    if current is not None and (current.title_zh, current.title_en, current.text_zh, current.text_en) == (
        title_zh, title_en, text_zh, text_en
    ):
        return
    version = (current.version + 1) if current else 1
    PurposeNotice.objects.create(purpose=purpose, version=version, title_zh=title_zh, title_en=title_en,
                                 text_zh=text_zh, text_en=text_en)
    record(AuditEvent.CONSENT_NOTICE_CHANGED, acting_user=acting_user, obj=purpose,
           details={"key": purpose.key, "version": version})


def do_change_purpose_notice(
    purpose: Purpose, *, title_zh: str, title_en: str, text_zh: str, text_en: str, acting_user: Any
) -> None:
    """Publish a new notice version. Existing consents keep the version they were given for."""
    with transaction.atomic(durable=True):
        _new_notice(purpose, title_zh, title_en, text_zh, text_en, acting_user)


# --- policy versions --------------------------------------------------------------------------------------


def do_publish_policy_version(
    *, summary_zh: str, summary_en: str, material: bool, acting_user: Any, now: dt.datetime | None = None
) -> PolicyVersion:
    """Freeze the current rendering as the next version, in force after the notice period.

    1. Render zh and en from the templates and the registry, dated with the publication and effective dates.
    2. Store the version; it is in force from ``now + LINGJING_POLICY_NOTICE_DAYS``.
    3. For a material change, mark it for notification and enqueue the notification run on commit; every
       active person is told before the version takes effect.
    """
    from lingjing.consent.policy import current_policy_version, notice_days, render_policy

    if not summary_zh.strip():
        raise ConsentError("a change summary is required")
    current_policy_version()  # make sure version 1 exists, so a published change is never the first version
    now = now or timezone.now()
    effective = now + dt.timedelta(days=notice_days())
    with transaction.atomic(durable=True):
        last = PolicyVersion.objects.select_for_update().order_by("-number").first()
        number = (last.number + 1) if last else 1
        updated_on = timezone.localdate(now)
        effective_on = timezone.localdate(effective)
        version = PolicyVersion.objects.create(
            number=number, published_at=now, effective_at=effective, summary_zh=summary_zh.strip(),
            summary_en=summary_en.strip(), material=material,
            body_zh=render_policy("zh", updated=updated_on, effective=effective_on),
            body_en=render_policy("en", updated=updated_on, effective=effective_on),
            published_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            notify_state="pending" if material else "",
        )
        record(AuditEvent.POLICY_PUBLISHED, acting_user=acting_user, obj=version,
               details={"number": number, "material": material, "effective_at": effective.isoformat()})
        if material:
            from lingjing.consent.tasks import notify_policy_change

            version_id = version.pk
            transaction.on_commit(lambda: notify_policy_change.enqueue(version_id))
    return version


def do_accept_policy(user: Any, version: PolicyVersion, *, request: HttpRequest | None = None,
                     acting_user: Any) -> PolicyAcceptance:
    from lingjing.consent.policy import record_policy_acceptance

    with transaction.atomic(durable=True):
        record_policy_acceptance(user, request=request, method=Method.SIGN_IN, version=version)
        PolicyNotice.objects.filter(user=user, version=version, read_at__isnull=True).update(read_at=timezone.now())
        return PolicyAcceptance.objects.get(user=user, version=version)


def do_mark_notice_read(notice: PolicyNotice, *, acting_user: Any) -> None:
    with transaction.atomic(durable=True):
        if notice.read_at is None:
            PolicyNotice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=timezone.now())
