"""Emails with (consented) tracking and one-click unsubscribe (policy 二(二), promise C2.2).

``build_tracked_email(user, subject, text, html, category)`` is the one way features build an email to a person:

* ``category`` says what the mail is. ``"marketing"`` mail is only built for people who consented to the
  ``marketing`` purpose, and carries ``List-Unsubscribe`` / ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
  (RFC 8058) pointing at a signed, sign-in-free unsubscribe URL. Service and security mail (C1.6) cannot be
  unsubscribed from and carries no such header.
* Only when the person consented to ``email_tracking`` does the HTML part get an open pixel and its links
  rewritten to signed click redirects (:class:`TrackedEmail` holds the counts). Otherwise the mail contains no
  tracking at all. Opens and clicks arriving with ``DNT: 1`` / ``Sec-GPC: 1`` or after the consent was
  withdrawn are not recorded (the redirect still works).
"""

from __future__ import annotations

import html as html_lib
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from lingjing.consent.models import TrackedEmail
from lingjing.security.audit import AuditEvent, record

# Mail categories a person can unsubscribe from, and the purpose that unsubscribing withdraws.
UNSUBSCRIBE_PURPOSES: dict[str, str] = {"marketing": "marketing"}
SERVICE_CATEGORIES = ("service", "security", "policy", "support", "account")
_OPEN_SALT = "lingjing.consent.t.open"
_CLICK_SALT = "lingjing.consent.t.click"
_UNSUB_SALT = "lingjing.consent.t.unsubscribe"
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def site_url() -> str:
    return str(getattr(settings, "LINGJING_SITE_URL", "http://127.0.0.1:8000")).rstrip("/")


# --- tokens -----------------------------------------------------------------------------------------------


def open_token(tracked_id: uuid.UUID) -> str:
    return signing.dumps(str(tracked_id), salt=_OPEN_SALT)


def click_token(tracked_id: uuid.UUID, url: str) -> str:
    return signing.dumps({"e": str(tracked_id), "u": url}, salt=_CLICK_SALT, compress=True)


def unsubscribe_token(user_id: Any, category: str) -> str:
    return signing.dumps({"u": str(user_id), "c": category}, salt=_UNSUB_SALT)


def read_open_token(token: str) -> str | None:
    try:
        return str(signing.loads(token, salt=_OPEN_SALT))
    except signing.BadSignature:
        return None


def read_click_token(token: str) -> tuple[str, str] | None:
    try:
        data = signing.loads(token, salt=_CLICK_SALT)
    except signing.BadSignature:
        return None
    url = str(data.get("u", ""))
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return str(data.get("e", "")), url


def read_unsubscribe_token(token: str) -> tuple[str, str] | None:
    try:
        data = signing.loads(token, salt=_UNSUB_SALT)
    except signing.BadSignature:
        return None
    category = str(data.get("c", ""))
    if category not in UNSUBSCRIBE_PURPOSES:
        return None
    return str(data.get("u", "")), category


def unsubscribe_url(user_id: Any, category: str) -> str:
    return f"{site_url()}/t/u/{unsubscribe_token(user_id, category)}"


# --- actions ----------------------------------------------------------------------------------------------


def do_start_tracked_email(user: Any, category: str, *, acting_user: Any) -> TrackedEmail:
    with transaction.atomic(durable=True):
        tracked = TrackedEmail.objects.create(user=user, category=category[:30])
        record(AuditEvent.EMAIL_TRACKING_RECORDED, acting_user=acting_user, subject=f"u:{user.pk}", obj=tracked,
               details={"kind": "sent", "category": tracked.category})
        return tracked


def do_record_email_event(tracked: TrackedEmail, kind: str, *, acting_user: Any) -> None:
    """Count an open or a click (the caller checked consent and the request's signals)."""
    if kind not in ("open", "click"):
        raise ValueError(kind)
    now = timezone.now()
    with transaction.atomic(durable=True):
        row = TrackedEmail.objects.select_for_update().get(pk=tracked.pk)
        if kind == "open":
            row.open_count += 1
            row.opened_at = row.opened_at or now
            row.save(update_fields=["open_count", "opened_at"])
        else:
            row.click_count += 1
            row.last_click_at = now
            row.opened_at = row.opened_at or now  # a click proves the mail was opened
            row.save(update_fields=["click_count", "last_click_at", "opened_at"])
        record(AuditEvent.EMAIL_TRACKING_RECORDED, acting_user=acting_user, subject=f"u:{row.user_id}", obj=row,
               details={"kind": kind})


# --- building ---------------------------------------------------------------------------------------------


def _add_tracking(html: str, tracked: TrackedEmail) -> str:
    def wrap(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(3))
        target = f"{site_url()}/t/c/{click_token(tracked.pk, url)}"
        return f"{match.group(1)}{match.group(2)}{html_lib.escape(target)}{match.group(2)}"

    body = _HREF.sub(wrap, html)
    pixel = f'<img src="{site_url()}/t/o/{open_token(tracked.pk)}.gif" width="1" height="1" alt="">'
    if re.search(r"</body>", body, re.IGNORECASE):
        return re.sub(r"</body>", pixel + "</body>", body, count=1, flags=re.IGNORECASE)
    return body + pixel


def build_tracked_email(
    user: Any, subject: str, text: str, html: str, category: str, *, to: str | None = None
) -> EmailMultiAlternatives | None:
    """The email to send to ``user``, or None when it must not be sent (no address, or no marketing consent).

    The caller sends it (``message.send()``), typically from a task or ``on_commit``.
    """
    from lingjing.consent.service import has_consent

    address = to or getattr(user, "email", "") or ""
    if not address:
        return None
    purpose = UNSUBSCRIBE_PURPOSES.get(category)
    if purpose is not None and not has_consent(user, purpose):
        return None
    headers: dict[str, str] = {}
    footer_text = ""
    footer_html = ""
    if purpose is not None:
        link = unsubscribe_url(user.pk, category)
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        footer_text = f"\n\n退订 / Unsubscribe: {link}"
        footer_html = f'<p><a href="{html_lib.escape(link)}">退订 / Unsubscribe</a></p>'
    body_html = html + footer_html if html else ""
    if body_html and category != "security" and has_consent(user, "email_tracking"):
        tracked = do_start_tracked_email(user, category, acting_user=None)
        # the unsubscribe link (footer) must stay a direct link, never a tracked redirect
        body_html = _add_tracking(html, tracked) + footer_html
    message = EmailMultiAlternatives(subject, text + footer_text, to=[address], headers=headers)
    if body_html:
        message.attach_alternative(body_html, "text/html")
    return message
