"""Accounts API (API-CONTRACT.md): SMS codes, registration, sign-in and sign-out, step-up, ``/me``, devices."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import File, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from lingjing.accounts import auth as auth_service
from lingjing.accounts.actions import (
    NicknameTaken,
    do_create_api_token,
    do_logout,
    do_revoke_session,
    do_update_profile,
    live_sessions,
)
from lingjing.accounts.avatars import AvatarRejected, set_avatar
from lingjing.accounts.codes import RateLimited, SmsUnavailable, request_code
from lingjing.accounts.models import User
from lingjing.accounts.phone import InvalidPhone, normalise_phone
from lingjing.accounts.registration import RegistrationError, register
from lingjing.accounts.stepup import verify_and_grant
from lingjing.accounts.totp import TotpReplay
from lingjing.accounts.validators import clean_nickname
from lingjing.api import AUTH, ApiError
from lingjing.core.ratelimit import client_ip

PREFIX = "/"
router = Router(tags=["accounts"])


class SmsCodeIn(Schema):
    phone: str = ""
    purpose: Literal["register", "login", "verify"]


class AcceptedOut(Schema):
    status: str


class RegisterIn(Schema):
    phone: str
    code: str
    nickname: str
    birth_date: str
    password: str | None = None
    guardian_phone: str | None = None


class UserOut(Schema):
    id: str
    nickname: str
    status: str


class RegisterOut(Schema):
    token: str
    user: UserOut


class LoginIn(Schema):
    phone: str
    password: str | None = None
    code: str | None = None
    totp: str | None = None


class TokenOut(Schema):
    token: str


class MeOut(Schema):
    id: str
    nickname: str
    avatar_url: str | None
    phone_masked: str


class MePatch(Schema):
    nickname: str


class AvatarOut(Schema):
    avatar_url: str


class VerifyIn(Schema):
    code: str


class VerifiedOut(Schema):
    verified: bool


class SessionOut(Schema):
    id: str
    kind: str
    label: str
    ip_network: str
    created_at: str
    last_used_at: str | None
    current: bool


def _rate_limited(exc: RateLimited) -> ApiError:
    return ApiError(429, "rate_limited", exc.message, headers={"Retry-After": str(exc.retry_after)})


def _me(user: User) -> dict[str, Any]:
    return {"id": str(user.pk), "nickname": user.nickname, "avatar_url": user.avatar_url,
            "phone_masked": user.phone_masked}


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise ApiError(401, "unauthenticated", "请先登录")
    return user


@router.post("/auth/sms-code", response={202: AcceptedOut}, auth=None, summary="发送短信验证码")
def sms_code(request: HttpRequest, payload: SmsCodeIn) -> Status[dict[str, str]]:
    """202 whether or not the number has an account. ``verify`` needs a signed-in caller and goes to their own
    number unless ``phone`` names a new number they want to move to."""
    from lingjing.api import bearer, session

    ip = client_ip(request)
    if payload.purpose == "verify":
        # Authenticated like every AUTH endpoint (Bearer, or the session with its CSRF check), here by hand
        # because the other purposes need no account.
        has_bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
        user = bearer(request) if has_bearer else session(request)
        if not isinstance(user, User):
            raise ApiError(401, "unauthenticated", "请先登录")
        target = user.phone or ""
        if payload.phone:
            try:
                target = normalise_phone(payload.phone)
            except InvalidPhone as exc:
                raise ApiError(422, "invalid_phone", str(exc)) from None
    else:
        try:
            target = normalise_phone(payload.phone)
        except InvalidPhone as exc:
            raise ApiError(422, "invalid_phone", str(exc)) from None
    try:
        request_code(target, payload.purpose, ip=ip)
    except RateLimited as exc:
        raise _rate_limited(exc) from None
    except SmsUnavailable as exc:
        raise ApiError(503, "sms_unavailable", exc.message, headers={"Retry-After": "60"}) from None
    return Status(202, {"status": "accepted"})


@router.post("/auth/register", response={201: RegisterOut}, auth=None, summary="注册")
def register_endpoint(request: HttpRequest, payload: RegisterIn) -> Status[dict[str, Any]]:
    """Registering through the API accepts the privacy policy in force, which the client shows before this call."""
    try:
        user = register(
            request, phone=payload.phone, code=payload.code, nickname=payload.nickname,
            birth_date=payload.birth_date, password=payload.password, guardian_phone=payload.guardian_phone,
        )
    except RegistrationError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    token = do_create_api_token(user, method="register", request=request)
    return Status(201, {"token": token, "user": {"id": str(user.pk), "nickname": user.nickname, "status": user.status}})


@router.post("/auth/login", response=TokenOut, auth=None, summary="登录（密码或验证码）")
def login_endpoint(request: HttpRequest, payload: LoginIn) -> dict[str, str]:
    if (payload.password is None) == (payload.code is None):
        raise ApiError(422, "invalid_request", "请提供密码或验证码之一")
    try:
        ok = auth_service.authenticate(
            request, phone=payload.phone, password=payload.password, code=payload.code, totp=payload.totp
        )
        token = do_create_api_token(ok.user, method=ok.method, request=request, totp_step=ok.totp_step)
    except auth_service.LoginError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        raise ApiError(exc.status, exc.code, exc.message, headers=headers) from None
    except TotpReplay:
        raise ApiError(401, "invalid_totp", "动态码错误或已使用") from None
    return {"token": token}


@router.post("/auth/logout", response={204: None}, auth=AUTH, summary="退出登录")
def logout_endpoint(request: HttpRequest) -> Status[None]:
    do_logout(request, acting_user=_user(request))
    return Status(204, None)


@router.post("/auth/verify", response=VerifiedOut, auth=AUTH, summary="身份验证（敏感操作前）")
def verify_endpoint(request: HttpRequest, payload: VerifyIn) -> dict[str, bool]:
    """Exchange a fresh ``verify`` code (or a TOTP code) for a short step-up window on this session or token."""
    if not verify_and_grant(request, payload.code):
        raise ApiError(400, "invalid_code", "验证码错误或已失效，请重新获取")
    return {"verified": True}


@router.get("/me", response=MeOut, auth=AUTH, summary="我的账号")
def me(request: HttpRequest) -> dict[str, Any]:
    return _me(_user(request))


@router.patch("/me", response=MeOut, auth=AUTH, summary="修改昵称")
def me_patch(request: HttpRequest, payload: MePatch) -> dict[str, Any]:
    from django.core.exceptions import ValidationError

    user = _user(request)
    try:
        nickname = clean_nickname(payload.nickname)
        do_update_profile(user, nickname=nickname, acting_user=user)
    except NicknameTaken:
        raise ApiError(409, "nickname_taken", "这个昵称已被使用，请换一个") from None
    except ValidationError as exc:
        raise ApiError(422, exc.code or "invalid_nickname", exc.messages[0]) from None
    return _me(user)


@router.post("/me/avatar", response=AvatarOut, auth=AUTH, summary="上传头像")
def me_avatar(request: HttpRequest, file: File[UploadedFile]) -> dict[str, str]:
    user = _user(request)
    try:
        url = set_avatar(user, file, acting_user=user)
    except AvatarRejected as exc:
        raise ApiError(422, "invalid_image", str(exc)) from None
    return {"avatar_url": url}


@router.get("/me/sessions", response=list[SessionOut], auth=AUTH, summary="登录设备")
def me_sessions(request: HttpRequest) -> list[dict[str, Any]]:
    import hashlib

    user = _user(request)
    token = getattr(request, "api_token", None)
    current = token.token_hash if token is not None else (
        hashlib.sha256(request.session.session_key.encode()).hexdigest() if request.session.session_key else ""
    )
    return [
        {**{k: v for k, v in item.items() if k != "key_hash"},
         "created_at": item["created_at"].isoformat(),
         "last_used_at": item["last_used_at"].isoformat() if item["last_used_at"] else None,
         "current": item["key_hash"] == current}
        for item in live_sessions(user)
    ]


@router.delete("/me/sessions/{session_id}", response={204: None}, auth=AUTH, summary="移除登录设备")
def me_session_revoke(request: HttpRequest, session_id: str) -> Status[None]:
    import uuid

    user = _user(request)
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        raise ApiError(404, "not_found", "登录设备不存在") from None
    if not do_revoke_session(user, sid, acting_user=user):
        raise ApiError(404, "not_found", "登录设备不存在")
    return Status(204, None)
