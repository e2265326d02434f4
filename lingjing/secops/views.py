"""Pages: a person's sign-in history; the staff console's security pages (events, incidents, people under a stated
purpose) and the console gate (TOTP, training). Views parse forms and call actions; they never write models."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from lingjing.privacy.labels import with_display
from lingjing.secops import access, staff
from lingjing.secops.forms import IncidentForm, LookupForm, PurposeForm, TotpForm, TrainingForm
from lingjing.secops.models import (
    AccessPurpose,
    EventKind,
    Incident,
    IncidentNotice,
    IncidentStatus,
    SecurityEvent,
)

HISTORY_DAYS = 90
HISTORY_EVENTS = {
    "account.login_succeeded": "登录成功",
    "account.login_failed": "登录失败",
    "account.logged_out": "退出登录",
    "account.session_revoked": "移除了网页登录设备",
    "account.token_revoked": "移除了客户端登录设备",
    "account.step_up_verified": "完成身份验证",
    "account.password_changed": "修改密码",
    "account.phone_changed": "更换手机号",
    "staff.session_expired": "工作人员会话过期",
}
FAILURE_REASONS = {
    "bad_password": "密码错误", "bad_code": "验证码错误", "bad_totp": "动态码错误", "locked": "失败次数过多被暂时锁定",
    "risk_blocked": "风险控制暂时阻止", "step_up_required": "需要进一步验证", "totp_required": "需要动态码",
    "inactive": "账号不可用",
}


def _next(request: HttpRequest, default: str = "/console/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


# --- the person's own history -------------------------------------------------------------------------------


@login_required
@require_GET
def sign_in_history(request: HttpRequest) -> HttpResponse:
    """The person's sign-ins and failed attempts (from the audit log), risk decisions, and devices signed in now."""
    from lingjing.accounts.actions import live_sessions
    from lingjing.decisions.models import Decision
    from lingjing.security.audit_models import AuditEntry

    user = request.user
    since = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
    entries = (AuditEntry.objects.filter(subject=f"u:{user.pk}", event__in=list(HISTORY_EVENTS), at__gte=since)
               .order_by("-seq").defer("sealed")[:200])
    rows = [
        {"at": e.at, "event": HISTORY_EVENTS[e.event], "failed": e.event == "account.login_failed",
         "method": e.details.get("method", ""), "channel": e.details.get("channel", ""),
         "network": e.details.get("ip", ""), "reason": FAILURE_REASONS.get(e.details.get("reason", ""), "")}
        for e in entries
    ]
    decisions = Decision.objects.filter(subject_id=user.pk, kind="risk", made_at__gte=since).exclude(
        outcome="sign_in_allowed")[:50]
    return render(request, "secops/history.html", {
        "rows": rows, "decisions": decisions, "sessions": live_sessions(user), "days": HISTORY_DAYS,  # type: ignore[arg-type]
    })


@require_GET
def announcement(request: HttpRequest, ref: str) -> HttpResponse:
    row = access.public_announcement(ref)
    return render(request, "secops/announcement.html", {"a": row})


# --- the console gate ---------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def gate(request: HttpRequest) -> HttpResponse:
    from lingjing.accounts.totp import TotpReplay, matching_step
    from lingjing.secops.actions import do_acknowledge_training, do_verify_console

    user = request.user
    if not user.is_staff:
        raise Http404("内容不存在")
    problem = staff.gate_problem(request)
    totp_form, training_form = TotpForm(), TrainingForm()
    if request.method == "POST" and problem == "totp":
        totp_form = TotpForm(request.POST)
        if totp_form.is_valid():
            step = matching_step(user.totp_secret or "", totp_form.cleaned_data["totp"])
            if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
                totp_form.add_error("totp", _("动态码错误或已使用"))
            else:
                try:
                    do_verify_console(user, step=step, acting_user=user)
                except TotpReplay:
                    totp_form.add_error("totp", _("动态码错误或已使用"))
                else:
                    staff.mark_console_verified(request)
                    return redirect(f"{reverse('secops:gate')}?next={_next(request)}")
    elif request.method == "POST" and problem == "training":
        training_form = TrainingForm(request.POST)
        if training_form.is_valid():
            do_acknowledge_training(user, version=staff.TRAINING_VERSION, acting_user=user)
            messages.success(request, _("培训确认已记录，有效期一年"))
            return redirect(f"{reverse('secops:gate')}?next={_next(request)}")
    if problem is None and request.method == "GET":
        return HttpResponseRedirect(_next(request))
    return render(request, "secops/gate.html", {
        "problem": problem, "totp_form": totp_form, "training_form": training_form, "next": _next(request),
        "version": staff.TRAINING_VERSION, "valid_until": staff.training_valid_until(user),
    })


# --- security events and incidents (console) ----------------------------------------------------------------


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    access.require_staff(request.user, "secops.view_securityevent")
    since = timezone.now() - dt.timedelta(hours=24)
    counts = dict(SecurityEvent.objects.filter(at__gte=since).values_list("kind").annotate(n=Count("id")))
    labels = dict(EventKind.choices)
    from lingjing.secops.drill import overdue_reports

    return render(request, "secops/overview.html", {
        "counts": [(labels.get(k, k), n) for k, n in sorted(counts.items())],
        "events": SecurityEvent.objects.order_by("-at")[:50],
        "incidents": Incident.objects.filter(status=IncidentStatus.OPEN).order_by("-discovered_at")[:50],
        "overdue": overdue_reports(),
        "can_record": request.user.has_perm("secops.add_incident"),
    })


@login_required
@require_http_methods(["GET", "POST"])
def incident_new(request: HttpRequest) -> HttpResponse:
    from lingjing.secops.actions import do_record_incident

    access.require_staff(request.user, "secops.add_incident")
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = do_record_incident(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            messages.success(request, _("事件已记录，初次报告草稿已生成，请在截止时间前报送"))
            return redirect("secops:incident", incident_id=incident.pk)
    return render(request, "secops/incident_new.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def incident_detail(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    from lingjing.secops.actions import do_close_incident, do_mark_report_submitted

    incident = access.access_incident(request.user, incident_id)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "handle":
        access.require_staff(request.user, "secops.notify_affected")
        from lingjing.secops.tasks import handle_incident

        handle_incident.enqueue(str(incident.pk), str(request.user.pk))
        messages.success(request, _("已开始核查受影响的个人并发送告知"))
        return redirect("secops:incident", incident_id=incident.pk)
    if action == "submit":
        report = incident.reports.filter(pk=request.POST.get("report", "")).first() if _is_uuid(
            request.POST.get("report", "")) else None
        if report is None:
            raise Http404("内容不存在")
        try:
            do_mark_report_submitted(report, acting_user=request.user)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已记录报送时间"))
        return redirect("secops:incident", incident_id=incident.pk)
    if action == "close":
        access.access_incident(request.user, incident_id, write=True)
        do_close_incident(incident, acting_user=request.user)
        messages.success(request, _("事件处置已结束，总结报告草稿已生成（30 日内报送）"))
        return redirect("secops:incident", incident_id=incident.pk)
    from lingjing.secops.incidents import notice_counts
    from lingjing.secops.notices import track

    track(incident)  # copy the outcome of deliveries the notify worker made since
    reports = list(incident.reports.order_by("drafted_at"))
    now = timezone.now()
    return render(request, "secops/incident.html", {
        "incident": incident,
        "reports": [{"r": r, "overdue": r.overdue(now),
                     "left": (r.due_at - now) if r.due_at and r.submitted_at is None and r.due_at > now else None}
                    for r in reports],
        "notices": notice_counts(incident),
        "failed": IncidentNotice.objects.filter(incident=incident, status__in=["failed", "unreachable"]).count(),
        "can_notify": request.user.has_perm("secops.notify_affected"),
        "can_submit": request.user.has_perm("secops.submit_report"),
        "can_change": request.user.has_perm("secops.change_incident"),
    })


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# --- people, under a stated purpose -------------------------------------------------------------------------


@login_required
@require_GET
def people(request: HttpRequest) -> HttpResponse:
    from lingjing.accounts.models import User
    from lingjing.accounts.phone import InvalidPhone

    access.require_staff(request.user, "secops.read_personal")
    form = LookupForm(request.GET or None)
    if form.is_bound and form.is_valid():
        term = form.cleaned_data["q"].strip()
        person = None
        if _is_uuid(term):
            person = access.access_person(request.user, term)
        else:
            try:
                person = User.objects.get_by_phone(term)
            except InvalidPhone:
                person = None
        if person is not None:
            return redirect("secops:person", user_id=person.pk)
        form.add_error("q", _("没有找到该账号"))
    return render(request, "secops/people.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def person(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    """Masked by default; the decrypted data of one purpose after the purpose form (``staff_read_personal``)."""
    from lingjing.accounts.stepup import VerificationRequired, require_recent_verification
    from lingjing.secops.actions import do_grant_staff_access

    subject = access.access_person(request.user, user_id)
    form = PurposeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            require_recent_verification(request, code=request.POST.get("code", "").strip() or None)
            do_grant_staff_access(request.user, subject, purpose=form.cleaned_data["purpose"],
                                  reason=form.cleaned_data["reason"], reference=form.cleaned_data["reference"],
                                  acting_user=request.user)
        except VerificationRequired as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(f"{reverse('secops:person', args=[subject.pk])}?purpose={form.cleaned_data['purpose']}")
    purpose = request.GET.get("purpose", "")
    records: list[dict[str, Any]] | None = None
    problem = ""
    if purpose in AccessPurpose.values and request.method == "GET":
        try:
            records = with_display(staff.staff_read_personal(request.user, subject, purpose))
        except staff.PurposeRequired as exc:
            problem = str(exc)
        except PermissionDenied as exc:
            problem = str(exc)
    return render(request, "secops/person.html", {
        "subject": subject, "form": form, "records": records, "purpose": purpose, "problem": problem,
        "purpose_label": dict(AccessPurpose.choices).get(purpose, ""),
    })
