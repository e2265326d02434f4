"""The copy's download link: behind the requester's session (or proven phone) *and* an expiring token.

The token is an HMAC of the request id, the package's SHA-256 and its expiry under a key derived from the site's
secret, so nothing needs storing, it dies with the link (7 days, ``LINGJING_COPY_LINK_DAYS``) and a rebuilt
package gets a new one. A link forwarded to someone else does not work without the requester's session.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone


def _key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"lingjing copy download", hashlib.sha256).digest()


def token_for(req: Any) -> str:
    expires = int(req.package_expires_at.timestamp()) if req.package_expires_at else 0
    message = f"{req.pk}|{req.package_sha256}|{expires}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()[:40]


def available(req: Any) -> bool:
    return bool(req.package_name and req.package_deleted_at is None and req.package_expires_at
                and req.package_expires_at > timezone.now() and req.type == "copy")


def token_ok(req: Any, token: str) -> bool:
    return available(req) and hmac.compare_digest(token_for(req), (token or "")[:40])


def page_url(req: Any) -> str | None:
    if not available(req):
        return None
    return reverse("privacy:download", args=[req.pk]) + f"?token={token_for(req)}"


def api_url(req: Any) -> str | None:
    if not available(req):
        return None
    return f"/api/v1/privacy/requests/{req.pk}/download?token={token_for(req)}"


def filename(req: Any) -> str:
    day = timezone.localtime(req.received_at).strftime("%Y%m%d")
    return f"lingjing-copy-{day}-{req.reference}.zip"
