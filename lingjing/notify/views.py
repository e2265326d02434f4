"""Pages of the notification service under ``/inbox/``: the inbox (live: htmx polls a partial every 5 s), its
entries, the per-category preferences and notification email, and public announcement pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from lingjing.core.ratelimit import client_ip
from lingjing.notify.access import access_announcement, access_notification, my_inbox
from lingjing.notify.actions import (
    do_confirm_notify_email,
    do_mark_all_read,
    do_mark_read,
    do_set_channels,
    do_set_language,
    do_set_notify_email,
)
from lingjing.notify.codes import CodeRefused, check_email_code, send_email_code
from lingjing.notify.forms import ChannelsForm, CodeForm, EmailForm
from lingjing.notify.models import CATEGORY_EN, MANDATORY, Category, CodePurpose, Notification
from lingjing.notify.service import available_channels, settings_for, stored_channels

PAGE_SIZE = 30


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _messages_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def item(n: Notification, lang: str) -> dict[str, Any]:
    title, body = n.text(lang)
    return {
        "id": str(n.pk), "category": n.category,
        "category_label": CATEGORY_EN.get(n.category, n.category) if lang == "en" else n.get_category_display(),
        "title": title, "body": body, "url": n.url, "created_at": n.created_at, "read": n.read_at is not None,
        "announcement_id": n.announcement_id,
    }


def inbox_version(user: Any) -> str:
    """Changes whenever an entry arrives or is read: the partial answers 204 while it stays the same."""
    stats = my_inbox(user).aggregate(total=Count("pk"), unread=Count("pk", filter=Q(read_at__isnull=True)),
                                     latest=Max("created_at"))
    latest = stats["latest"].timestamp() if stats["latest"] else 0
    return f"{stats['total']}-{stats['unread']}-{latest:.6f}"


def _inbox_context(request: HttpRequest) -> dict[str, Any]:
    lang = _lang(request)
    inbox = my_inbox(request.user)
    page = Paginator(inbox, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "items": [item(n, lang) for n in page.object_list],
        "unread": inbox.filter(read_at__isnull=True).count(),
        "version": inbox_version(request.user),
    }


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "notify/inbox.html", _inbox_context(request))


@login_required
def inbox_partial(request: HttpRequest) -> HttpResponse:
    if request.GET.get("v") == inbox_version(request.user):
        return HttpResponse(status=204)  # htmx leaves the page alone
    return render(request, "notify/_inbox_list.html", _inbox_context(request))


@login_required
@require_POST
def open_notification(request: HttpRequest, notification_id: str) -> HttpResponse:
    entry = access_notification(request.user, notification_id, write=True)
    do_mark_read(entry, acting_user=request.user)
    target = entry.url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/"):
        return redirect(target)
    if entry.announcement_id is not None:
        return redirect("notify:announcement", announcement_id=entry.announcement_id)
    return redirect("notify:inbox")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    count = do_mark_all_read(request.user, acting_user=request.user)
    messages.success(request, _("已将 %(n)s 条通知标为已读") % {"n": count})
    return redirect("notify:inbox")


def _preference_rows(user: Any, lang: str) -> list[dict[str, Any]]:
    from lingjing.consent.service import has_consent

    return [
        {
            "category": category,
            "label": CATEGORY_EN[category] if lang == "en" else str(Category(category).label),
            "mandatory": category in MANDATORY,
            "channels": stored_channels(user, category),
            "consent": has_consent(user, "marketing") if category == Category.MARKETING else None,
        }
        for category in Category.values
    ]


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    lang = _lang(request)
    row = settings_for(user)
    available = available_channels()
    initial: dict[str, Any] = {"language": row.language if row else ("en" if lang == "en" else "zh-hans")}
    initial.update({f"ch_{c}": stored_channels(user, c) for c in Category.values})
    form = ChannelsForm(initial=initial, available=available, lang=lang)
    email_form = EmailForm(initial={"email": row.email if row and row.email else ""})
    code_form = CodeForm()
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "channels":
        form = ChannelsForm(request.POST, available=available, lang=lang)
        if form.is_valid():
            try:
                for category in Category.values:
                    wanted = form.channels(category)
                    if wanted != stored_channels(user, category):
                        do_set_channels(user, category, wanted, acting_user=user)
                do_set_language(user, form.cleaned_data["language"], acting_user=user)
            except ValidationError as exc:
                form.add_error(None, _messages_of(exc))
            else:
                messages.success(request, _("通知设置已保存"))
                return redirect("notify:preferences")
    elif action == "email":
        email_form = EmailForm(request.POST)
        if email_form.is_valid():
            try:
                saved = do_set_notify_email(user, email_form.cleaned_data["email"], acting_user=user)
                if saved.email:
                    send_email_code(f"u:{user.pk}", saved.email, CodePurpose.CONFIRM_EMAIL, ip=client_ip(request),
                                    acting_user=user)
            except ValidationError as exc:
                email_form.add_error("email", _messages_of(exc))
            except CodeRefused as exc:
                email_form.add_error(None, exc.message)
            else:
                messages.success(request, _("验证码已发送到该邮箱，请在 10 分钟内填写") if saved.email
                                 else _("已删除通知邮箱"))
                return redirect("notify:preferences")
    elif action == "confirm":
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            address = row.email if row and row.email else ""
            result = check_email_code(f"u:{user.pk}", address, CodePurpose.CONFIRM_EMAIL,
                                      code_form.cleaned_data["code"]) if address else None
            if result is not None and result.ok:
                do_confirm_notify_email(user, acting_user=user)
                messages.success(request, _("通知邮箱已确认"))
                return redirect("notify:preferences")
            code_form.add_error("code", _("验证码错误或已失效"))
    return render(request, "notify/preferences.html", {
        "form": form, "email_form": email_form, "code_form": code_form, "settings_row": row,
        "rows": _preference_rows(user, lang), "available": available,
    })


def announcement(request: HttpRequest, announcement_id: int) -> HttpResponse:
    ann = access_announcement(announcement_id)
    lang = _lang(request)
    return render(request, "notify/announcement.html", {
        "ann": ann, "title": ann.title(lang), "body": ann.body(lang), "kind": ann.kind_label(lang),
    })
