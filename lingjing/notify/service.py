"""``notify``: the one way any feature tells a person something.

``notify(user, category, template, context, *, channels=None)``:

1. The template must exist for the category (``messages.MESSAGES``): an advertisement cannot travel as a service
   notice.
2. Marketing goes out only with ``has_consent(user, "marketing")`` (opt-in, withdrawable at any time) *and* the
   person's channel choice for marketing. Service announcements and security notices (``MANDATORY``) ignore
   opt-outs: the inbox is always used, and a caller may name further channels (a security incident goes by
   email, SMS and push whatever the person chose; policy 四(五)). For the other categories, named channels are
   narrowed to the ones the person switched on.
3. The text is rendered from the template in the person's language (``NotifySettings.language``).
4. Outward channels are rate-limited per person (``LINGJING_NOTIFY_PER_USER_HOUR``); over the limit, or when the
   limiter store fails, the outward deliveries are recorded as skipped (``rate_limited``) and the inbox entry is
   still written.
5. In one transaction (joining the caller's, so a ticket reply and its notice commit together): the inbox entry,
   one :class:`Delivery` per outward channel (address and text sealed under the person's key; ``skipped`` with a
   reason when there is no confirmed address or the channel is not configured) and an audit row. Each pending
   delivery is handed to the ``deliver`` task after commit; ``lingjing.notify.delivery`` sends, retries with
   back-off and records the outcome.

``notify_contact`` does steps 3–5 for a visitor who left a confirmed contact with customer service (subject
``v:<uuid>``); visitors have no inbox and no preferences.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from lingjing.core import ratelimit
from lingjing.core.ratelimit import Limit
from lingjing.notify import messages
from lingjing.notify.models import (
    DEFAULT_CHANNELS,
    EXTERNAL_CHANNELS,
    MANDATORY,
    Category,
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotifySettings,
    Preference,
)
from lingjing.security.audit import AuditEvent, record


@dataclass
class Sent:
    """What ``notify`` did: the inbox entry, the deliveries, or why nothing was sent."""

    notification: Notification | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    skipped: str = ""  # "", "no_consent", "switched_off", "no_recipient"

    @property
    def channels(self) -> list[str]:
        inbox = [Channel.INBOX.value] if self.notification is not None else []
        return inbox + [d.channel for d in self.deliveries if d.status != DeliveryStatus.SKIPPED]


def push_configured() -> bool:
    return bool(settings.LINGJING_PUSH_WEBHOOK_URL)


def available_channels() -> list[str]:
    """The channels this deployment can use (push only with a configured gateway)."""
    return [c for c in Channel.values if c != Channel.PUSH or push_configured()]


def settings_for(user: Any) -> NotifySettings | None:
    return NotifySettings.objects.filter(user_id=user.pk).first()


def language_of(user: Any) -> str:
    row = NotifySettings.objects.filter(user_id=user.pk).only("language").first()
    return row.language if row is not None else settings.LANGUAGE_CODE


def stored_channels(user: Any, category: str) -> list[str]:
    """The person's choice for ``category`` (the defaults when they never chose), before any enforcement."""
    row = Preference.objects.filter(user_id=user.pk, category=category).only("channels").first()
    return list(row.channels) if row is not None else list(DEFAULT_CHANNELS[category])


def channels_for(user: Any, category: str, requested: Iterable[str] | None = None) -> list[str]:
    """The channels a message of ``category`` goes out on (step 2 of the module docstring)."""
    chosen = stored_channels(user, category)
    if category in MANDATORY:
        if requested is not None:
            chosen = list(requested)
        chosen = [Channel.INBOX.value, *chosen]
    elif requested is not None:
        wanted = set(requested)
        chosen = [c for c in chosen if c in wanted]
    valid = set(Channel.values)
    return [c for c in dict.fromkeys(chosen) if c in valid]


def _active(user: Any) -> bool:
    return bool(user is not None and getattr(user, "pk", None) and getattr(user, "is_active", True)
                and getattr(user, "status", "active") in ("active", "pending_guardian", "closing"))


def _absolute(url: str) -> str:
    from lingjing.consent.email import site_url

    return f"{site_url()}{url}" if url.startswith("/") else url


def _rate_limited(subject: str) -> bool:
    limit = Limit("notify:subject:hour", settings.LINGJING_NOTIFY_PER_USER_HOUR, 3600)
    try:
        return not ratelimit.hit(limit, subject).allowed
    except ratelimit.LimiterUnavailable:
        return True  # fail closed: nothing goes out on paid or outward channels, the inbox entry stays


def _enqueue(delivery_id: str) -> None:
    from lingjing.notify.tasks import deliver

    deliver.enqueue(delivery_id)


def _delivery(subject: str, channel: str, category: str, template: str, language: str, text: messages.Rendered,
              url: str, notification: Notification | None) -> Delivery:
    row = Delivery(subject_ref=subject, notification=notification, channel=channel, category=category,
                   template=template, language=language, url=url[:300])
    row.title = text.title
    row.body = text.body
    return row


def _address(row: Delivery, user: Any, prefs: NotifySettings | None) -> str:
    """Fill in the address of ``row``; answers why it cannot be sent ("" when it can)."""
    if row.channel == Channel.EMAIL:
        address = prefs.confirmed_email if prefs is not None else ""
        if not address:
            return "no_confirmed_email"
        row.to_email = address
    elif row.channel == Channel.SMS:
        phone = getattr(user, "phone", "") or ""
        if not phone:
            return "no_phone"
        row.to_phone = phone
    elif row.channel == Channel.PUSH and not push_configured():
        return "push_not_configured"
    return ""


def notify(
    user: Any,
    category: str,
    template: str,
    context: Mapping[str, Any],
    *,
    channels: Iterable[str] | None = None,
) -> Sent:
    """Tell ``user`` something (see the module docstring). Joins the caller's transaction."""
    from lingjing.consent.service import has_consent

    if category not in Category.values:
        raise ValueError(f"unknown notification category {category!r}")
    messages.check(template, category, context)
    if not _active(user):
        return Sent(skipped="no_recipient")
    if category == Category.MARKETING and not has_consent(user, "marketing"):
        return Sent(skipped="no_consent")
    chosen = channels_for(user, category, channels)
    if not chosen:
        return Sent(skipped="switched_off")
    prefs = settings_for(user)
    language = prefs.language if prefs is not None else settings.LANGUAGE_CODE
    path = str(context.get("url", ""))
    text = messages.render(template, {**context, "url": _absolute(path)}, language)
    subject = f"u:{user.pk}"
    external = [c for c in chosen if c in EXTERNAL_CHANNELS]
    limited = bool(external) and _rate_limited(subject)
    sent = Sent()
    with transaction.atomic():
        if Channel.INBOX in chosen:
            entry = Notification(user=user, category=category, template=template, url=path[:300])
            entry.title = text.title
            entry.body = text.body
            entry.save(force_insert=True)
            sent.notification = entry
        for channel in external:
            row = _delivery(subject, channel, category, template, language, text, path, sent.notification)
            why = "rate_limited" if limited else _address(row, user, prefs)
            if why:
                row.status = DeliveryStatus.SKIPPED
                row.last_error = why
            row.save(force_insert=True)
            sent.deliveries.append(row)
        record(
            AuditEvent.NOTIFY_CREATED,
            actor="system",
            subject=subject,
            obj=sent.notification,
            details={"category": category, "template": template, "channels": chosen, "rate_limited": limited,
                     "deliveries": [str(d.pk) for d in sent.deliveries]},
        )
        for row in sent.deliveries:
            if row.status == DeliveryStatus.PENDING:
                transaction.on_commit(functools.partial(_enqueue, str(row.pk)))
    return sent


def notify_contact(
    subject: str,
    *,
    email: str = "",
    phone: str = "",
    category: str,
    template: str,
    context: Mapping[str, Any],
    language: str = "zh-hans",
) -> list[Delivery]:
    """Tell a visitor (``v:<uuid>``) something at the contact they confirmed. Joins the caller's transaction."""
    if category not in Category.values:
        raise ValueError(f"unknown notification category {category!r}")
    messages.check(template, category, context)
    if not (email or phone):
        return []
    path = str(context.get("url", ""))
    text = messages.render(template, {**context, "url": _absolute(path)}, language)
    limited = _rate_limited(subject)
    rows: list[Delivery] = []
    with transaction.atomic():
        for channel, address in ((Channel.EMAIL, email), (Channel.SMS, phone)):
            if not address:
                continue
            row = _delivery(subject, channel, category, template, language, text, path, None)
            if channel == Channel.EMAIL:
                row.to_email = address
            else:
                row.to_phone = address
            if limited:
                row.status = DeliveryStatus.SKIPPED
                row.last_error = "rate_limited"
            row.save(force_insert=True)
            rows.append(row)
        record(AuditEvent.NOTIFY_CREATED, actor="system", subject=subject,
               details={"category": category, "template": template, "channels": [r.channel for r in rows],
                        "rate_limited": limited, "deliveries": [str(r.pk) for r in rows]})
        for row in rows:
            if row.status == DeliveryStatus.PENDING:
                transaction.on_commit(functools.partial(_enqueue, str(row.pk)))
    return rows
