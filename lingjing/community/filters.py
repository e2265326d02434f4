"""The automated moderation filter: a keyword list and three spam rules.

Every hit becomes an automated decision in the decisions app (``record_decision``, kind ``moderation``) with an
explanation the person reads under 隐私中心 → 自动化决策 and can ask a human to review. The decision's inputs
name the rule and the term's id, never the text. A person who refused solely automated moderation decisions gets
an ``awaiting_human`` decision instead: the content stays up until a moderator confirms.

Rules (``RULE_VERSION``):

* ``keyword`` — the text, normalised (NFKC, case folded, spaces and punctuation removed so ``加 微 信`` is
  caught), contains an active :class:`BlockedTerm` or one of :data:`DEFAULT_TERMS`;
* ``links`` — more than :data:`MAX_LINKS` distinct web addresses in one comment;
* ``repeat`` — the same comment text as one of the author's comments in the last :data:`REPEAT_MINUTES` minutes;
* ``flood`` — more than :data:`FLOOD_PER_MINUTE` comments by the author within a minute.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

RULE_VERSION = "mod-filter-1"
MAX_LINKS = 3
REPEAT_MINUTES = 10
FLOOD_PER_MINUTE = 8

# Typical spam and illegal-service phrases; moderators add more as BlockedTerm rows (normalised like the text).
DEFAULT_TERMS = (
    "代开发票", "办证刻章", "网络赌博", "博彩平台", "时时彩", "私服外挂", "刷单返利", "裸聊", "加微信领取", "加vx",
    "兼职日结", "贷款秒批", "套现",
)

EXPLANATIONS: dict[str, tuple[str, str]] = {
    "keyword": ("内容包含社区规范禁止的词语（广告、违法服务等）。",
                "the text contains a phrase the community rules forbid (advertising, illegal services)."),
    "links": (f"一条评论中包含超过 {MAX_LINKS} 个链接，疑似广告。",
              f"more than {MAX_LINKS} links in one comment, typical of advertising."),
    "repeat": (f"{REPEAT_MINUTES} 分钟内重复发布相同内容。",
               f"the same text was posted again within {REPEAT_MINUTES} minutes."),
    "flood": (f"一分钟内发布超过 {FLOOD_PER_MINUTE} 条评论。",
              f"more than {FLOOD_PER_MINUTE} comments within a minute."),
}


@dataclass(frozen=True)
class Verdict:
    rule: str  # "" when nothing matched
    term_id: int | None = None

    def __bool__(self) -> bool:
        return bool(self.rule)

    @property
    def inputs(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule}
        if self.term_id is not None:
            data["term"] = self.term_id
        return data

    def explanation(self, what_zh: str, what_en: str, effect_zh: str, effect_en: str) -> tuple[str, str]:
        zh, en = EXPLANATIONS[self.rule]
        return (f"自动审核（规则 {RULE_VERSION}）：您的{what_zh}{zh}{effect_zh}如有异议，可申请人工复核。",
                f"Automated moderation (rule {RULE_VERSION}): in your {what_en}, {en} {effect_en} "
                "You can ask for a human review.")


def normalise_term(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def keyword_hit(text: str) -> Verdict:
    from lingjing.community.models import BlockedTerm

    norm = normalise_term(text)
    if not norm:
        return Verdict("")
    for term_id, term in BlockedTerm.objects.filter(active=True).values_list("id", "term"):
        if term and term in norm:
            return Verdict("keyword", term_id)
    for n, term in enumerate(DEFAULT_TERMS):
        if normalise_term(term) in norm:
            return Verdict("keyword", -(n + 1))  # built-in terms: negative ids
    return Verdict("")


def check_comment(author: Any, body: str, *, now: dt.datetime | None = None) -> Verdict:
    """The first rule a new comment (sanitised ``body``) breaks, or an empty verdict."""
    from lingjing.community.models import Comment
    from lingjing.community.text import link_count, plain_text

    now = now or timezone.now()
    text = plain_text(body)
    verdict = keyword_hit(text)
    if verdict:
        return verdict
    if link_count(body) > MAX_LINKS:
        return Verdict("links")
    recent = Comment.objects.filter(author=author, created_at__gte=now - dt.timedelta(minutes=REPEAT_MINUTES))
    if any(b == body for b in recent.values_list("body", flat=True)[:50]):
        return Verdict("repeat")
    if recent.filter(created_at__gte=now - dt.timedelta(minutes=1)).count() >= FLOOD_PER_MINUTE:
        return Verdict("flood")
    return Verdict("")


def check_work(title: str, tags: list[str]) -> Verdict:
    """A work about to be published: its title and tags against the keyword list."""
    return keyword_hit(" ".join([title, *tags]))
