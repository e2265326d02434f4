"""Pages of the sharing app, under ``/privacy/sharing/``: the person's sharing log, the recipients (with the
separate-consent switch and the cross-border details of PIPL art. 39), and the staff workflow for legal requests."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lingjing.sharing.access import (
    access_legal_request,
    access_recipient,
    legal_requests_for,
    my_sharing_records,
)
from lingjing.sharing.consent_link import consent_in_force
from lingjing.sharing.forms import ConsentForm, DecideForm, LegalRequestForm
from lingjing.sharing.policy import recipient_row, recipients_for_policy

PAGE_SIZE = 50


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _first_error(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


@login_required
def my_log(request: HttpRequest) -> HttpResponse:
    """Every disclosure of the person's data: to whom, when, why, on which basis, which categories."""
    page = Paginator(my_sharing_records(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    lang = _lang(request)
    return render(request, "sharing/log.html", {
        "page": page,
        "records": [r.to_dict(lang) for r in page.object_list],
    })


def recipients(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    return render(request, "sharing/recipients.html", {"recipients": recipients_for_policy(lang)})


@require_http_methods(["GET", "POST"])
def recipient_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A recipient's details — all PIPL art. 23 / 39 asks to be shown — and, signed in, the separate consent."""
    recipient = access_recipient(slug)
    user: Any = request.user
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect(f"/accounts/login/?next=/privacy/sharing/recipients/{slug}/")
        form = ConsentForm(request.POST)
        if form.is_valid() and recipient.needs_consent:
            from lingjing.consent.actions import ConsentError, do_set_consent
            from lingjing.consent.models import Method

            granted = bool(form.cleaned_data["granted"])
            try:
                do_set_consent(user, recipient.consent_key, granted, method=Method.SETTINGS, request=request,
                               acting_user=user)
            except ConsentError:
                messages.error(request, _("该接收方暂时不能同意，请稍后再试"))
            else:
                done = _("已同意") if granted else _("已撤回同意，此后不再向该接收方提供您的个人信息")
                messages.success(request, done)
        return redirect("sharing:recipient", slug=slug)
    return render(request, "sharing/recipient.html", {
        "r": recipient_row(recipient, _lang(request)),
        "consented": bool(user.is_authenticated and recipient.needs_consent and consent_in_force(user, recipient)),
    })


@login_required
@require_http_methods(["GET", "POST"])
def legal_requests(request: HttpRequest) -> HttpResponse:
    """Staff: the legal requests, and registering a new one."""
    from lingjing.sharing.actions import do_register_legal_request

    user: Any = request.user
    if not (user.is_staff and user.has_perm("sharing.view_legalrequest")):
        raise PermissionDenied("没有查看国家机关调取请求的权限")
    form = LegalRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            req = do_register_legal_request(
                authority=data["authority"], reference_no=data["reference_no"], document_kind=data["document_kind"],
                legal_basis_text=data["legal_basis_text"], categories=data["categories"], people=data["people"],
                purpose=data["purpose"], confidential_days=data["confidential_days"], acting_user=user,
            )
        except ValidationError as exc:
            form.add_error(None, _first_error(exc))
        else:
            messages.success(request, _("已登记，等待另一名工作人员审批"))
            return redirect("sharing:legal-request", request_id=req.pk)
    rows = legal_requests_for(user)[:200]
    return render(request, "sharing/legal_list.html", {"form": form, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def legal_request(request: HttpRequest, request_id: str) -> HttpResponse:
    """Staff: one legal request; a second member of staff approves or rejects it here."""
    from lingjing.sharing.actions import do_decide_legal_request

    user: Any = request.user
    req = access_legal_request(user, request_id, write=request.method == "POST")
    form = DecideForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_decide_legal_request(req, approve=form.cleaned_data["decision"] == "approve",
                                    note=form.cleaned_data["note"], acting_user=user)
        except ValidationError as exc:
            form.add_error(None, _first_error(exc))
        else:
            messages.success(request, _("已审批"))
            return redirect("sharing:legal-request", request_id=req.pk)
    return render(request, "sharing/legal_detail.html", {
        "req": req,
        "subjects": req.subjects.count(),
        "form": form,
        "can_decide": user.has_perm("sharing.decide_legalrequest") and user.pk != req.requested_by_id,
    })
