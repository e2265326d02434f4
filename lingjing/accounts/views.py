"""Account pages (zh-hans first): sign-up, sign-in, sign-out, profile, security settings, guardian confirmation.

Views parse input with forms and call services/actions; they never save models themselves. Short-lived flow
state (the number a code was sent to, a passed first factor waiting for TOTP, a guardian's proven number) sits in
the session for at most ``FLOW_SECONDS`` and is dropped when the flow ends.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lingjing.accounts import auth as auth_service
from lingjing.accounts import guardian as guardian_service
from lingjing.accounts.actions import (
    NicknameTaken,
    do_begin_totp,
    do_change_password,
    do_change_phone,
    do_disable_totp,
    do_enable_totp,
    do_logout,
    do_revoke_session,
    do_start_web_session,
    do_update_profile,
    live_sessions,
)
from lingjing.accounts.avatars import STORAGE_DIR, AvatarRejected, set_avatar
from lingjing.accounts.codes import RateLimited, SmsUnavailable, check_code, request_code
from lingjing.accounts.forms import (
    AvatarForm,
    ChangePasswordForm,
    CodeLoginForm,
    GuardianCodeForm,
    NewPhoneForm,
    NicknameForm,
    PasswordLoginForm,
    PhoneForm,
    RegisterForm,
    TotpForm,
    VerifyForm,
)
from lingjing.accounts.models import CodePurpose, User, UserStatus
from lingjing.accounts.registration import RegistrationError, register
from lingjing.accounts.stepup import is_recently_verified, verify_and_grant
from lingjing.accounts.totp import TotpReplay, matching_step, new_secret, provisioning_uri, qr_svg
from lingjing.core.ratelimit import client_ip

FLOW_SECONDS = 600


# --- helpers ----------------------------------------------------------------------------------------------


def _flow_put(request: HttpRequest, name: str, value: Any) -> None:
    request.session[f"lj_flow_{name}"] = {"v": value, "t": time.time()}


def _flow_get(request: HttpRequest, name: str) -> Any:
    item = request.session.get(f"lj_flow_{name}")
    if not item or time.time() - float(item.get("t", 0)) > FLOW_SECONDS:
        return None
    return item.get("v")


def _flow_drop(request: HttpRequest, *names: str) -> None:
    for name in names:
        request.session.pop(f"lj_flow_{name}", None)


def _send(request: HttpRequest, phone: str, purpose: str, **context: Any) -> bool:
    """Send a code, putting the outcome into the page's messages. Same message for known and unknown numbers."""
    try:
        request_code(phone, purpose, ip=client_ip(request), context=context or None)
    except RateLimited as exc:
        messages.error(request, exc.message)
        return False
    except SmsUnavailable as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, "验证码已发送，5 分钟内有效")
    return True


def _next_url(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _current_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _finish_login(request: HttpRequest, ok: auth_service.LoginOk) -> HttpResponse:
    try:
        do_start_web_session(request, ok.user, method=ok.method, totp_step=ok.totp_step)
    except TotpReplay:
        messages.error(request, "动态码已使用，请等待下一个动态码")
        return redirect("accounts:login_totp")
    if ok.user.status == UserStatus.PENDING_GUARDIAN:
        messages.info(request, "您的账号正在等待监护人同意，同意前暂不能创作和发布作品")
    return HttpResponseRedirect(_next_url(request))


# --- registration -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def register_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    phone = _flow_get(request, "register_phone")
    phone_form = PhoneForm(initial={"phone": phone or ""})
    form = RegisterForm()
    if request.method == "POST" and request.POST.get("action") == "send_code":
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            phone = phone_form.cleaned_data["phone"]
            if _send(request, phone, CodePurpose.REGISTER):
                _flow_put(request, "register_phone", phone)
                return redirect(reverse("accounts:register") + "?step=2")
    elif request.method == "POST" and request.POST.get("action") == "register" and phone:
        form = RegisterForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = register(
                    request, phone=phone, code=data["code"], nickname=data["nickname"],
                    birth_date=data["birth_date"], password=data["password"] or None,
                    guardian_phone=data["guardian_phone"] or None,
                )
            except RegistrationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                _flow_drop(request, "register_phone")
                do_start_web_session(request, user, method="register")
                if user.status == UserStatus.PENDING_GUARDIAN:
                    messages.info(request, "注册成功。我们已向监护人手机发送确认短信，监护人同意后即可创作和发布作品")
                else:
                    messages.success(request, "注册成功，欢迎来到灵境")
                return redirect("accounts:profile")
    step = 2 if phone and (request.GET.get("step") == "2" or form.is_bound) else 1
    from lingjing.accounts.phone import mask_phone

    return render(request, "accounts/register.html", {
        "step": step, "phone_form": phone_form, "form": form, "phone_masked": mask_phone(phone) if phone else "",
    })


# --- sign-in ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    tab = request.POST.get("tab") or request.GET.get("tab") or "password"
    tab = tab if tab in ("password", "code") else "password"
    password_form = PasswordLoginForm()
    code_form = CodeLoginForm(initial={"phone": _flow_get(request, "login_phone") or ""})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if tab == "code" and action == "send_code":
            code_form = CodeLoginForm(request.POST)
            if code_form.is_valid() and _send(request, code_form.cleaned_data["phone"], CodePurpose.LOGIN):
                _flow_put(request, "login_phone", code_form.cleaned_data["phone"])
                return redirect(reverse("accounts:login") + "?tab=code")
        else:
            form: PasswordLoginForm | CodeLoginForm
            if tab == "password":
                form = password_form = PasswordLoginForm(request.POST)
            else:
                form = code_form = CodeLoginForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    if tab == "password":
                        ok = auth_service.authenticate(request, phone=data["phone"], password=data["password"])
                    else:
                        ok = auth_service.authenticate(request, phone=data["phone"], code=data.get("code") or "")
                except auth_service.LoginError as exc:
                    if exc.code == "totp_required":
                        user = User.objects.get_by_phone(data["phone"])
                        if user is not None:
                            _flow_put(request, "login_totp", {"user": str(user.pk), "method": tab,
                                                              "next": _next_url(request)})
                            return redirect("accounts:login_totp")
                    form.add_error(None, exc.message)
                    status = exc.status if exc.status in (429, 503) else 200
                    if exc.code == "step_up_required":  # risk control: sign in with an SMS code instead
                        messages.warning(request, exc.message)
                        tab, code_form = "code", CodeLoginForm(initial={"phone": data["phone"]})
                else:
                    _flow_drop(request, "login_phone")
                    return _finish_login(request, ok)
    response = render(request, "accounts/login.html", {
        "tab": tab, "password_form": password_form, "code_form": code_form, "next": _next_url(request, ""),
    }, status=status)
    return response


@require_http_methods(["GET", "POST"])
def login_totp_page(request: HttpRequest) -> HttpResponse:
    pending = _flow_get(request, "login_totp")
    if not pending:
        messages.error(request, "登录已超时，请重新登录")
        return redirect("accounts:login")
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = User.objects.filter(pk=pending["user"]).first()
        if user is None:
            return redirect("accounts:login")
        try:
            ok = auth_service.second_factor(request, user, method=pending["method"], totp=form.cleaned_data["totp"])
        except auth_service.LoginError as exc:
            form.add_error("totp", exc.message)
        else:
            _flow_drop(request, "login_totp", "login_phone")
            next_url = pending.get("next") or "/"
            response = _finish_login(request, ok)
            if isinstance(response, HttpResponseRedirect) and response.url == "/" and next_url != "/":
                return HttpResponseRedirect(next_url)
            return response
    return render(request, "accounts/login_totp.html", {"form": form})


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        do_logout(request, acting_user=_current_user(request))
        messages.info(request, "您已退出登录")
    return redirect("/")


# --- profile ----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile_page(request: HttpRequest) -> HttpResponse:
    user = _current_user(request)
    nickname_form = NicknameForm(initial={"nickname": user.nickname})
    avatar_form = AvatarForm()
    status = 200
    if request.method == "POST" and request.POST.get("action") == "nickname":
        nickname_form = NicknameForm(request.POST)
        if nickname_form.is_valid():
            try:
                do_update_profile(user, nickname=nickname_form.cleaned_data["nickname"], acting_user=user)
            except NicknameTaken as exc:
                nickname_form.add_error("nickname", exc.messages[0])
            else:
                messages.success(request, "昵称已更新")
                return redirect("accounts:profile")
    elif request.method == "POST" and request.POST.get("action") == "avatar":
        avatar_form = AvatarForm(request.POST, request.FILES)
        if avatar_form.is_valid():
            try:
                set_avatar(user, avatar_form.cleaned_data["file"], acting_user=user)
            except AvatarRejected as exc:
                avatar_form.add_error("file", str(exc))
                status = 422
            else:
                messages.success(request, "头像已更新")
                return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {
        "profile": user, "nickname_form": nickname_form, "avatar_form": avatar_form,
    }, status=status)


@require_GET
def avatar_file(request: HttpRequest, name: str) -> HttpResponseBase:
    """Serve a stored avatar (public, like the works it is shown with); names are random and never user-chosen."""
    if "/" in name or "\\" in name or not name.endswith(".png"):
        raise Http404
    path = f"{STORAGE_DIR}/{name}"
    if not default_storage.exists(path):
        raise Http404
    response = FileResponse(default_storage.open(path, "rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    response["Content-Disposition"] = "inline"
    return response


# --- security settings ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def security_page(request: HttpRequest) -> HttpResponse:
    user = _current_user(request)
    action = request.POST.get("action") if request.method == "POST" else None
    password_form = ChangePasswordForm()
    verify_form = VerifyForm()
    phone_form = NewPhoneForm()
    phone_code_form = GuardianCodeForm()
    totp_form = TotpForm()
    verified = is_recently_verified(request)

    if action == "send_verify":
        _send(request, user.phone or "", CodePurpose.VERIFY)
        return redirect(reverse("accounts:security") + "#verify")
    if action == "verify":
        verify_form = VerifyForm(request.POST)
        if verify_form.is_valid():
            if verify_and_grant(request, verify_form.cleaned_data["code"]):
                messages.success(request, "身份验证成功，10 分钟内可进行敏感操作")
                return redirect(reverse("accounts:security") + "#verify")
            verify_form.add_error("code", "验证码错误或已失效")
    if action == "password":
        password_form = ChangePasswordForm(request.POST)
        if password_form.is_valid():
            response = _change_password(request, user, password_form, verified)
            if response is not None:
                return response
    if action == "phone_send":
        phone_form = NewPhoneForm(request.POST)
        if not verified:
            phone_form.add_error(None, "请先完成身份验证")
        elif phone_form.is_valid():
            new_phone = phone_form.cleaned_data["phone"]
            if _send(request, new_phone, CodePurpose.VERIFY):
                _flow_put(request, "new_phone", new_phone)
                return redirect(reverse("accounts:security") + "#phone")
    if action == "phone_confirm":
        phone_code_form = GuardianCodeForm(request.POST)
        new_phone = _flow_get(request, "new_phone")
        if not verified or not new_phone:
            messages.error(request, "请先完成身份验证并获取新手机号的验证码")
        elif phone_code_form.is_valid():
            if check_code(new_phone, CodePurpose.VERIFY, phone_code_form.cleaned_data["code"]).ok:
                try:
                    do_change_phone(user, new_phone, acting_user=user)
                except ValidationError as exc:
                    phone_code_form.add_error(None, exc.messages[0])
                else:
                    _flow_drop(request, "new_phone")
                    messages.success(request, "手机号已更换")
                    return redirect("accounts:security")
            else:
                phone_code_form.add_error("code", "验证码错误或已失效")
    if action == "totp_begin":
        do_begin_totp(user, new_secret(), acting_user=user)
        return redirect(reverse("accounts:security") + "#totp")
    if action == "totp_confirm":
        totp_form = TotpForm(request.POST)
        if totp_form.is_valid() and user.totp_secret and not user.totp_enabled:
            step = matching_step(user.totp_secret, totp_form.cleaned_data["totp"])
            if step is None:
                totp_form.add_error("totp", "动态码不正确，请确认手机时间准确后重试")
            else:
                do_enable_totp(user, step=step, acting_user=user)
                messages.success(request, "身份验证器已添加，以后登录时需要输入动态码")
                return redirect(reverse("accounts:security") + "#totp")
    if action == "totp_disable":
        if not verified:
            messages.error(request, "关闭身份验证器前请先完成身份验证")
        else:
            do_disable_totp(user, acting_user=user)
            messages.success(request, "身份验证器已关闭")
        return redirect(reverse("accounts:security") + "#totp")
    if action == "revoke":
        try:
            sid = uuid.UUID(request.POST.get("session", ""))
        except ValueError:
            raise Http404 from None
        if do_revoke_session(user, sid, acting_user=user):
            messages.success(request, "已退出该设备")
        return redirect(reverse("accounts:security") + "#sessions")

    current = hashlib.sha256(request.session.session_key.encode()).hexdigest() if request.session.session_key else ""
    sessions = [{**item, "current": item["key_hash"] == current} for item in live_sessions(user)]
    from lingjing.accounts.phone import mask_phone

    return render(request, "accounts/security.html", {
        "profile": user,
        "verified": verified,
        "password_form": password_form,
        "verify_form": verify_form,
        "phone_form": phone_form,
        "phone_code_form": phone_code_form,
        "pending_phone": mask_phone(_flow_get(request, "new_phone")),
        "totp_form": totp_form,
        "totp_pending": bool(user.totp_secret) and not user.totp_enabled,
        "totp_secret": user.totp_secret if (user.totp_secret and not user.totp_enabled) else "",
        "sessions": sessions,
    })


def _change_password(
    request: HttpRequest, user: User, form: ChangePasswordForm, verified: bool
) -> HttpResponse | None:
    old = form.cleaned_data["old_password"]
    new = form.cleaned_data["new_password"]
    if old:
        if not user.check_password(old):
            form.add_error("old_password", "当前密码不正确")
            return None
        via = "old_password"
    elif verified:
        via = "step_up"
    else:
        form.add_error(None, "请输入当前密码，或先完成短信身份验证")
        return None
    try:
        validate_password(new, user)
    except ValidationError as exc:
        form.add_error("new_password", exc.messages)
        return None
    do_change_password(user, new, acting_user=user, request=request, via=via)
    messages.success(request, "密码已修改，其他设备上的网页登录已失效")
    return redirect("accounts:security")


@login_required
@require_GET
def totp_qr(request: HttpRequest) -> HttpResponse:
    """The pending authenticator secret as an SVG QR code (only while enrolling)."""
    user = _current_user(request)
    if not user.totp_secret or user.totp_enabled:
        raise Http404
    uri = provisioning_uri(user.totp_secret, user.phone_masked or str(user.pk)[:8])
    response = HttpResponse(qr_svg(uri), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


# --- guardian ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def guardian_page(request: HttpRequest) -> HttpResponse:
    """For a child's guardian: prove the guardian number with a code, then confirm, decline or withdraw."""
    action = request.POST.get("action") if request.method == "POST" else None
    phone = _flow_get(request, "guardian_phone")  # a number the code was sent to
    proven = _flow_get(request, "guardian_proven")  # the number after the code matched
    phone_form = PhoneForm(initial={"phone": ""})
    code_form = GuardianCodeForm()
    if action == "send_code":
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            phone = phone_form.cleaned_data["phone"]
            if _send(request, phone, CodePurpose.GUARDIAN):
                _flow_put(request, "guardian_phone", phone)
                _flow_drop(request, "guardian_proven")
                return redirect("accounts:guardian")
    elif action == "verify" and phone:
        code_form = GuardianCodeForm(request.POST)
        if code_form.is_valid():
            if check_code(phone, CodePurpose.GUARDIAN, code_form.cleaned_data["code"]).ok:
                _flow_put(request, "guardian_proven", phone)
                _flow_drop(request, "guardian_phone")
                return redirect("accounts:guardian")
            code_form.add_error("code", "验证码错误或已失效")
    elif action in ("confirm", "decline", "withdraw") and proven:
        consent_id = request.POST.get("consent", "")
        try:
            uuid.UUID(consent_id)
        except ValueError:
            raise Http404 from None
        if action == "confirm":
            from lingjing.accounts.actions import do_confirm_guardian

            done = do_confirm_guardian(consent_id, guardian_phone=proven)
            message = "已同意，孩子的账号现在可以正常使用"
        elif action == "decline":
            done = guardian_service.decline(consent_id, guardian_phone=proven)
            message = "已拒绝，孩子的注册信息已删除"
        else:
            done = guardian_service.withdraw(consent_id, guardian_phone=proven)
            message = "已撤回同意，孩子的账号及其个人信息已删除"
        if done:
            messages.success(request, message)
        else:
            messages.error(request, "该申请已处理或已过期")
        return redirect("accounts:guardian")
    elif action == "finish":
        _flow_drop(request, "guardian_phone", "guardian_proven")
        return redirect("accounts:guardian")
    requests = guardian_service.requests_for(proven) if proven else []
    from lingjing.accounts.phone import mask_phone

    return render(request, "accounts/guardian.html", {
        "phone_form": phone_form, "code_form": code_form, "code_sent_to": mask_phone(phone) if phone else "",
        "proven": mask_phone(proven) if proven else "", "requests": requests,
    })
