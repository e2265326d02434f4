"""The privacy officers' desk at ``/privacy/requests/staff/`` (permission ``privacy.view_rightsrequest`` to read,
``privacy.change_rightsrequest`` to act): the queue by deadline, one request with its history and every action
(take it, note, ask the requester, refuse with a ground, grant a deletion, apply a correction, record a fee), the
close relatives' applications with their proof, the deletion notices to hand on by other means, and the
recipients' transfer endpoints.

Opening a request's sealed text (the requester's words, a relative's proof) needs a fresh verification of the
staff member (step-up, like every staff read of personal data) and is audited (``RIGHTS_REQUEST_VIEWED``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lingjing.privacy.access import (
    access_staff_propagation,
    access_staff_proxy,
    access_staff_request,
    is_rights_staff,
    staff_propagations,
    staff_proxies,
    staff_requests,
)
from lingjing.privacy.actions import (
    InvalidTransition,
    do_add_note,
    do_apply_correction,
    do_ask_requester,
    do_assign_request,
    do_complete_request,
    do_decide_relative,
    do_grant_deletion,
    do_record_fee_paid,
    do_record_staff_view,
    do_refuse_request,
    do_resume_request,
    do_save_endpoint,
    do_set_request_type,
)
from lingjing.privacy.requests.forms import AskForm, EndpointForm, NoteForm, ProxyDecisionForm, RefuseForm
from lingjing.privacy.requests.models import OPEN_STATUSES, PortabilityEndpoint, RequestType
from lingjing.privacy.requests.propagation import do_mark_propagation_done


def _messages_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def _staff(request: HttpRequest, *, write: bool = False) -> Any:
    if not is_rights_staff(request.user, write=write):
        raise Http404("页面不存在")
    return request.user


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    now = timezone.now()
    show = request.GET.get("show", "open")
    rows = staff_requests(user)
    rows = rows.filter(status__in=OPEN_STATUSES) if show == "open" else rows
    return render(request, "privacy/requests/staff/queue.html", {
        "rows": list(rows.order_by("due_at")[:300]), "now": now, "show": show,
        "proxies_waiting": staff_proxies(user).filter(status="submitted").count(),
        "notices_waiting": staff_propagations(user).filter(status__in=["manual", "failed"]).count(),
    })


def _verified(request: HttpRequest) -> bool:
    from lingjing.accounts.stepup import is_recently_verified

    return is_recently_verified(request)


@login_required
@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    user = _staff(request)
    req = access_staff_request(user, request_id)
    if request.method == "POST":
        return _act(request, req.pk)
    verified = _verified(request)
    if verified:
        do_record_staff_view(req, acting_user=user)
    corrections: list[dict[str, str]] = []
    if verified and req.type == RequestType.CORRECTION:
        from lingjing.privacy.actions import correction_items

        corrections = correction_items(req)
    return render(request, "privacy/requests/staff/detail.html", {
        "req": req, "events": list(req.events.all()), "verified": verified,
        "can_act": is_rights_staff(user, write=True),
        "note_form": NoteForm(), "ask_form": AskForm(), "refuse_form": RefuseForm(),
        "correction_items": corrections, "types": [RequestType.ACCESS, RequestType.CORRECTION,
                                                        RequestType.EXPLANATION],
    })


def _act(request: HttpRequest, request_id: Any) -> HttpResponse:
    user = _staff(request, write=True)
    req = access_staff_request(user, request_id, write=True)
    action = request.POST.get("action", "")
    try:
        if action == "verify":
            from lingjing.accounts.stepup import verify_and_grant

            if request.POST.get("send"):
                from lingjing.accounts.codes import RateLimited, SmsUnavailable, request_code
                from lingjing.core.ratelimit import client_ip

                try:
                    request_code(user.phone, "verify", ip=client_ip(request), acting_user=user)
                    messages.success(request, _("验证码已发送"))
                except (RateLimited, SmsUnavailable) as exc:
                    messages.error(request, exc.message)
            elif not verify_and_grant(request, request.POST.get("code", "")):
                messages.error(request, _("验证码错误或已失效"))
        elif action == "assign":
            do_assign_request(req, assignee=user, acting_user=user)
        elif action == "note":
            form = NoteForm(request.POST)
            if form.is_valid():
                do_add_note(req, note=form.cleaned_data["note"], acting_user=user)
        elif action == "ask":
            form_ask = AskForm(request.POST)
            if form_ask.is_valid():
                do_ask_requester(req, note=form_ask.cleaned_data["note"], acting_user=user)
        elif action == "resume":
            do_resume_request(req, acting_user=user)
        elif action == "refuse":
            form_refuse = RefuseForm(request.POST)
            if not form_refuse.is_valid():
                raise ValidationError(_("请选择拒绝依据并写明理由"))
            do_refuse_request(req, ground=form_refuse.cleaned_data["ground"],
                              reason=form_refuse.cleaned_data["reason"], acting_user=user)
        elif action == "grant_deletion":
            do_grant_deletion(req, acting_user=user)
        elif action == "apply_correction":
            from lingjing.privacy.actions import correction_items

            if not _verified(request):
                raise PermissionDenied(_("请先完成身份验证"))
            do_apply_correction(req, items=correction_items(req), acting_user=user)
        elif action == "complete":
            if req.type not in (RequestType.CORRECTION, RequestType.EXPLANATION, RequestType.ACCESS):
                raise ValidationError(_("这种请求由系统完成"))
            do_complete_request(req, acting_user=user, code="handled_by_staff",
                                result={"note": "handled by staff"})
        elif action == "fee_paid":
            do_record_fee_paid(req, acting_user=user)
        elif action == "set_type":
            do_set_request_type(req, type_=request.POST.get("type", ""), acting_user=user)
        else:
            raise Http404("未知操作")
    except (InvalidTransition, ValidationError) as exc:
        messages.error(request, _messages_of(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    return redirect("privacy:staff-request", request_id=req.pk)


@login_required
def proxies(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    return render(request, "privacy/requests/staff/proxies.html", {"rows": list(staff_proxies(user)[:300])})


@login_required
@require_http_methods(["GET", "POST"])
def proxy_detail(request: HttpRequest, proxy_id: str) -> HttpResponse:
    from lingjing.accounts.phone import InvalidPhone, normalise_phone

    user = _staff(request)
    proxy = access_staff_proxy(user, proxy_id)
    form = ProxyDecisionForm(request.POST or None)
    verified = _verified(request)
    if request.method == "POST" and form.is_valid():
        user = _staff(request, write=True)
        proxy = access_staff_proxy(user, proxy_id, write=True)
        verify = form.cleaned_data["decision"] == "verify"
        deceased = None
        if verify:
            from lingjing.privacy.access import account_by_phone

            try:
                deceased = account_by_phone(normalise_phone(form.cleaned_data["account_phone"]))
            except InvalidPhone:
                deceased = None
        try:
            created = do_decide_relative(proxy, verify=verify, reason=form.cleaned_data["reason"], deceased=deceased,
                                         no_contrary_arrangement=form.cleaned_data["no_contrary_arrangement"],
                                         acting_user=user)
        except (ValidationError, InvalidTransition) as exc:
            form.add_error(None, _messages_of(exc))
        else:
            messages.success(request, _("已处理；创建了 %(n)s 个请求") % {"n": len(created)})
            return redirect("privacy:staff-proxy", proxy_id=proxy.pk)
    if verified:
        do_record_staff_view(proxy, acting_user=user)
    return render(request, "privacy/requests/staff/proxy.html", {
        "proxy": proxy, "form": form, "verified": verified, "files": list(enumerate(proxy.proof_files)),
    })


@login_required
def proxy_file(request: HttpRequest, proxy_id: str, index: int) -> FileResponse:
    from django.core.files.storage import default_storage

    user = _staff(request)
    proxy = access_staff_proxy(user, proxy_id)
    if not _verified(request) or index >= len(proxy.proof_files):
        raise Http404("文件不存在")
    name = proxy.proof_files[index]
    do_record_staff_view(proxy, acting_user=user, what=f"proof:{index}")
    return FileResponse(default_storage.open(name, "rb"), as_attachment=True, filename=name.rsplit("/", 1)[-1])


@login_required
@require_http_methods(["GET", "POST"])
def propagations(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    if request.method == "POST":
        user = _staff(request, write=True)
        prop = access_staff_propagation(user, request.POST.get("id"))
        do_mark_propagation_done(prop, acting_user=user)
        messages.success(request, _("已记录为已另行通知"))
        return redirect("privacy:staff-propagations")
    return render(request, "privacy/requests/staff/propagations.html",
                  {"rows": list(staff_propagations(user)[:300])})


@login_required
@require_http_methods(["GET", "POST"])
def endpoints(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = _staff(request, write=True)
        try:
            do_save_endpoint(form.cleaned_data["recipient"], form.cleaned_data["url"],
                             active=form.cleaned_data["active"], acting_user=user)
        except ValidationError as exc:
            form.add_error(None, _messages_of(exc))
        else:
            messages.success(request, _("已保存"))
            return redirect("privacy:staff-endpoints")
    return render(request, "privacy/requests/staff/endpoints.html", {
        "form": form, "rows": list(PortabilityEndpoint.objects.order_by("recipient_slug")),
    })
