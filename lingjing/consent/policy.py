"""The privacy policy as code: rendering, versions, acceptance.

1. The text is rendered from the project's own templates (``consent/policy/body_<lang>.html``) plus the registry
   (:mod:`lingjing.consent.datamap`), the purpose catalogue and the cookie declaration; see :func:`render_policy`.
2. Publishing (:func:`lingjing.consent.actions.do_publish_policy_version`) freezes that rendering into a
   :class:`PolicyVersion`, so each version stays readable exactly as published; :func:`policy_drift` tells the
   privacy officer when the registry has moved on since the version in force.
3. A version takes effect ``LINGJING_POLICY_NOTICE_DAYS`` (7) days after publication (policy 八); the very first
   version takes effect at once, because there is nothing to give notice of.
4. The first version is created on first use (:func:`current_policy_version`), when every app's declarations are
   loaded, rather than in a migration that would freeze whatever the registry held at migration time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation

from lingjing.consent.models import Method, PolicyAcceptance, PolicyVersion
from lingjing.core.memo import ProcessMemo

LANGS = ("zh", "en")


def notice_days() -> int:
    return int(getattr(settings, "LINGJING_POLICY_NOTICE_DAYS", 7))


def render_policy(lang: str = "zh", *, updated: dt.date | None = None, effective: dt.date | None = None) -> str:
    """The policy text as the registry and templates say it now (HTML fragment, trusted: our own templates)."""
    from lingjing.consent.datamap import policy_context

    lang = "en" if lang.startswith("en") else "zh"
    today = timezone.localdate()
    context: dict[str, Any] = policy_context(lang)
    context["updated"] = updated or today
    context["effective"] = effective or today
    with translation.override("en" if lang == "en" else "zh-hans"):
        return render_to_string(f"consent/policy/body_{lang}.html", context)


def _seed_first_version() -> PolicyVersion:
    """Version 1, in force at once. Not durable: it may run inside a caller's transaction (registration)."""
    from lingjing.security.audit import AuditEvent, record

    now = timezone.now()
    today = timezone.localdate(now)
    try:
        with transaction.atomic():
            version = PolicyVersion.objects.create(
                number=1,
                published_at=now,
                effective_at=now,
                summary_zh="首次发布。",
                summary_en="First publication.",
                material=False,
                body_zh=render_policy("zh", updated=today, effective=today),
                body_en=render_policy("en", updated=today, effective=today),
            )
            record(AuditEvent.POLICY_PUBLISHED, actor="system", obj=version,
                   details={"number": 1, "material": False, "seeded": True})
            return version
    except IntegrityError:  # another process seeded it first
        return PolicyVersion.objects.get(number=1)


def current_policy_version(now: dt.datetime | None = None) -> PolicyVersion | None:
    """The version in force now (the newest whose ``effective_at`` has passed); seeds version 1 when none exists."""
    now = now or timezone.now()
    version = PolicyVersion.objects.filter(effective_at__lte=now).order_by("-number").first()
    if version is None and not PolicyVersion.objects.exists():
        version = _seed_first_version()
    return version


def _load_versions() -> list[PolicyVersion]:
    return list(PolicyVersion.objects.defer("body_zh", "body_en").order_by("number"))


# The acceptance gate and the banner ask on every request; versions change a few times a year. Every version
# (without its text) is kept per process for a few seconds and the question "in force at now?" answered from it,
# so an effective date passes exactly on time; a publication reaches other processes within VERSIONS_SECONDS
# (a material change only takes effect after LINGJING_POLICY_NOTICE_DAYS anyway). See core/memo.py.
VERSIONS_SECONDS = 10.0
versions_memo = ProcessMemo("consent.policy_versions", _load_versions, VERSIONS_SECONDS)


def upcoming_policy_version(now: dt.datetime | None = None) -> PolicyVersion | None:
    """A published version not yet in force (announced, waiting out its notice period)."""
    now = now or timezone.now()
    return next((v for v in versions_memo.get() if v.effective_at > now), None)


def latest_material_in_force(now: dt.datetime | None = None) -> PolicyVersion | None:
    now = now or timezone.now()
    return next((v for v in reversed(versions_memo.get()) if v.material and v.effective_at <= now), None)


def needs_acceptance(user: Any, version: PolicyVersion) -> bool:
    """Whether ``user`` still has to accept the material ``version`` (or any later one)."""
    if PolicyAcceptance.objects.filter(user=user, version__number__gte=version.number).exists():
        return False
    # Someone who joined after the change took effect accepted a text that already contained it.
    joined = getattr(user, "date_joined", None)
    return not (joined is not None and joined >= version.effective_at)


def material_version_to_accept(user: Any, now: dt.datetime | None = None) -> PolicyVersion | None:
    """The material version in force that the person has not accepted (nor any later one), if any."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    latest = latest_material_in_force(now)
    if latest is None or not needs_acceptance(user, latest):
        return None
    return latest


def record_policy_acceptance(
    user: Any,
    *,
    request: HttpRequest | None = None,
    method: str = Method.REGISTER,
    version: PolicyVersion | None = None,
) -> None:
    """Record that ``user`` accepted the policy in force (or ``version``), with an audit row.

    Runs inside the caller's transaction (registration calls it from its own action); idempotent per version.
    """
    from lingjing.security.audit import AuditEvent, record

    if method not in Method.values:
        raise ValueError(f"unknown acceptance method {method!r}")
    version = version or current_policy_version()
    if version is None:  # pragma: no cover - current_policy_version seeds one
        raise RuntimeError("no privacy policy version to accept")
    with transaction.atomic():
        _, created = PolicyAcceptance.objects.get_or_create(user=user, version=version, defaults={"method": method})
        if created:
            record(AuditEvent.POLICY_ACCEPTED, acting_user=user if user.is_authenticated else None,
                   actor=f"u:{user.pk}", subject=f"u:{user.pk}", obj=version,
                   details={"number": version.number, "method": method})


def policy_drift(lang: str = "zh") -> bool:
    """True when the registry-driven text differs from the version in force (a new version should be published)."""
    version = current_policy_version()
    if version is None:
        return True
    local = timezone.localtime(version.effective_at).date()
    published = timezone.localtime(version.published_at).date()
    return render_policy(lang, updated=published, effective=local) != version.body(lang)
