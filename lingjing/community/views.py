"""Community pages: the buttons of a work's page (comment, like, follow, report), the person's interest tags and
feed choice (``/me/interests``), and the moderation pages of the content-moderator role (``/moderation/``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from lingjing.community import actions, recommend
from lingjing.community.access import access_case, access_comment, access_profile
from lingjing.community.models import BlockedTerm, CaseStatus, ModerationCase, ReportReason
from lingjing.works.access import access_work


def _errors(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    for message in (exc.messages if isinstance(exc, ValidationError) else [str(exc)]):
        messages.error(request, message)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


# --- a work's page ------------------------------------------------------------------------------------------


@login_required
@require_POST
def post_comment(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_work(request.user, work_id)
    try:
        comment = actions.do_post_comment(work, request.user, request.POST.get("body", ""),
                                          learn=recommend.personalisation_allowed(request.user, request),
                                          acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        _errors(request, exc)
    else:
        if comment.status == "visible":
            messages.success(request, _("评论已发表"))
        else:
            messages.error(request, _("评论未通过自动审核，已隐藏，仅您自己可见。"
                                      "可在隐私中心“自动化决策”中查看说明并申请人工复核。"))
    return redirect(f"/works/{work.pk}#comments")


@login_required
@require_POST
def delete_comment(request: HttpRequest, comment_id: uuid.UUID) -> HttpResponse:
    comment = access_comment(request.user, comment_id)
    try:
        actions.do_delete_comment(comment, acting_user=request.user)
        messages.success(request, _("评论已删除"))
    except PermissionDenied as exc:
        _errors(request, exc)
    return redirect(f"/works/{comment.work_id}#comments")


@login_required
@require_POST
def like(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_work(request.user, work_id)
    learn = recommend.personalisation_allowed(request.user, request)
    try:
        if request.POST.get("undo") == "1":
            actions.do_unlike_work(request.user, work, learn=learn, acting_user=request.user)
        else:
            actions.do_like_work(request.user, work, learn=learn, acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        _errors(request, exc)
    return _back(request, f"/works/{work.pk}")


@login_required
@require_POST
def follow(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    author = access_profile(request.user, user_id)
    try:
        if request.POST.get("undo") == "1":
            actions.do_unfollow(request.user, author, acting_user=request.user)
        else:
            actions.do_follow(request.user, author, acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        _errors(request, exc)
    return _back(request, "/works/?feed=following")


@login_required
@require_POST
def report(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_work(request.user, work_id)
    comment = None
    if request.POST.get("comment"):
        comment = access_comment(request.user, request.POST["comment"])
        if comment.work_id != work.pk:
            raise Http404("评论不存在")
    try:
        actions.do_report(request.user, work=work, comment=comment, reason=request.POST.get("reason", ""),
                          detail=request.POST.get("detail", ""), acting_user=request.user)
        messages.success(request, _("举报已提交，审核人员会尽快处理"))
    except (PermissionDenied, ValidationError) as exc:
        _errors(request, exc)
    return redirect(f"/works/{work.pk}")


# --- interest tags and the feed choice (NDR art. 42) ------------------------------------------------------


@login_required
def interests_page(request: HttpRequest) -> HttpResponse:
    return render(request, "community/interests.html", {
        "interests": recommend.interests(request.user),
        "learning": recommend.consents(request.user, request),
        "personalised": recommend.prefers_personalised(request.user),
    })


@login_required
@require_POST
def delete_interests(request: HttpRequest) -> HttpResponse:
    tag = request.POST.get("tag")
    count = actions.do_delete_interests(request.user, tags=[tag] if tag else None, acting_user=request.user)
    messages.success(request, _("已删除 %(n)s 个兴趣标签") % {"n": count})
    return redirect("community:interests")


@login_required
@require_POST
def feed_mode(request: HttpRequest) -> HttpResponse:
    """The one-click switch between the personalised and the non-personalised recommended feed."""
    personalised = request.POST.get("personalised") == "1"
    actions.do_set_feed_preference(request.user, personalised=personalised, acting_user=request.user)
    messages.success(request, _("已切换为个性化推荐") if personalised
                     else _("已切换为非个性化推荐：推荐内容不再依据您的个人特征"))
    return _back(request, "/works/?feed=recommended")


# --- moderation (content_moderator) -------------------------------------------------------------------------


def _moderator(request: HttpRequest) -> None:
    if not actions.is_moderator(request.user):
        raise PermissionDenied("没有内容审核权限")


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    _moderator(request)
    status = request.GET.get("status", CaseStatus.OPEN)
    rows = (ModerationCase.objects.filter(status=status if status in CaseStatus.values else CaseStatus.OPEN)
            .select_related("work", "comment", "target_author").order_by("opened_at" if status != "decided"
                                                                          else "-decided_at"))
    page = Paginator(rows, 30).get_page(request.GET.get("page"))
    return render(request, "community/moderation_queue.html", {"page": page, "status": status,
                                                               "appeals": _open_appeals().count()})


@login_required
@require_http_methods(["GET", "POST"])
def case_page(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    _moderator(request)
    case = access_case(request.user, case_id)
    if request.method == "POST":
        try:
            actions.do_decide_case(case, remove=request.POST.get("remove") == "1",
                                   resolution=request.POST.get("resolution", ""), acting_user=request.user)
            messages.success(request, _("已处理"))
            return redirect("community:moderation")
        except (PermissionDenied, ValidationError) as exc:
            _errors(request, exc)
    reports = [{"reason": r.get_reason_display(), "detail": r.detail or "", "created_at": r.created_at}
               for r in case.reports.order_by("created_at")]
    return render(request, "community/moderation_case.html", {"case": case, "reports": reports})


def _open_appeals() -> Any:
    from lingjing.decisions.models import ReviewRequest, ReviewStatus

    return (ReviewRequest.objects.filter(status=ReviewStatus.OPEN, decision__kind="moderation")
            .select_related("decision").order_by("created_at"))


@login_required
def appeals(request: HttpRequest) -> HttpResponse:
    """Reviews of moderation decisions: appeals, and automated decisions waiting for a person."""
    _moderator(request)
    rows = list(_open_appeals()[:100])
    cases = {str(c.decision_id): c for c in ModerationCase.objects.filter(decision__in=[r.decision for r in rows])}
    items = [{"review": r, "decision": r.decision, "case": cases.get(str(r.decision_id)),
              "reason": r.reason or ""} for r in rows]
    return render(request, "community/moderation_appeals.html", {"items": items})


@login_required
@require_POST
def resolve_appeal(request: HttpRequest, review_id: uuid.UUID) -> HttpResponse:
    """Uphold or overturn through the decisions app (``do_resolve_review``); the content follows by signal."""
    from lingjing.decisions.actions import do_resolve_review

    _moderator(request)
    review = _open_appeals().filter(pk=review_id).first()
    if review is None:
        raise Http404("复核不存在")
    case = ModerationCase.objects.filter(decision=review.decision).first()
    if case is not None and case.handled_by_id == request.user.pk:
        messages.error(request, _("复核须由作出原决定以外的审核人员处理"))
        return redirect("community:appeals")
    try:
        do_resolve_review(review, uphold=request.POST.get("uphold") == "1", reason=request.POST.get("reason", ""),
                          acting_user=request.user)
        messages.success(request, _("复核已处理，结果已告知当事人"))
    except (PermissionDenied, ValidationError) as exc:
        _errors(request, exc)
    return redirect("community:appeals")


@login_required
@require_http_methods(["GET", "POST"])
def terms(request: HttpRequest) -> HttpResponse:
    """The keyword list of the automated filter."""
    from lingjing.community.filters import DEFAULT_TERMS

    _moderator(request)
    if request.method == "POST":
        try:
            actions.do_save_blocked_term(request.POST.get("term", ""), active=request.POST.get("active", "1") == "1",
                                         acting_user=request.user)
            messages.success(request, _("已保存"))
        except (PermissionDenied, ValidationError) as exc:
            _errors(request, exc)
        return redirect("community:terms")
    return render(request, "community/moderation_terms.html", {
        "terms": BlockedTerm.objects.order_by("term"), "defaults": DEFAULT_TERMS, "reasons": ReportReason.choices,
    })
