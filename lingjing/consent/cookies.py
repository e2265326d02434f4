"""Every cookie the site sets, declared once.

The cookie page, the banner, the policy's cookie section and the middleware that strips non-consented
``Set-Cookie`` headers all read :data:`COOKIES`. A cookie that is not declared here is never sent (the
middleware drops it and logs an error), so the list cannot fall behind the code.

The browser's choice lives in the strictly necessary cookie ``lj_consent``: the granted categories plus the
declaration's fingerprint (:func:`declaration_version`). When the declaration changes (a cookie added, a
category or lifetime changed) the fingerprint no longer matches, the old choice stops counting and the banner
asks again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

from django.conf import settings
from django.core import signing
from django.http import HttpRequest

CategoryId = Literal["necessary", "preferences", "analytics", "marketing"]


@dataclass(frozen=True)
class CookieCategory:
    id: CategoryId
    zh: str
    en: str
    text_zh: str
    text_en: str
    optional: bool


CATEGORIES: tuple[CookieCategory, ...] = (
    CookieCategory("necessary", "严格必要", "Strictly necessary",
                   "登录、安全防护（CSRF）和记住您的 Cookie 选择所必需，无法关闭。",
                   "Needed for signing in, security (CSRF) and remembering your cookie choice; cannot be switched off.",
                   optional=False),
    CookieCategory("preferences", "偏好", "Preferences",
                   "记住您选择的界面语言等偏好。",
                   "Remember preferences such as the interface language.", optional=True),
    CookieCategory("analytics", "统计分析", "Analytics",
                   "以假名方式统计使用频率、故障、性能和访问来源，不与您的身份信息结合。",
                   "Count usage frequency, errors, performance and acquisition source under a pseudonym, "
                   "never combined with your identity.", optional=True),
    CookieCategory("marketing", "营销", "Marketing",
                   "衡量推广活动的效果。目前本站不设置此类 Cookie；您的选择将用于今后。",
                   "Measure campaigns. The site sets no such cookie at present; your choice applies to the future.",
                   optional=True),
)
CATEGORY_IDS: tuple[str, ...] = tuple(c.id for c in CATEGORIES)
OPTIONAL_CATEGORIES: tuple[str, ...] = tuple(c.id for c in CATEGORIES if c.optional)


@dataclass(frozen=True)
class Cookie:
    name: str
    category: CategoryId
    purpose_zh: str
    purpose_en: str
    lifetime_seconds: int | None  # None: ends with the browser session
    party: Literal["first", "third"] = "first"
    provider: str = ""  # for third-party cookies

    def lifetime(self, lang: str = "zh") -> str:
        return describe_lifetime(self.lifetime_seconds, lang)


CONSENT_COOKIE = "lj_consent"
ANALYTICS_COOKIE = "lj_aid"
CONSENT_COOKIE_AGE = 180 * 24 * 3600
ANALYTICS_COOKIE_AGE = 180 * 24 * 3600


def _declared() -> tuple[Cookie, ...]:
    return (
        Cookie(settings.SESSION_COOKIE_NAME, "necessary", "保持您的登录状态。", "Keeps you signed in.",
               settings.SESSION_COOKIE_AGE),
        Cookie(settings.CSRF_COOKIE_NAME, "necessary", "防止跨站请求伪造（CSRF）攻击。",
               "Protects forms against cross-site request forgery.", settings.CSRF_COOKIE_AGE),
        Cookie("messages", "necessary", "在页面跳转后显示一次性的操作提示。",
               "Shows a one-time message after a redirect.", None),
        Cookie(CONSENT_COOKIE, "necessary", "记住您对 Cookie 类别的选择及其对应的 Cookie 清单版本。",
               "Remembers your cookie choices and the version of this list you answered.", CONSENT_COOKIE_AGE),
        Cookie(settings.LANGUAGE_COOKIE_NAME, "preferences", "记住您选择的界面语言。",
               "Remembers the interface language you chose.", settings.LANGUAGE_COOKIE_AGE),
        Cookie(ANALYTICS_COOKIE, "analytics",
               "随机标识，仅用于按日计算假名（密钥每日轮换），统计使用频率、故障、性能和来源。",
               "A random id, used only to derive a daily pseudonym (key rotated daily) for usage, error, "
               "performance and source statistics.", ANALYTICS_COOKIE_AGE),
    )


def cookies() -> tuple[Cookie, ...]:
    """The declaration (names read from settings, so a renamed session cookie stays declared)."""
    return _declared()


def cookie_by_name(name: str) -> Cookie | None:
    return next((c for c in cookies() if c.name == name), None)


def describe_lifetime(seconds: int | None, lang: str = "zh") -> str:
    en = lang.startswith("en")
    if seconds is None:
        return "Browser session" if en else "浏览器会话期间"
    days = seconds // 86400
    if days >= 365 and days % 365 == 0:
        n = days // 365
        return f"{n} year{'s' if n > 1 else ''}" if en else f"{n} 年"
    if days >= 1:
        return f"{days} day{'s' if days > 1 else ''}" if en else f"{days} 天"
    hours = max(1, seconds // 3600)
    return f"{hours} hour{'s' if hours > 1 else ''}" if en else f"{hours} 小时"


def declaration_version() -> str:
    """Fingerprint of the declaration: changes whenever a cookie or category is added, removed or altered."""
    body = json.dumps(
        {"cookies": [asdict(c) for c in cookies()], "categories": [asdict(c) for c in CATEGORIES]},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:12]


# --- the browser's choice ---------------------------------------------------------------------------------

_SALT = "lingjing.consent.cookie-choice"


@dataclass(frozen=True)
class CookieChoice:
    granted: frozenset[str]
    version: str
    method: str

    @property
    def current(self) -> bool:
        return self.version == declaration_version()

    def allows(self, category: str) -> bool:
        if category == "necessary":
            return True
        return self.current and category in self.granted


def encode_choice(granted: set[str] | frozenset[str], method: str) -> str:
    cats = sorted(c for c in granted if c in OPTIONAL_CATEGORIES)
    return signing.dumps({"v": declaration_version(), "c": cats, "m": method}, salt=_SALT, compress=True)


def decode_choice(value: str | None) -> CookieChoice | None:
    if not value:
        return None
    try:
        data = signing.loads(value, salt=_SALT, max_age=CONSENT_COOKIE_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    cats = frozenset(str(c) for c in data.get("c", []) if c in OPTIONAL_CATEGORIES)
    return CookieChoice(granted=cats, version=str(data.get("v", "")), method=str(data.get("m", "")))


def cookie_choice(request: HttpRequest | None) -> CookieChoice | None:
    """The browser's current choice: what a view decided in this request, else the ``lj_consent`` cookie.

    A choice made for an older declaration is returned too (``current`` is False): it no longer grants anything.
    """
    if request is None:
        return None
    fresh = getattr(request, "lj_cookie_choice", None)
    if isinstance(fresh, CookieChoice):
        return fresh
    return decode_choice(request.COOKIES.get(CONSENT_COOKIE))


def category_allowed(request: HttpRequest | None, category: str) -> bool:
    if category == "necessary":
        return True
    choice = cookie_choice(request)
    return choice is not None and choice.allows(category)
