"""Pages: the privacy center, the policy and its versions, cookies, consents, receipts; the tracking endpoints."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lingjing.consent import cookies as decl
from lingjing.consent.access import access_policy_notice, access_receipt, is_privacy_officer
from lingjing.consent.actions import (
    ConsentError,
    do_accept_policy,
    do_mark_notice_read,
    do_publish_policy_version,
    do_set_consent,
    do_set_consents,
)
from lingjing.consent.datamap import consent_purpose_rows, cookie_category_rows, cookie_rows
from lingjing.consent.diff import policy_diff
from lingjing.consent.forms import AcceptPolicyForm, ConsentToggleForm, CookieChoiceForm, PublishPolicyForm
from lingjing.consent.models import (
    ConsentReceipt,
    ConsentState,
    Method,
    PolicyNotice,
    PolicyVersion,
    Purpose,
    TrackedEmail,
)
from lingjing.consent.policy import (
    current_policy_version,
    material_version_to_accept,
    policy_drift,
    render_policy,
    upcoming_policy_version,
)
from lingjing.consent.receipts import receipt_document
from lingjing.consent.service import signal_overrides
from lingjing.consent.signals import privacy_signal

GPC_LAST_UPDATE = "2026-11-29"  # the date /.well-known/gpc.json's promise last changed


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _safe_next(request: HttpRequest, raw: str | None, default: str = "/") -> str:
    if raw and url_has_allowed_host_and_scheme(raw, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return raw
    return default


def _login_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(f"{settings.LOGIN_URL}?next={quote(request.get_full_path())}")


# --- privacy center ---------------------------------------------------------------------------------------


@require_GET
def privacy_center(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    context: dict[str, Any] = {
        "signal": privacy_signal(request),
        "overrides": signal_overrides(user, request),
        "current": current_policy_version(),
        "upcoming": upcoming_policy_version(),
        "officer": is_privacy_officer(user),
    }
    if user.is_authenticated:
        context["granted"] = list(
            ConsentState.objects.filter(user_id=user.pk, granted=True, purpose__active=True)
            .values_list("purpose__key", flat=True)
        )
        context["notices"] = list(
            PolicyNotice.objects.filter(user_id=user.pk, read_at__isnull=True).select_related("version")
        )
        context["receipt_count"] = ConsentReceipt.objects.filter(user_id=user.pk).count()
    return render(request, "consent/center.html", context)


# --- policy -----------------------------------------------------------------------------------------------


def _versions() -> list[PolicyVersion]:
    return list(PolicyVersion.objects.order_by("-number").defer("body_zh", "body_en"))


@require_GET
def policy(request: HttpRequest) -> HttpResponse:
    current = current_policy_version()
    if current is None:  # pragma: no cover - seeded on first use
        raise Http404
    return _policy_page(request, current)


@require_GET
def policy_version(request: HttpRequest, number: int) -> HttpResponse:
    version = PolicyVersion.objects.filter(number=number).first()
    if version is None:
        raise Http404
    return _policy_page(request, version)


def _policy_page(request: HttpRequest, version: PolicyVersion) -> HttpResponse:
    lang = _lang(request)
    current = current_policy_version()
    versions = _versions()
    return render(request, "consent/policy.html", {
        "version": version,
        "body": mark_safe(version.body(lang)),  # noqa: S308 - frozen rendering of our own templates
        "summary": version.summary(lang),
        "is_current": current is not None and version.pk == current.pk,
        "current": current,
        "upcoming": upcoming_policy_version(),
        "versions": versions,
        "now": timezone.now(),
        "sharing_recipients": _sharing_recipients(lang),
    })


def _sharing_recipients(lang: str) -> list[dict[str, Any]]:
    """The recipients in the registry now (name, country, role, purposes, categories, contact): live, so a newly
    registered recipient is listed before the next policy version is published."""
    from lingjing.sharing.policy import recipients_for_policy

    return recipients_for_policy(lang)


@require_GET
def policy_diff_view(request: HttpRequest) -> HttpResponse:
    try:
        a = int(request.GET.get("from", ""))
        b = int(request.GET.get("to", ""))
    except ValueError:
        return render(request, "consent/policy_diff.html", {"versions": _versions(), "error": True}, status=400)
    old = PolicyVersion.objects.filter(number=a).first()
    new = PolicyVersion.objects.filter(number=b).first()
    if old is None or new is None:
        raise Http404
    lang = _lang(request)
    table = policy_diff(old.body(lang), new.body(lang), _("第 %(n)s 版") % {"n": old.number},
                        _("第 %(n)s 版") % {"n": new.number})
    return render(request, "consent/policy_diff.html", {
        "old": old, "new": new, "table": mark_safe(table),  # noqa: S308 - sanitised by nh3 in policy_diff
        "versions": _versions(), "same": old.body(lang) == new.body(lang),
    })


@never_cache
@require_http_methods(["GET", "POST"])
def policy_accept(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not user.is_authenticated:
        return _login_redirect(request)
    pending = material_version_to_accept(user)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"), "/privacy/")
    if pending is None:
        return HttpResponseRedirect(next_url)
    if request.method == "POST":
        form = AcceptPolicyForm(request.POST)
        if form.is_valid() and form.cleaned_data["version"] == pending.number:
            do_accept_policy(user, pending, request=request, acting_user=user)
            messages.success(request, _("已确认新版隐私政策。"))
            return HttpResponseRedirect(next_url)
    previous = PolicyVersion.objects.filter(number__lt=pending.number).order_by("-number").first()
    lang = _lang(request)
    table = (
        policy_diff(previous.body(lang), pending.body(lang), _("第 %(n)s 版") % {"n": previous.number},
                    _("第 %(n)s 版") % {"n": pending.number})
        if previous else ""
    )
    return render(request, "consent/policy_accept.html", {
        "version": pending, "summary": pending.summary(lang), "next": next_url,
        "table": mark_safe(table),  # noqa: S308 - sanitised by nh3
    })


@require_POST
def notice_read(request: HttpRequest, notice_id: int) -> HttpResponse:
    notice = access_policy_notice(request.user, notice_id)
    do_mark_notice_read(notice, acting_user=request.user)
    return HttpResponseRedirect(_safe_next(request, request.POST.get("next"), "/privacy/"))


# --- staff: publish, preview, analytics -------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def staff_policy(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not user.is_authenticated:
        return _login_redirect(request)
    if not is_privacy_officer(user):
        raise Http404
    lang = _lang(request)
    form = PublishPolicyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        version = do_publish_policy_version(
            summary_zh=form.cleaned_data["summary_zh"], summary_en=form.cleaned_data["summary_en"],
            material=form.cleaned_data["material"], acting_user=user,
        )
        messages.success(request, _("已发布第 %(n)s 版，将于 %(d)s 生效。") % {
            "n": version.number, "d": timezone.localtime(version.effective_at).strftime("%Y-%m-%d %H:%M")})
        return HttpResponseRedirect("/privacy/staff/policy")
    current = current_policy_version()
    draft = render_policy(lang)
    table = policy_diff(current.body(lang), draft, _("生效版本"), _("草稿（按当前登记表生成）")) if current else ""
    return render(request, "consent/staff_policy.html", {
        "form": form, "current": current, "upcoming": upcoming_policy_version(), "drift": policy_drift(lang),
        "draft": mark_safe(draft),  # noqa: S308 - our own templates
        "table": mark_safe(table),  # noqa: S308 - sanitised by nh3
        "versions": _versions(),
    })


@never_cache
@require_GET
def staff_analytics(request: HttpRequest) -> HttpResponse:
    import datetime as dt

    from lingjing.consent.analytics import report

    user: Any = request.user
    if not user.is_authenticated:
        return _login_redirect(request)
    if not is_privacy_officer(user):
        raise Http404
    today = timezone.localdate()
    try:
        days = max(1, min(90, int(request.GET.get("days", "7"))))
    except ValueError:
        days = 7
    data = report(today - dt.timedelta(days=days - 1), today)
    if request.GET.get("format") == "json":
        return JsonResponse(data)
    return render(request, "consent/staff_analytics.html", {"report": data, "days": days})


# --- cookies ----------------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def cookie_settings(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    if request.method == "POST":
        return _save_cookie_choice(request)
    choice = decl.cookie_choice(request)
    return render(request, "consent/cookies.html", {
        "cookies": cookie_rows(lang),
        "categories": cookie_category_rows(lang),
        "choice": choice,
        "granted": set(choice.granted) if choice is not None and choice.current else set(),
        "stale": choice is not None and not choice.current,
        "declaration_version": decl.declaration_version(),
        "signal": privacy_signal(request),
    })


def _save_cookie_choice(request: HttpRequest) -> HttpResponse:
    """Store the browser's choice; for a signed-in person also record it as consent; delete withdrawn cookies."""
    form = CookieChoiceForm(request.POST)
    if not form.is_valid():
        return HttpResponseRedirect("/privacy/cookies")
    granted = form.granted()
    method = Method.SETTINGS if form.cleaned_data.get("source") == "settings" else Method.BANNER
    choice = decl.CookieChoice(granted=frozenset(granted), version=decl.declaration_version(), method=method)
    request.lj_cookie_choice = choice  # type: ignore[attr-defined]  # read by CookieConsentMiddleware
    user: Any = request.user
    if user.is_authenticated:
        cookie_purposes = Purpose.objects.filter(active=True).exclude(cookie_category="")
        do_set_consents(user, {p.key: p.cookie_category in granted for p in cookie_purposes}, method=method,
                        request=request, acting_user=user)
    response = HttpResponseRedirect(_safe_next(request, form.cleaned_data.get("next"), "/privacy/cookies"))
    response.set_cookie(decl.CONSENT_COOKIE, decl.encode_choice(granted, method), max_age=decl.CONSENT_COOKIE_AGE,
                        secure=request.is_secure(), httponly=True, samesite="Lax")
    for cookie in decl.cookies():
        if cookie.category != "necessary" and cookie.category not in granted and cookie.name in request.COOKIES:
            response.delete_cookie(cookie.name, samesite="Lax")
    messages.success(request, _("已保存您的 Cookie 选择。"))
    return response


# --- consents ---------------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def consents(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not user.is_authenticated:
        return _login_redirect(request)
    if request.method == "POST":
        form = ConsentToggleForm(request.POST)
        if form.is_valid():
            try:
                receipt = do_set_consent(user, form.cleaned_data["purpose"], form.cleaned_data["granted"],
                                         method=Method.SETTINGS, request=request, acting_user=user)
            except ConsentError as exc:
                raise Http404 from exc
            messages.success(request, _("已更新，回执编号 %(id)s。") % {"id": receipt.pk})
        return HttpResponseRedirect("/privacy/consents")
    lang = _lang(request)
    states = {s.purpose.key: s for s in ConsentState.objects.filter(user_id=user.pk).select_related("purpose")}
    rows = []
    for row in consent_purpose_rows(lang):
        state = states.get(row["key"])
        rows.append({**row, "granted": bool(state and state.granted), "state": state})
    return render(request, "consent/consents.html", {
        "rows": rows,
        "receipts": ConsentReceipt.objects.filter(user_id=user.pk).order_by("-at")[:50],
        "signal": privacy_signal(request),
        "overrides": signal_overrides(user, request),
    })


@require_GET
def receipt_download(request: HttpRequest, receipt_id: str) -> HttpResponse:
    receipt = access_receipt(request.user, receipt_id)
    body = json.dumps(receipt_document(receipt), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="consent-receipt-{receipt.pk}.json"'
    return response


# --- GPC --------------------------------------------------------------------------------------------------


@require_GET
def gpc_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"gpc": True, "lastUpdate": GPC_LAST_UPDATE})


# --- email tracking and unsubscribe (no sign-in: the signed token is the credential) -----------------------

_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def _tracked_for(email_id: str) -> TrackedEmail | None:
    try:
        return TrackedEmail.objects.select_related("user").filter(pk=email_id).first()
    except (ValueError, TypeError):
        return None


def _may_track(request: HttpRequest, tracked: TrackedEmail) -> bool:
    from lingjing.consent.service import has_consent

    return has_consent(tracked.user, "email_tracking", request)


@never_cache
@require_GET
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    from lingjing.consent.email import do_record_email_event, read_open_token

    email_id = read_open_token(token)
    tracked = _tracked_for(email_id) if email_id else None
    if tracked is not None and _may_track(request, tracked):
        do_record_email_event(tracked, "open", acting_user=None)
    response = HttpResponse(_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    from lingjing.consent.email import do_record_email_event, read_click_token

    data = read_click_token(token)
    if data is None:
        raise Http404
    email_id, url = data
    tracked = _tracked_for(email_id)
    if tracked is not None and _may_track(request, tracked):
        do_record_email_event(tracked, "click", acting_user=None)
    return HttpResponseRedirect(url)


@csrf_exempt  # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click" without any session
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    from django.contrib.auth import get_user_model

    from lingjing.consent.email import UNSUBSCRIBE_PURPOSES, read_unsubscribe_token

    data = read_unsubscribe_token(token)
    if data is None:
        return render(request, "consent/unsubscribe.html", {"invalid": True}, status=404)
    user_id, category = data
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return render(request, "consent/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "GET":  # link scanners prefetch GETs: never unsubscribe on GET
        return render(request, "consent/unsubscribe.html", {"token": token, "category": category})
    do_set_consent(user, UNSUBSCRIBE_PURPOSES[category], False, method=Method.EMAIL, request=request,
                   acting_user=user)
    return render(request, "consent/unsubscribe.html", {"done": True, "category": category})
