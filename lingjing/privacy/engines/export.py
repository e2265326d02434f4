"""Export engine: every personal datum held about one person, read through the registry.

``iter_person_data`` streams one record per (row, declared field) over every declaration, each model read with
``.iterator(chunk_size=...)`` so memory stays flat however many rows a person has. ``export_person`` groups the
records by category for "show me my data" (``GET /privacy/my-data``) and the copy package.

Rules:
1. Rows are selected only through the declaration's subject path (``Declaration.subject_filter``): the user's own
   row, rows whose subject foreign key is the user, or rows whose ``subject_ref`` column holds ``u:<uuid>``.
   Nobody else's row can appear.
2. ``export="omit"`` fields (password hash, blind index) are skipped; ``export="file"`` fields yield the storage
   name of the file, which the copy package adds as a file.
3. Sealed fields decrypt transparently; a value whose key was shredded reads as None and is not listed.
4. Sensitivity is per person: everything about a child under 14 is sensitive (``registry.is_sensitive_for``).

Reading is not a write: callers that disclose the result (a rights request) audit ``PERSON_EXPORTED`` themselves.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterator
from typing import Any, TypedDict

from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone, translation

from lingjing.privacy.labels import field_label, model_label
from lingjing.privacy.registry import BASES, CATEGORIES, PD, PURPOSES, Declaration, declarations, is_child

EXPORT_CHUNK = 2000


class PersonalRecord(TypedDict):
    category: str
    category_label: str
    model: str
    model_label: str
    field: str
    field_label: str
    value: Any  # JSON-ready: str, int, float, bool, list, dict
    export: str  # "value", or "file" when value is a storage name
    purposes: list[str]
    purpose_labels: list[str]
    basis: str
    basis_label: str
    retention: str
    sensitive: bool
    object_id: str


def _lang(lang: str | None) -> str:
    code = lang or translation.get_language() or "zh-hans"
    return "en" if code.startswith("en") else "zh"


def jsonable(value: Any) -> Any:
    """A value as JSON-ready data: datetimes in local time ISO 8601, UUIDs and decimals as text, bytes base64."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return str(value)


def _exported_fields(decl: Declaration) -> list[tuple[models.Field[Any, Any], PD]]:
    out = []
    for name, pd in decl.fields.items():
        if pd.export == "omit":
            continue
        out.append((decl.model._meta.get_field(name), pd))
    return out  # type: ignore[return-value]


def iter_person_data(
    user: Any, *, chunk_size: int = EXPORT_CHUNK, lang: str | None = None
) -> Iterator[PersonalRecord]:
    """Every personal datum about ``user``, one record per row and declared field, streamed.

    Walks the registry (declaration order); reads each model in primary-key order in chunks.
    """
    for decl, fields, statics in exported_declarations(user, lang):
        model = decl.model
        pk_name = model._meta.pk.name
        rows = (
            model._base_manager.filter(**decl.subject_filter(user.pk))
            .order_by("pk")
            .only(pk_name, *(f.name for f, _ in fields))
        )
        static = {f.name: part for (f, _pd), part in zip(fields, statics, strict=True)}
        for obj in rows.iterator(chunk_size=chunk_size):
            object_id = str(obj.pk)
            for field, _pd in fields:
                value = jsonable(getattr(obj, field.attname if field.is_relation else field.name))
                if value is None or value == "":
                    continue
                record: PersonalRecord = {**static[field.name], "value": value, "object_id": object_id}  # type: ignore[typeddict-item]
                yield record


def exported_declarations(
    user: Any, lang: str | None = None
) -> Iterator[tuple[Declaration, list[tuple[models.Field[Any, Any], PD]], list[dict[str, Any]]]]:
    """The walk every reader of a person's data shares: each declaration about a person (registry order) with
    its exported fields and, per field, the part of a record that is the same for every row."""
    language = _lang(lang)
    child = is_child(user)
    for decl in declarations():
        if not (decl.subject or decl.subject_ref):
            continue
        fields = _exported_fields(decl)
        if fields:
            yield decl, fields, [_static_part(decl, f, pd, language, child) for f, pd in fields]


def _static_part(
    decl: Declaration, field: models.Field[Any, Any], pd: PD, language: str, child: bool
) -> dict[str, Any]:
    """The parts of a record that are the same for every row of the field (built once per field)."""
    category = CATEGORIES[pd.category]
    return {
        "category": pd.category,
        "category_label": category.label.en if language == "en" else category.label.zh,
        "model": decl.label,
        "model_label": model_label(decl.model, language),
        "field": field.name,
        "field_label": field_label(field, language),
        "export": pd.export,
        "purposes": list(pd.purposes),
        "purpose_labels": [PURPOSES[p].en if language == "en" else PURPOSES[p].zh for p in pd.purposes],
        "basis": pd.basis,
        "basis_label": BASES[pd.basis].en if language == "en" else BASES[pd.basis].zh,
        "retention": pd.retention.describe(language),
        "sensitive": pd.is_sensitive or child,
    }


def export_person(user: Any, *, lang: str | None = None) -> dict[str, dict[str, Any]]:
    """Every personal datum about ``user`` grouped by category (taxonomy order), ready for JSON.

    ``{"identity.phone": {"label": "手机号码", "sensitive": False, "items": [record, ...]}, ...}``; only
    categories holding at least one datum appear.
    """
    grouped: dict[str, list[PersonalRecord]] = {}
    for record in iter_person_data(user, lang=lang):
        grouped.setdefault(record["category"], []).append(record)
    language = _lang(lang)
    out: dict[str, dict[str, Any]] = {}
    for cid, category in CATEGORIES.items():
        items = grouped.get(cid)
        if not items:
            continue
        out[cid] = {
            "label": category.label.en if language == "en" else category.label.zh,
            "sensitive": any(item["sensitive"] for item in items),
            "items": items,
        }
    return out
