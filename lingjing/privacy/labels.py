"""How a declared personal datum is named and shown to the person: field and model labels, readable values.

Most models keep Django's derived verbose names ("rule version", "created at"); adding a Chinese ``verbose_name``
to every field would mean a migration in every app. Instead the label is looked up with gettext, in the context
``LABEL_CONTEXT``, with the verbose name as msgid: the zh-hans catalog (``lingjing/locale/zh_Hans``) carries the
Chinese for every declared field and model, English falls back to the verbose name, capitalised ("Rule version").
Fields whose verbose name is already Chinese are looked up the same way (the English catalog may translate them).

``scripts/privacy_labels.py`` regenerates the catalog's entries from the registry; the test
``test_every_declared_field_has_a_chinese_label`` fails on a field without a translation.

Values: :func:`displayer` turns the JSON-ready value of a field (``engines.export.jsonable``) into text for a
person: booleans as 是/否 (Yes/No), datetimes in local time, choices by their label. The machine-readable output
(``data.json``, the API) keeps the raw values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import models
from django.utils import timezone, translation
from django.utils.text import capfirst

LABEL_CONTEXT = "personal data"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _code(lang: str) -> str:
    return "en" if lang.startswith("en") else "zh-hans"


def _label(text: Any, lang: str) -> str:
    with translation.override(_code(lang)):
        raw = str(text)
        return capfirst(translation.pgettext(LABEL_CONTEXT, raw)) or raw


def field_label(field: Any, lang: str = "zh") -> str:
    """The name of a model field for a person: "规则版本" (zh), "Rule version" (en)."""
    return _label(getattr(field, "verbose_name", None) or field.name, lang)


def model_label(model: type[models.Model], lang: str = "zh") -> str:
    """The name of a model for a person: "自动化决策" (zh), "Decision" (en)."""
    return _label(model._meta.verbose_name, lang)


def label_msgids() -> Iterator[tuple[str, str]]:
    """(msgid, "app.Model[.field]") for every registered model and declared personal field, registry order."""
    from lingjing.privacy.registry import declarations

    for decl in declarations():
        if not decl.fields:
            continue
        with translation.override("zh-hans"):
            yield str(decl.model._meta.verbose_name), decl.label
            for name in decl.fields:
                field = decl.model._meta.get_field(name)
                yield str(getattr(field, "verbose_name", None) or name), f"{decl.label}.{name}"


# --- values ---------------------------------------------------------------------------------------------------

_YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}


def _when(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment.second else moment.strftime("%Y-%m-%d %H:%M")


def _choice_name(key: Any, name: Any, lang: str) -> str:
    """A choice's label; in English, when the label is Chinese and no catalog translates it (context
    ``LABEL_CONTEXT``), the stored key read as words ("awaiting_requester" -> "Awaiting requester")."""
    with translation.override(_code(lang)):
        label = str(name)
        if lang.startswith("en") and _CJK.search(label):
            english = translation.pgettext(LABEL_CONTEXT, label)
            if english != label:
                return english
            if isinstance(key, str) and key:
                return capfirst(key.replace("_", " ").replace(".", " ")) or label
        return label


def displayer(field: Any, lang: str = "zh") -> Callable[[Any], Any]:
    """A function from the field's JSON-ready value to what a person reads; built once per field.

    Booleans read 是/否 (Yes/No), datetimes local time "2026-11-29 16:02", choices their label in ``lang``
    (see :func:`_choice_name` for English).
    Anything else is returned unchanged.
    """
    yes, no = _YES_NO["en" if lang.startswith("en") else "zh"]
    choices = getattr(field, "flatchoices", None) or []
    if choices:
        names = {str(key): _choice_name(key, name, lang) for key, name in choices}

        def choice(value: Any) -> Any:
            if isinstance(value, bool):
                return yes if value else no
            return names.get(str(value), value) if isinstance(value, str | int) else value

        return choice
    if isinstance(field, models.BooleanField):
        return lambda value: (yes if value else no) if isinstance(value, bool) else value
    if isinstance(field, models.DateTimeField):
        return _when
    return lambda value: (yes if value else no) if isinstance(value, bool) else value


def field_of(model: str, name: str) -> Any:
    """The model field a record names ("app.Model", "field")."""
    from django.apps import apps

    return apps.get_model(model)._meta.get_field(name)


def add_display(groups: dict[str, dict[str, Any]], lang: str = "zh") -> dict[str, dict[str, Any]]:
    """``export_person``'s groups with a ``display`` text on every item (the raw ``value`` is left as it is)."""
    shown: dict[tuple[str, str], Callable[[Any], Any]] = {}
    return {cid: {**group, "items": with_display(group["items"], lang, shown)} for cid, group in groups.items()}


def with_display(
    items: Iterable[dict[str, Any]], lang: str = "zh", shown: dict[tuple[str, str], Callable[[Any], Any]] | None = None
) -> list[dict[str, Any]]:
    """Export items (``model``, ``field``, ``value``) with a readable ``display`` text each; ``value`` is kept."""
    shown = {} if shown is None else shown
    out = []
    for item in items:
        key = (item["model"], item["field"])
        show = shown.get(key)
        if show is None:
            show = shown[key] = displayer(field_of(*key), lang)
        out.append({**item, "display": show(item["value"])})
    return out
