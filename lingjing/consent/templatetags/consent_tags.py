"""``{% consent_banner %}``: the cookie banner, the policy-change notices and the DNT/GPC notice on every page."""

from __future__ import annotations

from typing import Any

from django import template

from lingjing.consent import cookies as decl
from lingjing.consent.datamap import cookie_category_rows

register = template.Library()


@register.inclusion_tag("consent/banner.html", takes_context=True)
def consent_banner(context: template.Context) -> dict[str, Any]:
    from lingjing.consent.models import PolicyNotice
    from lingjing.consent.policy import upcoming_policy_version
    from lingjing.consent.service import signal_overrides
    from lingjing.consent.signals import privacy_signal

    request = context.get("request")
    if request is None:
        return {"show": False}
    user = getattr(request, "user", None)
    lang = "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"
    choice = decl.cookie_choice(request)
    upcoming = upcoming_policy_version()
    notices = []
    if user is not None and user.is_authenticated:
        notices = list(PolicyNotice.objects.filter(user_id=user.pk, read_at__isnull=True)
                       .select_related("version")[:3])
    return {
        "show": True,
        "banner": choice is None or not choice.current,
        "stale": choice is not None and not choice.current,
        "categories": cookie_category_rows(lang),
        "signal": privacy_signal(request),
        "overrides": signal_overrides(user, request),
        "upcoming": upcoming if upcoming is not None and upcoming.material else None,
        "notices": notices,
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
        "on_cookie_page": request.path == "/privacy/cookies",
    }
