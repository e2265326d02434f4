"""The person's own pages: ``/privacy/my-data``, ``/privacy/requests`` (list, new, detail, download), the undo
page of an account in its cancellation window, and the public metrics page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lingjing.privacy.access import Viewer, access_rights_request, viewer_actor, viewer_of, visible_requests
from lingjing.privacy.actions import (
    DuplicateRequest,
    InvalidTransition,
    Requester,
    correction_details,
    do_record_access,
    do_record_download,
    do_record_my_data_view,
    do_resume_request,
    do_retry_transfer,
    do_withdraw_request,
    submit_request,
)
from lingjing.privacy.requests import downloads, explain
from lingjing.privacy.requests.forms import RequestForm
from lingjing.privacy.requests.models import (
    NEEDS_FRESH_VERIFICATION,
    TYPE_EN,
    Channel,
    RequestStatus,
    RequestType,
    RightsRequest,
)

PAGE_ITEMS = 50  # per category on the page; the copy has everything

TYPE_HELP: dict[str, tuple[str, str]] = {
    RequestType.ACCESS: ("查看我们持有的关于您的全部个人信息，以及每项信息的处理目的、法律依据和保存期限。",
                         "See every datum we hold about you, with its purpose, legal basis and retention."),
    RequestType.COPY: ("获取一份包含全部个人信息和文件的副本（zip：中文网页、JSON、CSV），"
                       "下载链接 7 天有效；每天一份。",
                       "Get a copy of all your data and files (zip: Chinese HTML, JSON, CSV); link valid 7 days."),
    RequestType.CORRECTION: ("更正、补充不准确或不完整的个人信息。", "Correct or complete inaccurate data."),
    RequestType.DELETION: ("在隐私政策所列五种情形下，删除部分个人信息；已从我们获得这些信息的接收方也会被通知删除。",
                           "Delete some of your data on one of the policy's five grounds; recipients are told too."),
    RequestType.RESTRICTION: ("暂停对您个人信息的处理（存储和必要的安全措施除外），立即生效，可随时解除。",
                              "Stop processing (except storage and security) at once; lift it any time."),
    RequestType.WITHDRAW_CONSENT: ("撤回此前给予的同意，立即生效，不影响撤回前的处理。",
                                   "Withdraw consent, effective at once; earlier processing is unaffected."),
    RequestType.CANCEL_ACCOUNT: ("注销账号：冷静期内可撤销，期满后删除或匿名化您的全部个人信息。",
                                 "Cancel the account: undo within the waiting period, then everything is erased."),
    RequestType.TRANSFER: ("将您的个人信息副本直接传输给您指定的其他个人信息处理者（经 HTTPS 核实接收方身份）。",
                           "Send a copy straight to another service you name (its identity checked over HTTPS)."),
    RequestType.EXPLANATION: ("解释对您作出的自动化决定以及个人信息处理规则，并可申请人工复核。",
                              "Explain automated decisions about you and our processing rules; ask for human review."),
}


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _messages_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def _types(lang: str) -> list[dict[str, str]]:
    en = lang == "en"
    return [{"type": t.value, "label": TYPE_EN[t.value] if en else t.label,
             "help": TYPE_HELP[t.value][1 if en else 0]} for t in RequestType]


def _trim(data: dict[str, dict[str, Any]], lang: str) -> tuple[dict[str, dict[str, Any]], int]:
    """The first PAGE_ITEMS items per category, each with its readable ``display`` (是/否, local time, choices)."""
    from lingjing.privacy.labels import add_display

    total = 0
    shown = {}
    for cid, group in data.items():
        total += len(group["items"])
        shown[cid] = {**group, "count": len(group["items"]), "items": group["items"][:PAGE_ITEMS]}
    return add_display(shown, lang), total


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    """Every personal datum held about the signed-in person, grouped by category (C5.1; PIPL art. 45)."""
    from lingjing.privacy.engines.export import export_person

    lang = _lang(request)
    data, total = _trim(export_person(request.user, lang=lang), lang)
    do_record_my_data_view(request.user, records=total, channel="web", acting_user=request.user)
    return render(request, "privacy/my_data.html", {"data": data, "total": total, "page_items": PAGE_ITEMS})


def request_list(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    rows = list(visible_requests(viewer)[:200]) if viewer.anyone else []
    children: list[Any] = []
    if viewer.guardian_index:  # a guardian proven on the guardian page: their children, to request for
        from lingjing.children.access import guardian_children, proven_guardian_phone

        phone = proven_guardian_phone(request)
        children = [c for c in guardian_children(phone) if c.child is not None] if phone else []
    return render(request, "privacy/requests/list.html", {
        "rows": rows, "types": _types(_lang(request)), "viewer": viewer, "children": children,
    })


def _send_verify_code(request: HttpRequest, user: Any) -> None:
    from lingjing.accounts.codes import RateLimited, SmsUnavailable, request_code
    from lingjing.accounts.models import CodePurpose
    from lingjing.core.ratelimit import client_ip

    if not user.phone:
        messages.error(request, _("账号没有可用的手机号"))
        return
    try:
        request_code(user.phone, CodePurpose.VERIFY, ip=client_ip(request), acting_user=user)
        messages.success(request, _("验证码已发送到您的手机"))
    except (RateLimited, SmsUnavailable) as exc:
        messages.error(request, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    from lingjing.accounts.stepup import is_recently_verified, verify_and_grant

    user: Any = request.user
    type_ = request.GET.get("type") or request.POST.get("type") or ""
    lang = _lang(request)
    if type_ not in RequestType.values:
        return render(request, "privacy/requests/choose.html", {"types": _types(lang)})
    fresh_needed = type_ in NEEDS_FRESH_VERIFICATION and not is_recently_verified(request)
    form = RequestForm(request.POST or None, type_=type_, user=user, fresh_needed=fresh_needed)
    if request.method == "POST" and request.POST.get("action") == "send_code":
        _send_verify_code(request, user)
        return redirect(f"{request.path}?type={type_}")
    if request.method == "POST" and form.is_valid():
        verification = "session"
        if type_ in NEEDS_FRESH_VERIFICATION:
            if fresh_needed and not verify_and_grant(request, form.cleaned_data["code"]):
                form.add_error("code", _("验证码错误或已失效"))
                return _new_page(request, form, type_, lang)
            verification = "step_up"
        details = form.cleaned_data.get("details", "")
        if type_ == RequestType.CORRECTION and form.correction_items():
            details = correction_details(form.correction_items(), details)
        requester = Requester(channel=Channel.WEB, verification=verification, acting_user=user,
                              keep_session_key=str(request.session.session_key or ""))
        try:
            req = submit_request(user, type_, requester=requester, params=form.params(), details=details,
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
    return _new_page(request, form, type_, lang)


def _new_page(request: HttpRequest, form: RequestForm, type_: str, lang: str) -> HttpResponse:
    from lingjing.privacy.requests.scoped import SELF_SERVICE

    return render(request, "privacy/requests/new.html", {
        "form": form, "type": type_, "label": TYPE_EN[type_] if lang == "en" else RequestType(type_).label,
        "help": TYPE_HELP[type_][1 if lang == "en" else 0], "fresh_needed": form.fresh_needed,
        "self_service": sorted(set(SELF_SERVICE.values())),
    })


def _detail_context(req: RightsRequest, viewer: Viewer, lang: str) -> dict[str, Any]:
    context: dict[str, Any] = {"req": req, "viewer": viewer, "events": list(req.events.all()),
                               "download_url": downloads.page_url(req),
                               "type_help": TYPE_HELP[req.type][1 if lang == "en" else 0],
                               "transfer": getattr(req, "transfer", None) if req.type == RequestType.TRANSFER
                               else None}
    if req.type == RequestType.EXPLANATION and req.user is not None and req.status == RequestStatus.COMPLETED:
        context["decisions"] = explain.decision_explanations(req.user, decision_id=req.params.get("decision_id"),
                                                             lang=lang)
        context["rules"] = explain.processing_rules(req.user, lang=lang)
    return context


@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    viewer = viewer_of(request)
    req = access_rights_request(viewer, request_id)
    lang = _lang(request)
    if request.method == "POST":
        return _act(request, viewer, req)
    context = _detail_context(req, viewer, lang)
    if req.type == RequestType.ACCESS and req.user is not None and req.status != RequestStatus.REFUSED:
        from lingjing.privacy.engines.export import export_person

        data, total = _trim(export_person(req.user, lang=lang), lang)
        acting_user, actor = viewer_actor(viewer, req)
        if req.status != RequestStatus.COMPLETED:
            req = do_record_access(req, records=total, categories=list(data), acting_user=acting_user, actor=actor)
            context["req"] = req
        context.update({"data": data, "total": total, "page_items": PAGE_ITEMS})
    return render(request, "privacy/requests/detail.html", context)


def _act(request: HttpRequest, viewer: Viewer, req: RightsRequest) -> HttpResponse:
    req = access_rights_request(viewer, req.pk, write=True)
    acting_user, actor = viewer_actor(viewer, req)
    action = request.POST.get("action")
    try:
        if action == "withdraw":
            do_withdraw_request(req, acting_user=acting_user, actor=actor)
            messages.success(request, _("已撤销") if req.type != RequestType.RESTRICTION else _("限制已解除"))
        elif action == "retry":
            do_retry_transfer(req, acting_user=acting_user, actor=actor)
            messages.success(request, _("已重新发起转移"))
        elif action == "answer":
            do_resume_request(req, acting_user=acting_user, actor=actor, details=request.POST.get("details", ""))
            messages.success(request, _("已收到您的补充，处理期限恢复计算"))
        elif action == "review" and viewer.user is not None and req.user_id == viewer.user.pk:
            from lingjing.decisions.access import access_decision
            from lingjing.decisions.actions import do_request_review

            decision = access_decision(viewer.user, request.POST.get("decision_id"))
            do_request_review(decision, reason=request.POST.get("reason", ""), acting_user=viewer.user)
            messages.success(request, _("已申请人工复核"))
        else:
            raise Http404("未知操作")
    except (InvalidTransition, ValidationError) as exc:
        messages.error(request, _messages_of(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    if action == "withdraw" and req.type == RequestType.CANCEL_ACCOUNT:
        return redirect("privacy:request", request_id=req.pk)
    return redirect("privacy:request", request_id=req.pk)


def download(request: HttpRequest, request_id: str) -> FileResponse:
    """The copy: the requester's session (or proven phone) and the link's token, both."""
    from lingjing.privacy.requests.package import open_package

    viewer = viewer_of(request)
    req = access_rights_request(viewer, request_id)
    if not downloads.token_ok(req, request.GET.get("token", "")):
        raise Http404("下载链接无效或已过期")
    acting_user, actor = viewer_actor(viewer, req)
    do_record_download(req, acting_user=acting_user, actor=actor)
    return FileResponse(open_package(req.package_name), as_attachment=True, filename=downloads.filename(req),
                        content_type="application/zip")


@login_required
def closing(request: HttpRequest) -> HttpResponse:
    """Where an account in its cancellation window lands: the pending cancellation and its undo button."""
    viewer = viewer_of(request)
    pending = visible_requests(viewer).filter(type=RequestType.CANCEL_ACCOUNT,
                                              status=RequestStatus.IN_PROGRESS).first()
    if pending is None:
        return redirect("privacy:requests")
    return redirect("privacy:request", request_id=pending.pk)


def metrics(request: HttpRequest) -> HttpResponse:
    from lingjing.privacy.requests.metrics import public_metrics

    return render(request, "privacy/requests/metrics.html", {"figures": public_metrics()})
