"""Notifications API, mounted at ``/api/v1/notifications``: the inbox, reading, per-category preferences, and the
announcements running now (public)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema

from lingjing.api import AUTH, ApiError, PageIn
from lingjing.notify.access import access_notification, my_inbox
from lingjing.notify.actions import do_mark_all_read, do_mark_read, do_set_channels, do_set_language
from lingjing.notify.announcements import live_announcements
from lingjing.notify.models import MANDATORY, Category, Notification, category_label
from lingjing.notify.service import available_channels, settings_for, stored_channels

PREFIX = "/notifications"
router = Router(tags=["notifications"], auth=AUTH)
PAGE_SIZE = 50


class NotificationOut(Schema):
    id: str
    category: str
    category_label: str
    title: str
    body: str
    url: str
    created_at: dt.datetime
    read: bool


class InboxPage(Schema):
    items: list[NotificationOut]
    unread: int
    next: int | None


class CategoryPref(Schema):
    category: str
    label: str
    mandatory: bool
    channels: list[str]


class PreferencesOut(Schema):
    language: str
    email_confirmed: bool
    available_channels: list[str]
    categories: list[CategoryPref]


class ChannelsIn(Schema):
    channels: list[str]


class LanguageIn(Schema):
    language: str


class ReadAllOut(Schema):
    marked: int


class AnnouncementOut(Schema):
    id: int
    kind: str
    kind_label: str
    title: str
    body: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _out(n: Notification, lang: str) -> dict[str, Any]:
    title, body = n.text(lang)
    return {"id": str(n.pk), "category": n.category, "category_label": category_label(n.category, lang),
            "title": title, "body": body, "url": n.url, "created_at": n.created_at, "read": n.read_at is not None}


def _invalid(exc: ValidationError) -> ApiError:
    return ApiError(422, "invalid_request", "；".join(exc.messages))


def _pref(user: Any, category: str, lang: str) -> dict[str, Any]:
    channels = stored_channels(user, category)
    if category in MANDATORY and "inbox" not in channels:
        channels = ["inbox", *channels]
    return {"category": category, "label": category_label(category, lang), "mandatory": category in MANDATORY,
            "channels": channels}


@router.get("", response=InboxPage, summary="我的站内通知")
def list_notifications(request: HttpRequest, q: Query[PageIn]) -> dict[str, Any]:
    page = max(1, q.page)
    start = (page - 1) * PAGE_SIZE
    inbox = my_inbox(request.user)
    rows = list(inbox[start: start + PAGE_SIZE + 1])
    lang = _lang(request)
    return {"items": [_out(n, lang) for n in rows[:PAGE_SIZE]],
            "unread": inbox.filter(read_at__isnull=True).count(),
            "next": page + 1 if len(rows) > PAGE_SIZE else None}


@router.post("/read-all", response=ReadAllOut, summary="全部标为已读")
def read_all(request: HttpRequest) -> dict[str, int]:
    return {"marked": do_mark_all_read(request.user, acting_user=request.user)}


@router.get("/preferences", response=PreferencesOut, summary="通知设置")
def get_preferences(request: HttpRequest) -> dict[str, Any]:
    row = settings_for(request.user)
    lang = _lang(request)
    return {
        "language": row.language if row is not None else "zh-hans",
        "email_confirmed": bool(row is not None and row.email_confirmed_at),
        "available_channels": available_channels(),
        "categories": [_pref(request.user, c, lang) for c in Category.values],
    }


@router.put("/preferences/language", response=PreferencesOut, summary="通知语言")
def put_language(request: HttpRequest, payload: LanguageIn) -> dict[str, Any]:
    try:
        do_set_language(request.user, payload.language, acting_user=request.user)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return get_preferences(request)


@router.put("/preferences/{category}", response=CategoryPref, summary="设置一个类别的接收方式")
def put_preference(request: HttpRequest, category: str, payload: ChannelsIn) -> dict[str, Any]:
    if category not in Category.values:
        raise ApiError(404, "not_found", "未知的通知类别")
    try:
        do_set_channels(request.user, category, payload.channels, acting_user=request.user)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return _pref(request.user, category, _lang(request))


@router.get("/announcements", response=list[AnnouncementOut], auth=None, summary="正在发布的公告")
def announcements(request: HttpRequest) -> list[dict[str, Any]]:
    lang = _lang(request)
    return [
        {"id": a.pk, "kind": a.kind, "kind_label": a.kind_label(lang), "title": a.title(lang), "body": a.body(lang),
         "starts_at": a.starts_at, "ends_at": a.ends_at}
        for a in live_announcements()[:20]
    ]


@router.post("/{notification_id}/read", response=NotificationOut, summary="标为已读")
def mark_read(request: HttpRequest, notification_id: str) -> dict[str, Any]:
    try:
        entry = access_notification(request.user, notification_id, write=True)
    except Http404:
        raise ApiError(404, "not_found", "通知不存在") from None
    return _out(do_mark_read(entry, acting_user=request.user), _lang(request))
