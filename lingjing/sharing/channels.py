"""Which registered recipient stands behind each outward channel of this deployment.

Callers pass the answer to :func:`lingjing.sharing.gate.disclose` before sending. ``None`` means the channel is
local (the console SMS/email outboxes, the filesystem, the offline studio): nothing leaves the machine, so there
is nothing to disclose.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

SMS_RECIPIENTS = {"aliyun": "aliyun-sms", "tencent": "tencent-sms"}


def sms_recipient() -> str | None:
    return SMS_RECIPIENTS.get(str(settings.LINGJING_SMS_BACKEND))


def email_recipient() -> str | None:
    """The email provider's recipient slug (``LINGJING_EMAIL_RECIPIENT``), None for the console backend."""
    backend = str(settings.MAILERS.get("default", {}).get("BACKEND", ""))
    if backend.endswith("ConsoleEmailBackend") or "locmem" in backend:
        return None
    return str(getattr(settings, "LINGJING_EMAIL_RECIPIENT", "aliyun-directmail")) or None


def storage_recipient() -> str | None:
    """The object storage's recipient slug when media go to a cloud bucket, None on the local filesystem."""
    backend = str(settings.STORAGES.get("default", {}).get("BACKEND", ""))
    if "FileSystemStorage" in backend or "InMemoryStorage" in backend:
        return None
    return str(getattr(settings, "LINGJING_STORAGE_RECIPIENT", "aliyun-oss")) or None


SELF_HOSTED = "self-hosted"


def studio_recipient(provider_name: str) -> str | None:
    """The recipient behind a studio provider, from its config's ``recipient`` (``LINGJING_STUDIO_PROVIDERS``,
    keys ``llm``, ``image.<name>``, ``speech.<name>``).

    ``offline`` and a provider configured with ``"recipient": "self-hosted"`` (run on our own machines, e.g. a
    ComfyUI server of ours) are local: None. Otherwise the configured slug, or the provider name itself when none
    is configured — which the gate refuses unless a recipient of that slug is registered: an unregistered provider
    cannot receive anything.
    """
    if provider_name == "offline":
        return None
    providers: dict[str, Any] = getattr(settings, "LINGJING_STUDIO_PROVIDERS", {}) or {}
    keys = [provider_name, *(k for k in providers if k.split(".", 1)[-1] == provider_name and k != provider_name)]
    for key in keys:
        config = providers.get(key)
        if isinstance(config, dict) and config.get("recipient"):
            slug = str(config["recipient"])
            return None if slug == SELF_HOSTED else slug
    return provider_name
