"""Step-up verification for sensitive operations (STYLE 5): phone change, password change without the old one,
and the sensitive rights requests (copy, transfer, account cancellation).

A fresh ``verify`` SMS code (or a TOTP code, when the user has added one) grants the current browser session or
API token ``LINGJING_STEP_UP_MINUTES`` (10) minutes of "recently verified". The grant is kept server-side: in the
session store for browsers, on the :class:`~lingjing.accounts.models.ApiToken` row for API clients.

For other apps::

    from lingjing.accounts.stepup import require_recent_verification, VerificationRequired
    require_recent_verification(request, code=payload.verification_code)   # raises VerificationRequired

``consume_verification_code(user, code)`` checks and consumes a ``verify`` code without granting anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

from lingjing.accounts.models import CodePurpose

MESSAGE = "此操作需要先完成身份验证：请获取短信验证码并输入"


class VerificationRequired(PermissionDenied):
    code = "verification_required"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)
        self.message = message

    def as_api_error(self) -> Any:
        from lingjing.api import ApiError

        return ApiError(403, self.code, self.message)


def _user_of(request_or_user: Any) -> Any:
    return getattr(request_or_user, "user", request_or_user)


def is_recently_verified(request: HttpRequest) -> bool:
    """True while the caller's session or token holds an unexpired step-up grant for the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    now = timezone.now()
    token = getattr(request, "api_token", None)
    if token is not None:
        from lingjing.accounts.models import ApiToken

        until = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).values_list(
            "verified_until", flat=True
        ).first()
        return until is not None and until > now
    session = getattr(request, "session", None)
    if session is None or session.get("lj_step_up_user") != str(user.pk):
        return False
    until_ts = session.get("lj_step_up_until")
    return until_ts is not None and dt.datetime.fromtimestamp(float(until_ts), tz=dt.UTC) > now


def consume_verification_code(user: Any, code: str) -> bool:
    """Check a ``verify`` code sent to the user's own phone (or the user's TOTP); consumed on success. Audited."""
    from lingjing.accounts.actions import do_record_step_up_failure
    from lingjing.accounts.codes import check_code

    method = "sms_code"
    ok = False
    if code and user.phone:
        ok = check_code(user.phone, CodePurpose.VERIFY, code).ok
    if not ok and code and user.totp_enabled and user.totp_secret:
        from lingjing.accounts.actions import _claim_totp_step
        from lingjing.accounts.totp import TotpReplay, matching_step

        step = matching_step(user.totp_secret, code)
        if step is not None:
            from django.db import transaction

            try:
                with transaction.atomic():
                    _claim_totp_step(user, step)
                ok, method = True, "totp"
            except TotpReplay:
                ok = False
    if not ok:
        do_record_step_up_failure(user, method=method)
    return ok


def verify_and_grant(request: HttpRequest, code: str) -> bool:
    """Consume a code and, on success, grant the caller's session or token a step-up window."""
    from lingjing.accounts.actions import do_grant_step_up

    user = request.user
    if not user.is_authenticated:
        return False
    if not consume_verification_code(user, code):
        return False
    do_grant_step_up(request, user, method="code")
    return True


def require_recent_verification(request: HttpRequest, *, code: str | None = None) -> None:
    """Pass when recently verified, or when ``code`` is a valid fresh code (which then grants the window)."""
    if code and verify_and_grant(request, code):
        return
    if not is_recently_verified(request):
        raise VerificationRequired()
