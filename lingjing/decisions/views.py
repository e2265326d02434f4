"""Pages of the decisions app, under ``/privacy/decisions/``: the person's automated decisions with their
explanations, the review request, the refusal switch (PIPL art. 24); and the staff review queue."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from lingjing.decisions.access import access_decision, access_review, my_decisions, open_reviews
from lingjing.decisions.actions import do_request_review, do_resolve_review, do_set_automation_choice
from lingjing.decisions.forms import ChoiceForm, ResolveForm, ReviewForm
from lingjing.decisions.models import KIND_EN, AutomationChoice, DecisionKind

PAGE_SIZE = 30
# What refusing means, per kind (PIPL art. 24(2) for recommendation, 24(3) for significant decisions).
REFUSAL_TEXT = {
    DecisionKind.RECOMMENDATION: ("关闭后，首页和推荐不再依据您的个人特征，改为不针对个人的内容。",
                                  "Off: the home feed and suggestions no longer use your personal traits."),
    DecisionKind.RISK: ("拒绝后，对您有重大影响的风控决定须由工作人员确认后才生效。",
                        "Refused: significant risk-control decisions take effect only after a person confirms them."),
    DecisionKind.MODERATION: ("拒绝后，对您有重大影响的审核决定须由工作人员确认后才生效。",
                              "Refused: significant moderation decisions take effect only after a person confirms."),
    DecisionKind.ACCOUNT: ("拒绝后，对您有重大影响的账号处理决定须由工作人员确认后才生效。",
                           "Refused: significant account decisions take effect only after a person confirms them."),
}


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _messages_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def _choices(user: Any, lang: str) -> list[dict[str, Any]]:
    refused = set(AutomationChoice.objects.filter(user_id=user.pk, refuse=True).values_list("kind", flat=True))
    en = lang == "en"
    return [
        {"kind": kind.value, "label": KIND_EN[kind] if en else kind.label, "refused": kind.value in refused,
         "text": text[1] if en else text[0]}
        for kind, text in REFUSAL_TEXT.items()
    ]


@login_required
def my_list(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    page = Paginator(my_decisions(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "decisions/list.html", {
        "page": page, "decisions": [d.to_dict(lang) for d in page.object_list], "choices": _choices(request.user, lang),
    })


@login_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, decision_id: str) -> HttpResponse:
    decision = access_decision(request.user, decision_id)
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_request_review(decision, reason=form.cleaned_data["reason"], acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, _messages_of(exc))
        else:
            messages.success(request, _("已提交复核申请，工作人员会尽快处理并告知结果"))
            return redirect("decisions:detail", decision_id=decision.pk)
    reviews = list(decision.reviews.order_by("created_at"))
    return render(request, "decisions/detail.html", {
        "d": decision.to_dict(_lang(request)), "reviews": reviews, "form": form,
        "can_appeal": not any(r.status == "open" or r.origin == "appeal" for r in reviews)
        and decision.status != "overturned",
    })


@login_required
@require_POST
def set_choice(request: HttpRequest) -> HttpResponse:
    form = ChoiceForm(request.POST)
    if form.is_valid():
        do_set_automation_choice(request.user, form.cleaned_data["kind"], refuse=form.cleaned_data["refuse"],
                                 acting_user=request.user)
        messages.success(request, _("设置已保存"))
    return redirect("decisions:list")


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    rows = list(open_reviews(request.user)[:200])
    return render(request, "decisions/review_queue.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, review_id: str) -> HttpResponse:
    item = access_review(request.user, review_id, write=request.method == "POST")
    form = ResolveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_resolve_review(item, uphold=form.cleaned_data["outcome"] == "uphold",
                              reason=form.cleaned_data["reason"], acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, _messages_of(exc))
        else:
            messages.success(request, _("复核结果已记录，当事人可在其自动化决策页面看到"))
            return redirect("decisions:review-queue")
    return render(request, "decisions/review.html", {"item": item, "d": item.decision.to_dict("zh"), "form": form})
