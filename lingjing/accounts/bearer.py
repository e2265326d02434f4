"""The API token a request presents (``Authorization: Bearer <token>``), looked up once per request.

Three places need it: the cancellation-window gate (``privacy.requests.middleware``), the staff token expiry
(``secops.middleware``) and the API's ``BearerAuth`` (``lingjing/api.py``). Each used to hash the token and query
for it on its own; :func:`presented_token` fetches the row (unrevoked, with its user) once and keeps it on the
request for the others. What they read of it — revocation, the user's state — does not change between the first
middleware and the view: the one writer in between, the staff expiry, revokes the token and ends the request
itself (and calls :func:`forget_presented_token`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from lingjing.accounts.models import ApiToken

_MEMO = "_lj_presented_token"


def bearer_value(request: HttpRequest) -> str:
    """The token in the request's ``Authorization: Bearer`` header, or ""."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if not header.lower().startswith("bearer "):
        return ""
    return header[7:].strip()


def presented_token(request: HttpRequest, raw: str | None = None) -> ApiToken | None:
    """The unrevoked token (its ``user`` loaded) that ``raw`` — by default the request's Bearer header — names.
    One query per request and token; the answer is kept on the request (``None`` too)."""
    from lingjing.accounts.models import ApiToken, hash_token

    raw = bearer_value(request) if raw is None else raw.strip()
    if not raw:
        return None
    digest = hash_token(raw)
    memo: tuple[str, ApiToken | None] | None = getattr(request, _MEMO, None)
    if memo is not None and memo[0] == digest:
        return memo[1]
    row = ApiToken.objects.select_related("user").filter(token_hash=digest, revoked_at__isnull=True).first()
    setattr(request, _MEMO, (digest, row))
    return row


def forget_presented_token(request: HttpRequest) -> None:
    """After a write to the token (revocation): the next reader queries again."""
    if hasattr(request, _MEMO):
        delattr(request, _MEMO)
