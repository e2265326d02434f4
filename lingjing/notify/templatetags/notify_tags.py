"""``{% announcement_banner %}`` (every page: the announcements running now) and ``{% inbox_link %}`` (the
header link to the inbox with the unread count)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()
BANNER_MAX = 3


@register.inclusion_tag("notify/_banner.html", takes_context=True)
def announcement_banner(context: template.Context) -> dict[str, Any]:
    from lingjing.notify.announcements import banner_announcements

    request = context.get("request")
    lang = "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"
    items = [
        {"id": a.pk, "kind": a.kind, "kind_label": a.kind_label(lang), "title": a.title(lang)}
        for a in banner_announcements()[:BANNER_MAX]
    ]
    return {"items": items}


@register.inclusion_tag("notify/_inbox_link.html", takes_context=True)
def inbox_link(context: template.Context) -> dict[str, Any]:
    from lingjing.notify.access import my_inbox

    request = context.get("request")
    user = getattr(request, "user", None)
    unread = my_inbox(user).filter(read_at__isnull=True).count() if user is not None else 0
    return {"unread": unread}
