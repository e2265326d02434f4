"""The gate every studio call to an outside provider passes: sending a prompt, a script or a reference image to
an LLM, image or speech service is a disclosure of the author's personal data to that provider (policy 三(一)).

:func:`check_and_log_disclosure` is the only way to it. It passes the disclosure gate of all outward flows
(``lingjing.sharing.gate.disclose``): the provider must be a registered recipient
(``LINGJING_STUDIO_PROVIDERS[name]["recipient"]``) and the author must have given it their separate consent; the
disclosure lands in the author's sharing log (``/privacy/sharing/``) and, as before, in the audit log the studio's
settings page lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import Any

from django.db import transaction

from lingjing.security.audit import AuditEvent, record

OFFLINE = "offline"


class DisclosureRefused(Exception):
    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.message = message


def provider_purpose(provider_name: str) -> str:
    """The consent purpose key that covers sending studio data to ``provider_name``."""
    return f"studio-provider-{provider_name}"


def _has_consent(user: Any, purpose: str) -> bool:
    try:
        service = import_module("lingjing.consent.service")
    except ModuleNotFoundError:  # no consent machinery installed: nothing leaves the machine
        return False
    return bool(service.has_consent(user, purpose))


def check_and_log_disclosure(user: Any, provider_name: str, categories: Iterable[str], purpose: str) -> None:
    """Allow sending ``categories`` of ``user``'s data to ``provider_name`` for ``purpose``, and log it.

    Raises :class:`DisclosureRefused` (nothing may be sent) when the author has not agreed.
    """
    if provider_name == OFFLINE:
        return
    from lingjing.sharing.channels import studio_recipient
    from lingjing.sharing.gate import DisclosureRefused as GateRefused
    from lingjing.sharing.gate import disclose

    recipient = studio_recipient(provider_name)
    if recipient is None:  # a provider we run ourselves: nothing leaves
        return
    try:
        disclose(user, recipient, sorted(set(categories)), "content", acting_user=user, flow=f"studio.{purpose}")
    except GateRefused as exc:
        raise DisclosureRefused(
            provider_name, f"{exc.reason}。未同意时请使用本机（离线）方式，或在隐私中心的“信息接收方”页面同意后重试。"
        ) from None
    with transaction.atomic():
        record(
            AuditEvent.STUDIO_PROVIDER_DISCLOSURE,
            acting_user=user,
            subject=f"u:{user.pk}",
            details={"provider": provider_name, "categories": sorted(set(categories)), "purpose": purpose},
        )
