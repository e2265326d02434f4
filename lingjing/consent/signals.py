"""Browser privacy signals: Do Not Track (``DNT: 1``) and Global Privacy Control (``Sec-GPC: 1``)."""

from __future__ import annotations

from django.http import HttpRequest

from lingjing.consent.models import Method


def privacy_signal(request: HttpRequest | None) -> str | None:
    """``"gpc"`` or ``"dnt"`` when the request carries the signal (GPC wins: it is the stronger one), else None."""
    if request is None:
        return None
    if request.headers.get("Sec-GPC", "").strip() == "1":
        return Method.GPC
    if request.headers.get("DNT", "").strip() == "1":
        return Method.DNT
    return None
