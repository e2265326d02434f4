"""The report a successor accepts in a merger, acquisition or bankruptcy (policy 三(二)(2); PIPL art. 22).

The successor takes over the personal data only together with the obligations attached to it. The report is the
whole data map (every declared field: category, purposes, legal basis, retention, sensitivity, sealing, what
erasure does) and the state of the obligations on the day: the policy version in force, the consents in force per
purpose, the requests still open, the recipients and their transfer mechanisms, this year's cross-border counts.
It holds counts and declarations only, never a person's data. Its SHA-256 over the canonical JSON is what the
successor signs (``do_accept_successor_report``), so the acceptance names exactly one document.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES, declarations
from lingjing.security.crypto import SealedField

OBLIGATIONS_ZH = [
    "继续受本隐私政策约束，按政策声明的目的、方式和范围处理所承继的个人信息；变更处理目的或处理方式的，"
    "须重新取得个人同意（《个人信息保护法》第二十二条；隐私政策第三部分第（二）项）。",
    "按数据地图所列的保存期限保存和删除个人信息，并继续执行到期删除与注销删除。",
    "继续履行尚未完成的个人信息权利请求、自动化决策复核和监护人请求，期限从原请求之日起算。",
    "对外提供个人信息须继续经过同一审查：取得单独同意或具备法律依据，记录对外提供情况并至少保存三年"
    "（《网络数据安全管理条例》第十二条）。",
    "向境外提供个人信息须继续满足单独同意、去标识化和年度数量门槛的要求。",
    "不满十四周岁未成年人的个人信息继续按敏感个人信息处理，须取得监护人同意。",
]
OBLIGATIONS_EN = [
    "Stay bound by this privacy policy for the data taken over; re-obtain consent before changing purposes or "
    "processing (PIPL art. 22; policy section 3(2)).",
    "Keep and delete personal data by the retention periods in the data map, including deletion on cancellation.",
    "Complete the open rights requests, decision reviews and guardian requests, counted from their original dates.",
    "Disclose only through the same checks: separate consent or a legal basis, every disclosure recorded and kept "
    "at least three years (NDR art. 12).",
    "Send data abroad only with separate consent, de-identification and within the yearly volume thresholds.",
    "Treat the data of children under 14 as sensitive, with a guardian's consent.",
]


def _data_map() -> list[dict[str, Any]]:
    rows = []
    for decl in declarations():
        if not decl.fields:
            continue
        fields = []
        for name, pd in decl.fields.items():
            try:
                field = decl.model._meta.get_field(name)
            except Exception:  # noqa: S112 - the registry's system check reports it
                continue
            fields.append({
                "field": name,
                "category": pd.category,
                "category_label": CATEGORIES[pd.category].label.zh if pd.category in CATEGORIES else pd.category,
                "purposes": list(pd.purposes),
                "purpose_labels": [PURPOSES[p].zh for p in pd.purposes if p in PURPOSES],
                "basis": pd.basis,
                "basis_label": BASES[pd.basis].zh if pd.basis in BASES else pd.basis,
                "retention": pd.retention.describe("zh"),
                "sensitive": pd.is_sensitive,
                "sealed": isinstance(field, SealedField),
                "export": pd.export,
            })
        rows.append({
            "model": decl.label,
            "name": str(decl.model._meta.verbose_name),
            "on_erase": str(decl.on_erase),
            "keep_days": decl.keep_days,
            "fields": fields,
        })
    return rows


def _count_by(model_label: str, field: str, **filters: Any) -> dict[str, int] | None:
    try:
        model = apps.get_model(model_label)
    except LookupError:
        return None
    rows = model._default_manager.filter(**filters).values(field).annotate(n=Count("pk")).order_by(field)
    return {str(r[field]): r["n"] for r in rows}


def _policy() -> dict[str, Any]:
    try:
        from lingjing.consent.policy import current_policy_version
    except ImportError:
        return {}
    version = current_policy_version()
    if version is None:
        return {}
    return {"number": version.number, "effective_at": version.effective_at.isoformat(), "material": version.material}


def _consents_in_force() -> dict[str, int] | None:
    return _count_by("consent.ConsentState", "purpose__key", granted=True)


def _open_items() -> dict[str, Any]:
    return {
        "rights_requests": _count_by("privacy.RightsRequest", "status"),
        "legal_requests_pending": _count_by("sharing.LegalRequest", "status", status="pending"),
        "decision_reviews_open": _count_by("decisions.ReviewRequest", "status", status="open"),
        "child_access_requests_pending": _count_by("children.ChildAccessRequest", "status", status="pending"),
        "guardian_consents_pending": _count_by("accounts.GuardianConsent", "status", status="pending"),
    }


def build_document(*, successor: str) -> dict[str, Any]:
    from lingjing.sharing.models import CrossBorderTally
    from lingjing.sharing.policy import recipients_for_policy

    year = timezone.localdate().year
    recipients = recipients_for_policy("zh", include_authorities=True)
    contracts = dict(
        apps.get_model("sharing", "Recipient").objects.values_list("slug", "contract_reference")
    )
    for row in recipients:
        row["contract_reference"] = contracts.get(row["slug"], "")
    tallies = [
        {"recipient": t.recipient.slug if t.recipient else "（合计）", "people": t.people,
         "sensitive_people": t.sensitive_people, "records": t.records}
        for t in CrossBorderTally.objects.filter(year=year).select_related("recipient").order_by("recipient__slug")
    ]
    return {
        "kind": "lingjing.successor-report",
        "version": 1,
        "generated_at": timezone.now().isoformat(),
        "controller": dict(settings.LINGJING_CONTROLLER),
        "successor": successor,
        "residency": settings.LINGJING_RESIDENCY,
        "policy": _policy(),
        "obligations": {"zh": OBLIGATIONS_ZH, "en": OBLIGATIONS_EN},
        "accounts": _count_by("accounts.User", "status"),
        "consents_in_force": _consents_in_force(),
        "open_items": _open_items(),
        "recipients": recipients,
        "cross_border": {"year": year, "tallies": tallies},
        "data_map": _data_map(),
    }


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def digest_of(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()


def render_markdown(doc: dict[str, Any]) -> str:
    """The human-readable side of the same document (Chinese)."""
    lines = [
        f"# 业务转让承继报告：{doc['successor']}",
        "",
        f"- 个人信息处理者：{doc['controller'].get('name', '')}",
        f"- 承继方：{doc['successor']}",
        f"- 生成时间：{doc['generated_at']}",
        f"- 数据存储地：{doc['residency']}",
    ]
    if doc["policy"]:
        lines.append(f"- 现行隐私政策：第 {doc['policy']['number']} 版（{doc['policy']['effective_at'][:10]} 起生效）")
    lines += ["", "## 承继方须承担的义务", ""]
    lines += [f"{i}. {text}" for i, text in enumerate(doc["obligations"]["zh"], 1)]
    lines += ["", "## 账号与同意", ""]
    for status, n in (doc["accounts"] or {}).items():
        lines.append(f"- 账号状态 {status}：{n}")
    for key, n in (doc["consents_in_force"] or {}).items():
        lines.append(f"- 有效同意 `{key}`：{n}")
    lines += ["", "## 未完成事项", ""]
    for name, counts in doc["open_items"].items():
        shown = "（未启用）" if counts is None else (", ".join(f"{k}: {v}" for k, v in counts.items()) or "0")
        lines.append(f"- {name}：{shown}")
    lines += ["", "## 信息接收方", "",
              "| 接收方 | 国家/地区 | 角色 | 目的 | 个人信息种类 | 法律依据 | 合同 | 出境条件 |",
              "|---|---|---|---|---|---|---|---|"]
    for r in doc["recipients"]:
        lines.append(
            f"| {r['legal_name']} | {r['country']} | {r['role_label']} | {'、'.join(r['purpose_labels'])} | "
            f"{'、'.join(r['category_labels'])} | {r['legal_basis_label']} | {r.get('contract_reference', '')} | "
            f"{r['mechanism_label'] if r['cross_border'] else '—'} |"
        )
    lines += ["", f"## {doc['cross_border']['year']} 年跨境提供计数", ""]
    for t in doc["cross_border"]["tallies"]:
        lines.append(f"- {t['recipient']}：{t['people']} 人（敏感 {t['sensitive_people']} 人），{t['records']} 次")
    if not doc["cross_border"]["tallies"]:
        lines.append("- 无")
    lines += ["", "## 数据地图", ""]
    for m in doc["data_map"]:
        lines += [f"### {m['name']}（`{m['model']}`）", "", f"删除时：{m['on_erase']}"
                  + (f"，依法保留 {m['keep_days']} 天" if m["keep_days"] else ""), "",
                  "| 字段 | 类别 | 目的 | 法律依据 | 保存期限 | 敏感 | 加密 |", "|---|---|---|---|---|---|---|"]
        for f in m["fields"]:
            lines.append(
                f"| `{f['field']}` | {f['category_label']} | {'、'.join(f['purpose_labels'])} | {f['basis_label']} | "
                f"{f['retention']} | {'是' if f['sensitive'] else '否'} | {'是' if f['sealed'] else '否'} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"
