"""Requests without an account session (policy 五(一): "使用我们的Web表单联系我们").

* ``/privacy/requests/verify`` — the web form: a phone number, then the 6-digit code sent to it. The answer to the
  first step is the same whether or not the number has an account; nothing about an account is shown before the
  code is right. Then, for 30 minutes, this browser may file requests about the account with that number (the code
  counts as the fresh verification copy, transfer and cancellation need, for its first 10 minutes) and follow
  them, and follow the applications and requests it filed as a guardian or relative.
* ``/privacy/requests/relative`` — a close relative of a deceased user (PIPL art. 49), their own phone proven the
  same way, applies with proof; staff verify before anything is revealed.
* ``/privacy/requests/guardian/<consent>`` — a guardian proven on the guardian page files a request for their child.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lingjing.privacy.access import (
    forget_proven_phone,
    proven_account,
    proven_phone,
    proxies_for_phone,
    remember_proven_phone,
    viewer_of,
    visible_requests,
)
from lingjing.privacy.actions import (
    DuplicateRequest,
    Requester,
    correction_details,
    do_register_guardian_proxy,
    do_submit_relative_application,
    submit_request,
)
from lingjing.privacy.requests.forms import CodeForm, PhoneForm, RelativeForm, RequestForm
from lingjing.privacy.requests.models import (
    NEEDS_FRESH_VERIFICATION,
    TYPE_EN,
    Channel,
    RequesterKind,
    RequestType,
)

FLOW_KEY = "lj_rights_flow_phone"  # the number being verified (masked form and index only) between the two steps
FRESH_SECONDS = 600


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _messages_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def _normalise(raw: str) -> str | None:
    from lingjing.accounts.phone import InvalidPhone, normalise_phone

    try:
        return normalise_phone(raw)
    except InvalidPhone:
        return None


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    from lingjing.accounts.codes import RateLimited, SmsUnavailable, check_code, request_code
    from lingjing.accounts.models import CodePurpose
    from lingjing.accounts.phone import mask_phone
    from lingjing.core.ratelimit import client_ip

    action = request.POST.get("action", "")
    phone_form = PhoneForm(request.POST if action == "send" else None)
    code_form = CodeForm(request.POST if action == "check" else None)
    if action == "forget":
        forget_proven_phone(request)
        return redirect("privacy:verify")
    if action == "send" and phone_form.is_valid():
        e164 = _normalise(phone_form.cleaned_data["phone"])
        if e164 is None:
            phone_form.add_error("phone", _("请输入有效的手机号"))
        else:
            try:
                request_code(e164, CodePurpose.VERIFY, ip=client_ip(request))
            except (RateLimited, SmsUnavailable) as exc:
                phone_form.add_error("phone", exc.message)
            else:
                # The same answer whether or not the number has an account (no enumeration).
                request.session[FLOW_KEY] = {"p": e164, "t": time.time()}
                messages.success(request, _("如果该号码可以接收短信，验证码已发送，5 分钟内有效"))
                return redirect("privacy:verify")
    flow = request.session.get(FLOW_KEY)
    if action == "check" and isinstance(flow, dict) and code_form.is_valid():
        e164 = str(flow.get("p", ""))
        if e164 and check_code(e164, CodePurpose.VERIFY, code_form.cleaned_data["code"]).ok:
            request.session.pop(FLOW_KEY, None)
            remember_proven_phone(request, e164, mask_phone(e164))
            request.session["lj_rights_fresh"] = time.time()
            return redirect(request.GET.get("next") or "privacy:verify")
        code_form.add_error("code", _("验证码错误或已失效"))
    proven = proven_phone(request)
    account = proven_account(request) if proven else None
    viewer = viewer_of(request)
    rows = list(visible_requests(viewer)[:200]) if proven else []
    proxies = list(proxies_for_phone(str(proven["i"]))[:50]) if proven else []
    return render(request, "privacy/requests/verify.html", {
        "phone_form": phone_form, "code_form": code_form, "waiting": isinstance(flow, dict) and not proven,
        "proven": proven, "account": account, "rows": rows, "proxies": proxies,
        "types": [{"type": t.value, "label": TYPE_EN[t.value] if _lang(request) == "en" else t.label}
                  for t in RequestType],
    })


def _fresh(request: HttpRequest) -> bool:
    return time.time() - float(request.session.get("lj_rights_fresh", 0) or 0) < FRESH_SECONDS


@require_http_methods(["GET", "POST"])
def verified_new(request: HttpRequest) -> HttpResponse:
    """A request about the account whose phone this browser just proved (the web form's second half)."""
    proven = proven_phone(request)
    account = proven_account(request) if proven else None
    if proven is None or account is None:
        return redirect("privacy:verify")
    type_ = request.GET.get("type") or request.POST.get("type") or ""
    if type_ not in RequestType.values:
        return redirect("privacy:verify")
    if type_ in NEEDS_FRESH_VERIFICATION and not _fresh(request):
        forget_proven_phone(request)
        messages.error(request, _("复制、转移和注销须在验证后 10 分钟内提交，请重新获取验证码"))
        return redirect("privacy:verify")
    form = RequestForm(request.POST or None, type_=type_, user=account, fresh_needed=False)
    if request.method == "POST" and form.is_valid():
        details = form.cleaned_data.get("details", "")
        if type_ == RequestType.CORRECTION and form.correction_items():
            details = correction_details(form.correction_items(), details)
        requester = Requester(channel=Channel.WEB_FORM, verification="sms_code", actor=f"u:{account.pk}",
                              phone_index=str(proven["i"]))
        try:
            req = submit_request(account, type_, requester=requester, params=form.params(), details=details,
                                 deletion_ground=form.cleaned_data.get("deletion_ground", ""),
                                 transfer_endpoint=form.params().get("endpoint", ""))
        except DuplicateRequest as exc:
            messages.error(request, exc.message)
            return redirect("privacy:request", request_id=exc.existing.pk)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _messages_of(exc) if isinstance(exc, ValidationError) else str(exc))
        else:
            messages.success(request, _("请求已受理，编号 %(ref)s") % {"ref": req.reference})
            return redirect("privacy:request", request_id=req.pk)
    lang = _lang(request)
    return render(request, "privacy/requests/new.html", {
        "form": form, "type": type_, "label": TYPE_EN[type_] if lang == "en" else RequestType(type_).label,
        "help": "", "fresh_needed": False, "webform": True, "self_service": [],
    })


@require_http_methods(["GET", "POST"])
def relative(request: HttpRequest) -> HttpResponse:
    """A close relative's application (PIPL art. 49): their own phone proven first, then the form with proof."""
    from lingjing.privacy.requests.proofs import store_proof_files

    proven = proven_phone(request)
    form = RelativeForm(request.POST or None)
    if proven is None:
        return render(request, "privacy/requests/relative.html", {"form": None, "proven": None})
    if request.method == "POST" and form.is_valid():
        deceased = _normalise(form.cleaned_data["deceased_phone"])
        if deceased is None:
            form.add_error("deceased_phone", _("请输入有效的手机号"))
        else:
            try:
                names = store_proof_files(request.FILES.getlist("proof"))
                proxy = do_submit_relative_application(
                    name=form.cleaned_data["name"], phone=str(proven["p"]),
                    relationship=form.cleaned_data["relationship"], deceased_phone=deceased,
                    wanted=form.cleaned_data["wanted"], details=form.cleaned_data["details"], proof_files=names)
            except ValidationError as exc:
                form.add_error(None, _messages_of(exc))
            else:
                text = _("申请已提交（编号 P-%(ref)s）。工作人员核验证明材料后会通过短信告知您结果。")
                messages.success(request, text % {"ref": proxy.pk.hex[:8].upper()})
                return redirect("privacy:verify")
    return render(request, "privacy/requests/relative.html", {"form": form, "proven": proven})


@require_http_methods(["GET", "POST"])
def guardian_new(request: HttpRequest, consent_id: str) -> HttpResponse:
    """A guardian, proven on the guardian page, files a request for their child (PIPL art. 31; policy 六)."""
    from lingjing.children.access import access_guardian_child

    child, _consent, guardian_phone = access_guardian_child(request, consent_id)
    type_ = request.GET.get("type") or request.POST.get("type") or ""
    lang = _lang(request)
    if type_ not in RequestType.values:
        return render(request, "privacy/requests/guardian.html", {
            "child": child, "consent_id": consent_id,
            "types": [{"type": t.value, "label": TYPE_EN[t.value] if lang == "en" else t.label} for t in RequestType],
        })
    form = RequestForm(request.POST or None, type_=type_, user=child, fresh_needed=False)
    if request.method == "POST" and form.is_valid():
        from lingjing.accounts.actions import phone_ref
        from lingjing.security.crypto import blind_index

        proxy = do_register_guardian_proxy(guardian_phone=guardian_phone, child=child)
        details = form.cleaned_data.get("details", "")
        if type_ == RequestType.CORRECTION and form.correction_items():
            details = correction_details(form.correction_items(), details)
        requester = Requester(kind=RequesterKind.GUARDIAN, channel=Channel.GUARDIAN, verification="guardian",
                              actor="guardian:" + phone_ref(guardian_phone), phone_index=blind_index(guardian_phone),
                              proxy=proxy)
        try:
            req = submit_request(child, type_, requester=requester, params=form.params(), details=details,
                                 deletion_ground=form.cleaned_data.get("deletion_ground", ""),
                                 transfer_endpoint=form.params().get("endpoint", ""))
        except DuplicateRequest as exc:
            messages.error(request, exc.message)
            return redirect("privacy:request", request_id=exc.existing.pk)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _messages_of(exc) if isinstance(exc, ValidationError) else str(exc))
        else:
            messages.success(request, _("已代孩子提交请求，编号 %(ref)s") % {"ref": req.reference})
            return redirect("privacy:request", request_id=req.pk)
    return render(request, "privacy/requests/new.html", {
        "form": form, "type": type_, "label": TYPE_EN[type_] if lang == "en" else RequestType(type_).label,
        "help": "", "fresh_needed": False, "webform": True, "child": child, "self_service": [],
    })
