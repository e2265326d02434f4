"""Pages of the children app, under ``/children/``.

Staff (``/children/staff/``): ask to open a child's data with a stated purpose; a second member of staff
approves; the record opens only under a live approval, after a fresh SMS verification, and every opening is
logged. Guardians (``/children/guardian/``): after proving their number on the accounts app's guardian page, see,
correct and delete their child's data.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lingjing.accounts.guardian import guardian_proven_phone
from lingjing.children.access import (
    access_child_record,
    access_guardian_child,
    access_request,
    active_grant,
    guardian_children,
    requests_for,
)
from lingjing.children.actions import (
    do_decide_child_access,
    do_guardian_correct,
    do_record_guardian_view,
    do_request_child_access,
    do_revoke_child_access,
)
from lingjing.children.forms import AccessRequestForm, DecideForm, GuardianCorrectionForm, VerifyForm
from lingjing.children.rules import is_child


def _messages_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def _staff_only(user: Any) -> None:
    if not (user.is_authenticated and user.is_staff):
        raise Http404("内容不存在")


# --- staff ------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def staff_home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    _staff_only(user)
    form = AccessRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            req = do_request_child_access(form.cleaned_data["child"], purpose=form.cleaned_data["purpose"],
                                          hours=form.cleaned_data["hours"], acting_user=user)
        except ValidationError as exc:
            form.add_error(None, _messages_of(exc))
        else:
            messages.success(request, _("申请已提交，须由另一名工作人员审批"))
            return redirect("children:request", request_id=req.pk)
    rows = list(requests_for(user).select_related("requested_by", "decided_by")[:200])
    return render(request, "children/staff_home.html", {"form": form, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def staff_request(request: HttpRequest, request_id: str) -> HttpResponse:
    user: Any = request.user
    req = access_request(user, request_id)
    form = DecideForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            do_revoke_child_access(req, acting_user=user)
            messages.success(request, _("已撤销"))
            return redirect("children:request", request_id=req.pk)
        if form.is_valid():
            try:
                do_decide_child_access(req, approve=form.cleaned_data["decision"] == "approve",
                                       note=form.cleaned_data["note"], acting_user=user)
            except ValidationError as exc:
                form.add_error(None, _messages_of(exc))
            else:
                messages.success(request, _("已审批"))
                return redirect("children:request", request_id=req.pk)
    return render(request, "children/staff_request.html", {
        "req": req, "form": form, "uses": list(req.uses.select_related("staff")[:100]),
        "can_decide": req.status == "pending" and user.pk != req.requested_by_id
        and user.has_perm("children.approve_childaccessrequest"),
        "can_open": req.active() and user.pk == req.requested_by_id,
    })


@login_required
@require_http_methods(["GET", "POST"])
def staff_record(request: HttpRequest, child_id: str) -> HttpResponse:
    """Open a child's data: a live approval first (else 403), then a fresh verification, then the logged view."""
    from lingjing.accounts.stepup import is_recently_verified, verify_and_grant

    user: Any = request.user
    _staff_only(user)
    child = get_user_model().objects.filter(pk=child_id).first()
    if child is None or not is_child(child):
        raise Http404("内容不存在")
    if active_grant(user, child.pk) is None:
        raise PermissionDenied("查看儿童个人信息须先提交用途说明，并经另一名工作人员审批（限时有效）")
    if not is_recently_verified(request):
        form = VerifyForm(request.POST or None)
        if request.method == "POST" and request.POST.get("action") == "send":
            from lingjing.accounts.codes import RateLimited, SmsUnavailable, request_code
            from lingjing.accounts.models import CodePurpose
            from lingjing.core.ratelimit import client_ip

            try:
                request_code(user.phone, CodePurpose.VERIFY, ip=client_ip(request), acting_user=user)
                messages.success(request, _("验证码已发送"))
            except (RateLimited, SmsUnavailable) as exc:
                messages.error(request, exc.message)
            return redirect("children:record", child_id=child.pk)
        if request.method == "POST" and form.is_valid():
            if verify_and_grant(request, form.cleaned_data["code"]):
                return redirect("children:record", child_id=child.pk)
            form.add_error("code", _("验证码错误或已失效"))
        return render(request, "children/verify.html", {"form": form})
    from lingjing.privacy.engines.export import export_person
    from lingjing.privacy.labels import add_display

    child, grant = access_child_record(user, child.pk, action="view")
    return render(request, "children/staff_record.html", {
        "child": child, "grant": grant, "data": add_display(export_person(child, lang="zh")),
    })


# --- guardians --------------------------------------------------------------------------------------------


def guardian_home(request: HttpRequest) -> HttpResponse:
    phone = guardian_proven_phone(request)
    items = guardian_children(phone) if phone else []
    return render(request, "children/guardian_home.html", {"proven": bool(phone), "items": items})


@require_http_methods(["GET", "POST"])
def guardian_child(request: HttpRequest, consent_id: str) -> HttpResponse:
    """See, correct and delete one child's data (PIPL art. 31; policy 六)."""
    from lingjing.accounts import guardian as guardian_service
    from lingjing.privacy.engines.export import export_person
    from lingjing.privacy.labels import add_display

    child, consent, phone = access_guardian_child(request, consent_id)
    form = GuardianCorrectionForm(request.POST or None, initial={"nickname": child.nickname})
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete":
            done = (guardian_service.withdraw if consent.status == "confirmed" else guardian_service.decline)(
                consent.pk, guardian_phone=phone
            )
            if done:
                messages.success(request, _("孩子的账号及其个人信息已删除"))
            else:
                messages.error(request, _("该账号已处理"))
            return redirect("children:guardian")
        if action == "correct" and form.is_valid():
            try:
                changed = do_guardian_correct(
                    child, nickname=form.cleaned_data["nickname"] or None,
                    birth_date=form.cleaned_data["birth_date"], guardian_phone=phone,
                )
            except ValidationError as exc:
                form.add_error(None, _messages_of(exc))
            else:
                messages.success(request, _("已更正") if changed else _("没有需要更正的内容"))
                return redirect("children:guardian-child", consent_id=consent.pk)
    else:
        do_record_guardian_view(child, guardian_phone=phone)
    return render(request, "children/guardian_child.html", {
        "child": child, "consent": consent, "data": add_display(export_person(child, lang="zh")), "form": form,
    })
