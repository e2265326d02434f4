"""Registry-driven correction and deletion of part of a person's data (policy 五(二), 五(三); PIPL art. 46, 47).

Design (read before changing; :func:`erase_categories` destroys data)
--------------------------------------------------------------------
Correction. :func:`correctable_fields` lists, from the registry, the person's declared fields a request may correct:
exported text and date fields of their own rows, outside the records of processing (consent, sharing, decisions,
requests, security and audit entries are proof of what happened and are not rewritten). A few fields have their own
path because other columns depend on them (:data:`SELF_SERVICE`: the nickname and its uniqueness key, the phone and
its lookup index, the avatar and its files); everything else is set by :func:`apply_correction` on the row found
through the declaration's subject path (so only the person's own rows can be reached), validated by the model
field, saved with ``save()`` (sealed fields are sealed again under the person's key) and audited in the same
transaction. The values never enter the audit log.

Deletion. :func:`erase_categories` removes the person's data in the chosen categories (:data:`DELETABLE`; the rest
belongs to the account itself and goes with a cancellation). Per declaration with a subject path, in erasure order:

* every personal field of the model is in the chosen categories: the rows go as the declaration says — ``DELETE``
  (with the files their ``export="file"`` fields name) or ``ANONYMISE`` (anonymised values, link to the person cut);
* only some are: those fields are cleared on the person's rows (their anonymised value, NULL, or ""); a field that
  cannot be cleared (a NOT NULL number or date) is reported as kept;
* ``KEEP`` declarations (records under a legal duty) are not touched and are reported as kept.

One durable transaction per chunk, with one ``RIGHTS_DATA_DELETED`` audit row; a rerun finds nothing left to do
where it already finished, so a crash is recovered by running again. Keys are not shredded (the account lives
on): copies in backups still hold the deleted rows until those backups rotate out (policy 五(三): "在备份更新时
删除"); a cancellation reaches backups at once through the key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import models, transaction

from lingjing.privacy.labels import field_label
from lingjing.privacy.registry import CATEGORIES, PD, Declaration, RowErase, declarations
from lingjing.security import audit
from lingjing.security.audit import AuditEvent
from lingjing.security.crypto import SealedField

# Categories a deletion request can remove while the account lives on.
DELETABLE = (
    "profile.preferences", "content.work", "content.script", "content.asset", "content.comment",
    "behaviour.search", "behaviour.interest", "behaviour.usage", "support.message", "support.contact",
    "device.ip", "device.session", "identity.email",
)  # fmt: skip
# Records of processing: proof of what happened, never rewritten by a correction.
NOT_CORRECTED = frozenset({
    "privacy.consent", "privacy.request", "privacy.sharing", "privacy.decision", "security.event", "audit.detail",
    "identity.credential", "device.session", "device.ip", "identity.account",
})
# Fields with their own path (other columns depend on them): where the person changes them themselves.
SELF_SERVICE: dict[str, str] = {
    "accounts.User.nickname": "/accounts/profile/",
    "accounts.User.avatar": "/accounts/profile/",
    "accounts.User.phone": "/accounts/security/",
}
TEXT_TYPES = (models.CharField, models.TextField, models.DateField, models.EmailField)


@dataclass(frozen=True)
class Correctable:
    key: str  # "<model label>.<field>"
    model: str
    field: str
    label: str
    category: str
    category_label: str
    object_id: str
    current: Any
    self_service_url: str = ""


def _is_text_like(f: models.Field[Any, Any]) -> bool:
    return isinstance(f, TEXT_TYPES) and not f.choices and not f.is_relation


def correctable_fields(user: Any) -> list[Correctable]:
    """Every declared datum of ``user`` that a correction can change (value read now, decrypted)."""
    out: list[Correctable] = []
    for decl in declarations():
        if not (decl.subject or decl.subject_ref):
            continue
        candidates = [
            (decl.model._meta.get_field(name), pd)
            for name, pd in decl.fields.items()
            if pd.export != "omit" and pd.category not in NOT_CORRECTED
        ]
        usable = [(f, pd) for f, pd in candidates if _is_text_like(f)]  # type: ignore[arg-type]
        if not usable:
            continue
        rows = decl.model._base_manager.filter(**decl.subject_filter(user.pk)).order_by("pk")[:200]
        for obj in rows:
            for f, pd in usable:
                key = f"{decl.label}.{f.name}"
                category = CATEGORIES[pd.category]
                out.append(Correctable(
                    key=key, model=decl.label, field=f.name, label=field_label(f, "zh"),
                    category=pd.category, category_label=category.label.zh, object_id=str(obj.pk),
                    current=getattr(obj, f.name), self_service_url=SELF_SERVICE.get(key, ""),
                ))
    return out


def _declaration(label: str) -> Declaration:
    for decl in declarations():
        if decl.label == label:
            return decl
    raise ValidationError(f"未知的数据项：{label}")


def find_row(user: Any, model_label: str, field_name: str, object_id: str) -> tuple[Declaration, Any, PD]:
    """The person's own row and the declared field a correction names; ValidationError otherwise."""
    decl = _declaration(model_label)
    pd = decl.fields.get(field_name)
    if pd is None or pd.export == "omit" or pd.category in NOT_CORRECTED:
        raise ValidationError("该数据项不能通过更正请求修改")
    f = decl.model._meta.get_field(field_name)
    if not _is_text_like(f):  # type: ignore[arg-type]
        raise ValidationError("该数据项不能通过更正请求修改")
    row = decl.model._base_manager.filter(**decl.subject_filter(user.pk)).filter(pk=object_id).first()
    if row is None:
        raise ValidationError("没有找到要更正的数据")
    return decl, row, pd


def clean_value(decl: Declaration, field_name: str, value: str) -> Any:
    """The new value as the model field would store it (raises ValidationError)."""
    f = decl.model._meta.get_field(field_name)
    if isinstance(f, models.DateField):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("日期格式应为 YYYY-MM-DD") from None
    text = value.strip()
    if isinstance(f, SealedField) and f.name == "birth_date":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationError("出生日期格式应为 YYYY-MM-DD") from None
    max_length = getattr(f, "max_length", None)
    if max_length and len(text) > max_length:
        raise ValidationError(f"最多 {max_length} 个字")
    if not text and not getattr(f, "blank", False):
        raise ValidationError("更正后的内容不能为空")
    return text


def apply_correction(user: Any, model_label: str, field_name: str, object_id: str, value: str) -> None:
    """Set one declared field of one of the person's rows. Must run inside the caller's transaction (the action
    writes the audit row); refuses self-service fields, which have their own path."""
    if f"{model_label}.{field_name}" in SELF_SERVICE:
        raise ValidationError("该数据项请在账号设置中自行修改")
    decl, row, _pd = find_row(user, model_label, field_name, object_id)
    setattr(row, field_name, clean_value(decl, field_name, value))
    row.save(update_fields=[field_name])


# --- deletion of chosen categories ----------------------------------------------------------------------------


@dataclass
class ScopedReport:
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)  # "<model>.<field>" -> rows
    kept: dict[str, int] = field(default_factory=dict)  # model or "<model>.<field>" -> rows left (legal hold)
    files_removed: int = 0

    def add(self, bucket: dict[str, int], key: str, count: int) -> None:
        if count:
            bucket[key] = bucket.get(key, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "anonymised": self.anonymised, "cleared": self.cleared,
                "kept": self.kept, "files_removed": self.files_removed}


def _cleared_value(f: models.Field[Any, Any], pd: PD) -> tuple[bool, Any]:
    if isinstance(f, SealedField):
        return True, None
    if pd.anonymised is not None:
        return True, pd.anonymised
    if f.null:
        return True, None
    if isinstance(f, models.CharField | models.TextField):
        return True, ""
    return False, None


def _remove_files(decl: Declaration, names: Iterable[str], pks: list[Any]) -> int:
    removed = 0
    for name in names:
        pd = decl.fields[name]
        if pd.export != "file":
            continue
        f = decl.model._meta.get_field(name)
        storage = f.storage if isinstance(f, models.FileField) else default_storage
        for stored in decl.model._base_manager.filter(pk__in=pks).values_list(f.attname, flat=True):  # type: ignore[union-attr]
            if stored:
                storage.delete(str(stored))
                removed += 1
    return removed


def erase_categories(
    user_id: uuid.UUID | str, categories: Iterable[str], *, request_id: Any, acting_user: Any = None,
    chunk: int | None = None,
) -> ScopedReport:
    """Remove the person's data in ``categories`` (a subset of :data:`DELETABLE`). Must not run inside a
    transaction. Safe to run again."""
    wanted = set(categories)
    bad = wanted - set(DELETABLE)
    if bad:
        raise ValidationError("这些信息随账号存在，须通过注销账号删除：" + "、".join(sorted(bad)))
    uid = uuid.UUID(str(user_id))
    size = chunk or settings.LINGJING_ERASURE_CHUNK
    subject = f"u:{uid}"
    report = ScopedReport()
    for decl in declarations():
        if not (decl.subject or decl.subject_ref) or decl.subject == "self":
            continue
        inside = [n for n, pd in decl.fields.items() if pd.category in wanted]
        if not inside:
            continue
        rows = decl.model._base_manager.filter(**decl.subject_filter(uid))
        if decl.on_erase == RowErase.KEEP:
            report.add(report.kept, decl.label, rows.count())
            continue
        whole = len(inside) == len(decl.fields)
        if whole:
            _erase_rows(decl, uid, size, subject, request_id, acting_user, report)
        else:
            _clear_fields(decl, inside, uid, size, subject, request_id, acting_user, report)
    return report


def _erase_rows(decl: Declaration, uid: uuid.UUID, size: int, subject: str, request_id: Any, acting_user: Any,
                report: ScopedReport) -> None:
    while True:
        with transaction.atomic(durable=True):
            pks = list(decl.model._base_manager.filter(**decl.subject_filter(uid)).order_by("pk")
                       .values_list("pk", flat=True)[:size])
            if not pks:
                return
            files = _remove_files(decl, decl.fields, pks)
            if decl.on_erase == RowErase.DELETE:
                _total, per_model = decl.model._base_manager.filter(pk__in=pks).delete()
                for label, count in per_model.items():
                    report.add(report.deleted, label, count)
                action = "delete"
            else:
                values: dict[str, Any] = {}
                for name, pd in decl.fields.items():
                    f = decl.model._meta.get_field(name)
                    values[f.attname] = None if isinstance(f, SealedField) else pd.anonymised  # type: ignore[union-attr]
                if decl.subject:
                    values[decl.model._meta.get_field(decl.subject).attname] = None  # type: ignore[union-attr]
                elif decl.subject_ref:
                    values[decl.subject_ref] = ""
                decl.model._base_manager.filter(pk__in=pks).update(**values)
                report.add(report.anonymised, decl.label, len(pks))
                action = "anonymise"
            report.files_removed += files
            audit.record(AuditEvent.RIGHTS_DATA_DELETED, acting_user=acting_user, subject=subject,
                         details={"request": str(request_id), "model": decl.label, "rows": len(pks),
                                  "action": action, "files": files})


def _clear_fields(decl: Declaration, names: list[str], uid: uuid.UUID, size: int, subject: str, request_id: Any,
                  acting_user: Any, report: ScopedReport) -> None:
    values: dict[str, Any] = {}
    pending = models.Q()
    for name in names:
        f = decl.model._meta.get_field(name)
        ok, value = _cleared_value(f, decl.fields[name])  # type: ignore[arg-type]
        if not ok:
            report.add(report.kept, f"{decl.label}.{name}",
                       decl.model._base_manager.filter(**decl.subject_filter(uid)).count())
            continue
        attname = f.attname  # type: ignore[union-attr]
        values[attname] = value
        pending |= ~models.Q(**{attname: value}) if value is not None else models.Q(**{f"{attname}__isnull": False})
    if not values:
        return
    while True:
        with transaction.atomic(durable=True):
            pks = list(decl.model._base_manager.filter(**decl.subject_filter(uid)).filter(pending).order_by("pk")
                       .values_list("pk", flat=True)[:size])
            if not pks:
                return
            files = _remove_files(decl, [n for n in names if decl.model._meta.get_field(n).attname in values], pks)  # type: ignore[union-attr]
            decl.model._base_manager.filter(pk__in=pks).update(**values)
            for attname in values:
                report.add(report.cleared, f"{decl.label}.{attname}", len(pks))
            report.files_removed += files
            audit.record(AuditEvent.RIGHTS_DATA_DELETED, acting_user=acting_user, subject=subject,
                         details={"request": str(request_id), "model": decl.label, "rows": len(pks),
                                  "action": "clear", "fields": sorted(values), "files": files})
