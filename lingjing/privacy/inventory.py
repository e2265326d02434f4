"""The data map: the registry as rows (``lingjing privacy inventory``), and its completeness check.

``inventory_rows()`` is the structured form every consumer reads: the command's table and JSON, and the published
policy, which renders what is collected, why, on what basis and for how long from the same rows.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from lingjing.privacy.labels import field_label, model_label
from lingjing.privacy.registry import (
    BASES,
    CATEGORIES,
    PD,
    PURPOSES,
    Declaration,
    Gap,
    RowErase,
    declarations,
    find_gaps,
)


@dataclass(frozen=True)
class InventoryRow:
    """One declared personal field, described in both languages."""

    model: str  # "accounts.User"
    model_name: str  # the model's name for a person, e.g. "用户"
    field: str
    field_zh: str  # the field's name for a person (lingjing.privacy.labels), e.g. "规则版本"
    field_en: str  # e.g. "Rule version"
    category: str
    category_zh: str
    category_en: str
    purposes: tuple[str, ...]
    purposes_zh: tuple[str, ...]
    purposes_en: tuple[str, ...]
    basis: str
    basis_zh: str
    basis_en: str
    retention_zh: str
    retention_en: str
    sensitive: bool  # by category; every datum of a child under 14 is sensitive as well
    sealed: bool
    export: str
    erase: str  # "delete" | "anonymise" | "keep"
    erase_zh: str
    erase_en: str
    keep_days: int | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("purposes", "purposes_zh", "purposes_en"):
            out[key] = list(out[key])
        return out


def _short(label: str) -> str:
    """The legal basis without its article reference: "取得个人同意（…）" -> "取得个人同意"."""
    return label.split("（", 1)[0].split(" (", 1)[0]


def _erase_text(decl: Declaration, pd: PD, sealed: bool) -> tuple[str, str]:
    if decl.on_erase == RowErase.DELETE:
        return "删除", "deleted"
    if decl.on_erase == RowErase.KEEP:
        days = decl.keep_days or 0
        return f"依法保留 {days} 天后删除", f"kept {days} days under a legal duty, then deleted"
    if sealed or pd.anonymised is None:
        return "匿名化（清空）", "anonymised (emptied)"
    return f"匿名化（替换为 {pd.anonymised!s}）", f"anonymised (replaced by {pd.anonymised!s})"


def inventory_rows() -> list[InventoryRow]:
    """Every declared personal field of every registered model, in erasure order then declaration order."""
    from lingjing.security.crypto import SealedField

    rows: list[InventoryRow] = []
    for decl in declarations():
        for name, pd in decl.fields.items():
            field = decl.model._meta.get_field(name)
            category = CATEGORIES[pd.category]
            basis = BASES[pd.basis]
            sealed = isinstance(field, SealedField)
            erase_zh, erase_en = _erase_text(decl, pd, sealed)
            rows.append(
                InventoryRow(
                    model=decl.label,
                    model_name=model_label(decl.model, "zh"),
                    field=name,
                    field_zh=field_label(field, "zh"),
                    field_en=field_label(field, "en"),
                    category=pd.category,
                    category_zh=category.label.zh,
                    category_en=category.label.en,
                    purposes=tuple(pd.purposes),
                    purposes_zh=tuple(PURPOSES[p].zh for p in pd.purposes),
                    purposes_en=tuple(PURPOSES[p].en for p in pd.purposes),
                    basis=pd.basis,
                    basis_zh=basis.zh,
                    basis_en=basis.en,
                    retention_zh=pd.retention.describe("zh"),
                    retention_en=pd.retention.describe("en"),
                    sensitive=pd.is_sensitive,
                    sealed=sealed,
                    export=pd.export,
                    erase=str(decl.on_erase),
                    erase_zh=erase_zh,
                    erase_en=erase_en,
                    keep_days=decl.keep_days,
                    note=pd.note,
                )
            )
    return rows


def check() -> list[Gap]:
    """The gaps of the registry (the same list the system check reports)."""
    return find_gaps()


def as_json(rows: list[InventoryRow] | None = None) -> str:
    rows = inventory_rows() if rows is None else rows
    body = {
        "fields": [row.to_dict() for row in rows],
        "categories": {cid: {"zh": c.label.zh, "en": c.label.en, "sensitive": c.sensitive}
                       for cid, c in CATEGORIES.items()},
        "children": {"age_under": 14, "rule": "every datum of a child under 14 is sensitive (PIPL art. 28, 31)"},
    }
    return json.dumps(body, ensure_ascii=False, indent=2)


# --- the plain-text table (CJK characters take two columns in a terminal) ------------------------------------


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


TABLE_HEADER = ("模型", "字段", "类别", "目的", "法律依据", "保存期限", "敏感", "加密", "导出", "删除")


def table_cells(row: InventoryRow) -> tuple[str, ...]:
    return (
        row.model,
        row.field,
        row.category_zh,
        "、".join(row.purposes_zh),
        _short(row.basis_zh),
        row.retention_zh,
        "是" if row.sensitive else "否",
        "是" if row.sealed else "否",
        {"value": "内容", "file": "文件", "omit": "不导出"}[row.export],
        row.erase_zh,
    )


def as_table(rows: list[InventoryRow] | None = None) -> str:
    rows = inventory_rows() if rows is None else rows
    lines = [TABLE_HEADER, *(table_cells(r) for r in rows)]
    widths = [max(_width(line[i]) for line in lines) for i in range(len(TABLE_HEADER))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append(f"共 {len(rows)} 项个人信息；未满十四周岁未成年人的全部个人信息均按敏感个人信息处理。")
    return "\n".join(out)
