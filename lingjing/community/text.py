"""Comment text: people write plain text with a few inline marks; everything else is removed by nh3.

What is kept: ``b strong i em code del br`` and ``a href`` with http(s) URLs only (``rel="nofollow ugc
noopener"`` added). Any other tag is dropped with its markup (its text stays, escaped); scripts, styles and event
handlers never survive. Line breaks become ``<br>``. The stored body is this sanitised HTML, rendered as is.
"""

from __future__ import annotations

import re

import nh3
from django.core.exceptions import ValidationError

from lingjing.community.models import COMMENT_MAX

TAGS = {"b", "strong", "i", "em", "code", "del", "br", "a"}
ATTRIBUTES = {"a": {"href"}}
SCHEMES = {"http", "https"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sanitise_comment(raw: str) -> str:
    text = _CONTROL.sub("", raw or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError("评论不能为空", code="empty")
    if len(text) > COMMENT_MAX:
        raise ValidationError(f"评论最多 {COMMENT_MAX} 个字", code="too_long")
    text = re.sub(r"\n{3,}", "\n\n", text).replace("\n", "<br>")
    clean = nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel="nofollow ugc noopener",
                      strip_comments=True)
    if not plain_text(clean).strip():
        raise ValidationError("评论不能为空", code="empty")
    return clean


def plain_text(body: str) -> str:
    """The text of a sanitised body (for the filters and previews)."""
    return nh3.clean(body.replace("<br>", "\n"), tags=set()).replace("&lt;", "<").replace("&gt;", ">").replace(
        "&amp;", "&")


def link_count(body: str) -> int:
    """Distinct web addresses in a body (in links or in the text)."""
    return len(set(re.findall(r"https?://[^\s\"'<>]+", body)))
