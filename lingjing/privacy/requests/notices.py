"""What rights requests tell people, through the one notification service (``lingjing.notify``).

The message templates live in this app (``templates/notify/messages/privacy.*.{zh,en}.txt``) and are added to the
notification service's catalogue at start-up (:func:`register_messages`), each under the categories it may be sent
as: answers to the requester are ``account`` messages (the inbox always, plus the channels the person chose);
alerts to the privacy officers are ``service`` messages (not switchable: answering rights requests is a duty).
Language-dependent values come in pairs (``request_type`` / ``request_type_en``): the template in the person's
language picks its own.

Every function here joins the caller's transaction: the notice commits with the change it announces.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

MESSAGE_KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("privacy.request_received", "account", ("request_ref", "due", "url")),
    ("privacy.request_updated", "account", ("request_ref", "url")),
    ("privacy.request_refused", "account", ("request_ref", "reason", "url")),
    ("privacy.copy_ready", "account", ("request_ref", "expires", "url")),
    ("privacy.cancellation_scheduled", "account", ("request_ref", "erase_on", "url")),
    ("privacy.request_overdue", "service", ("request_ref", "due", "url")),
    ("privacy.staff_attention", "service", ("request_ref", "url")),
)


def register_messages() -> None:
    """Add this app's templates to ``lingjing.notify.messages.MESSAGES`` (idempotent)."""
    try:
        from lingjing.notify import messages
        from lingjing.notify.models import Category
    except ImportError:  # the notification service is not installed: nothing to register with
        return
    for name, category, required in MESSAGE_KINDS:
        messages.MESSAGES.setdefault(name, messages.MessageKind(name, (Category(category),), required))


def _date(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _labels(req: Any) -> dict[str, str]:
    return {
        "request_ref": req.reference,
        "request_type": req.type_label("zh"),
        "request_type_en": req.type_label("en"),
        "status": req.status_label("zh"),
        "status_en": req.status_label("en"),
    }


def request_url(req: Any) -> str:
    return reverse("privacy:request", args=[req.pk])


def staff_url(req: Any) -> str:
    return reverse("privacy:staff-request", args=[req.pk])


def _send_to_requester(req: Any, template: str, context: dict[str, Any]) -> None:
    """The person the request is about when they asked themselves; the proxy's verified phone otherwise."""
    from lingjing.notify.service import notify, notify_contact

    if req.proxy_id is not None and req.proxy is not None:
        proxy = req.proxy
        notify_contact(proxy.subject_ref, phone=proxy.phone or "", category="account", template=template,
                       context={**context, "url": reverse("privacy:verify")})
        return
    if req.user is not None:
        notify(req.user, "account", template, context)


def acknowledge(req: Any) -> None:
    _send_to_requester(req, "privacy.request_received",
                       {**_labels(req), "due": _date(req.due_at), "url": request_url(req)})


def status_changed(req: Any) -> None:
    _send_to_requester(req, "privacy.request_updated", {**_labels(req), "url": request_url(req)})


def refused(req: Any) -> None:
    from lingjing.privacy.requests.models import REFUSAL_GROUND_EN

    _send_to_requester(req, "privacy.request_refused", {
        **_labels(req), "ground": req.get_refusal_ground_display(),
        "ground_en": REFUSAL_GROUND_EN.get(req.refusal_ground, req.refusal_ground),
        "reason": req.refusal_reason or "", "url": request_url(req),
    })


def copy_ready(req: Any) -> None:
    _send_to_requester(req, "privacy.copy_ready",
                       {**_labels(req), "expires": _date(req.package_expires_at), "url": request_url(req)})


def cancellation_scheduled(req: Any) -> None:
    _send_to_requester(req, "privacy.cancellation_scheduled",
                       {**_labels(req), "erase_on": _date(req.grace_until), "url": request_url(req)})


def privacy_officers() -> list[Any]:
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(groups__name="privacy_officer", is_staff=True)
                .order_by("pk"))


def alert_officers(req: Any, template: str, *, what: str = "", what_en: str = "") -> int:
    """Tell every privacy officer (never the request's own subject) about ``req``. Answers how many were told."""
    from lingjing.notify.service import notify

    context = {**_labels(req), "due": _date(req.due_at), "url": staff_url(req), "what": what, "what_en": what_en}
    told = 0
    for officer in privacy_officers():
        if req.user_id is not None and officer.pk == req.user_id:
            continue
        notify(officer, "service", template, context)
        told += 1
    return told
