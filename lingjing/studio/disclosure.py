"""The gate every studio call to an outside provider passes: sending a prompt, a script or a reference image to
an LLM, image or speech service is a disclosure of the author's personal data to that provider (policy 三(一)).

:func:`check_and_log_disclosure` is the only way to it. For now it refuses unless the provider is the local
``offline`` one or the author has consented to that provider (consent purpose ``studio-provider-<name>``,
asked through ``lingjing.consent``), and records every disclosure in the audit log, which the author sees on
the studio's settings page. The privacy gate for all outward flows will take over this body.
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
    if user is None or not _has_consent(user, provider_purpose(provider_name)):
        raise DisclosureRefused(
            provider_name,
            f"使用外部服务「{provider_name}」需要先同意向其提供您的创作内容；未同意时请使用本机（离线）方式。",
        )
    with transaction.atomic():
        record(
            AuditEvent.STUDIO_PROVIDER_DISCLOSURE,
            acting_user=user,
            subject=f"u:{user.pk}",
            details={"provider": provider_name, "categories": sorted(set(categories)), "purpose": purpose},
        )
