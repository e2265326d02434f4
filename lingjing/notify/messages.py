"""Message templates: every notification is rendered from a template, in Chinese or English.

A template is a pair of files ``notify/messages/<name>.zh.txt`` and ``<name>.en.txt`` (Django templates; the
first line is the title, the rest the body). :data:`MESSAGES` lists every template with the categories it may be
sent under, so a feature cannot send, say, an advertisement dressed as a service notice: ``notify`` refuses a
template outside its categories. Other apps add their own with :func:`register`. A test renders every template in
both languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from lingjing.notify.models import Category


@dataclass(frozen=True)
class MessageKind:
    name: str
    categories: tuple[str, ...]
    required: tuple[str, ...] = ()  # context keys the template needs


MESSAGES: dict[str, MessageKind] = {
    kind.name: kind
    for kind in (
        MessageKind("support.received", (Category.ACCOUNT,), ("ticket_ref", "url")),
        MessageKind("support.reply", (Category.ACCOUNT,), ("ticket_ref", "url")),
        MessageKind("support.resolved", (Category.ACCOUNT,), ("ticket_ref", "url")),
        MessageKind("support.assigned", (Category.SERVICE,), ("ticket_ref", "url")),
        MessageKind("support.overdue", (Category.SERVICE,), ("ticket_ref", "url", "due")),
        MessageKind("security.sign_in", (Category.SECURITY,), ("when", "device")),
        MessageKind(
            "security.incident", (Category.SECURITY,), ("what", "impact", "measures", "advice", "remedies")
        ),
        MessageKind("service.maintenance", (Category.SERVICE,), ("starts", "ends")),
        MessageKind("marketing.campaign", (Category.MARKETING,), ("headline", "text")),
        MessageKind("social.activity", (Category.SOCIAL,), ("text",)),
    )
}


class UnknownMessage(ValueError):
    pass


def register(name: str, categories: tuple[str, ...], required: tuple[str, ...] = ()) -> MessageKind:
    """Add another app's template (its files under that app's ``templates/notify/messages/``). Idempotent."""
    kind = MessageKind(name, categories, required)
    existing = MESSAGES.get(name)
    if existing is not None and existing != kind:
        raise UnknownMessage(f"template {name!r} is already registered differently")
    MESSAGES[name] = kind
    return kind


def lang_code(language: str | None) -> str:
    """"en" for English, "zh" for everything else (Chinese is the product's first language)."""
    return "en" if (language or "").lower().startswith("en") else "zh"


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


def check(template: str, category: str, context: Mapping[str, Any]) -> MessageKind:
    kind = MESSAGES.get(template)
    if kind is None:
        raise UnknownMessage(f"unknown message template {template!r}")
    if category not in kind.categories:
        raise UnknownMessage(f"template {template!r} cannot be sent as {category!r} (only {kind.categories})")
    missing = [key for key in kind.required if key not in context]
    if missing:
        raise UnknownMessage(f"template {template!r} needs {', '.join(missing)}")
    return kind


def render(template: str, context: Mapping[str, Any], language: str | None) -> Rendered:
    """The title and body of ``template`` in the person's language."""
    lang = lang_code(language)
    with translation.override("en" if lang == "en" else "zh-hans"):
        text = render_to_string(f"notify/messages/{template}.{lang}.txt", dict(context)).strip()
    title, _, body = text.partition("\n")
    return Rendered(title=title.strip()[:200], body=body.strip())
