"""The yearly compliance report of children's data processing (未成年人网络保护条例 art. 37; promise L6).

Counts only, for one calendar year (Asia/Shanghai): child accounts, guardian consents and their outcomes, staff
requests to open children's data and the openings themselves, disclosures of children's data (by recipient and
abroad), and deletions. Guardian events come from the audit log, which keeps them even after the rows they
describe were erased; the rest from this app's and the sharing app's records.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from lingjing.children.models import AccessStatus, ChildAccessLog, ChildAccessRequest, UnconsentedChild
from lingjing.children.rules import was_child_during
from lingjing.security.audit import AuditEvent

GUARDIAN_EVENTS = {
    "requested": AuditEvent.GUARDIAN_REQUESTED,
    "confirmed": AuditEvent.GUARDIAN_CONFIRMED,
    "declined_or_expired": AuditEvent.GUARDIAN_DECLINED,
    "withdrawn": AuditEvent.GUARDIAN_WITHDRAWN,
}

LABELS = {
    "child_accounts": "年内未满十四周岁的账号（仍持有数据）",
    "guardian.requested": "监护人同意请求",
    "guardian.confirmed": "监护人同意",
    "guardian.declined_or_expired": "监护人拒绝或逾期未确认",
    "guardian.withdrawn": "监护人撤回同意",
    "staff.requests": "工作人员查看申请",
    "staff.approved": "其中获批",
    "staff.rejected": "其中被拒绝",
    "staff.accesses": "工作人员实际查看次数",
    "staff.distinct_staff": "查看过儿童信息的工作人员人数",
    "disclosures.total": "对外提供儿童个人信息次数",
    "disclosures.cross_border": "其中向境外提供",
    "deletions.unconsented_found": "发现未经监护人同意收集的儿童信息",
    "deletions.unconsented_deleted": "其中已删除",
    "deletions.pending_child_deleted": "未获监护人同意而删除的账号",
}


def _audit_count(event: str, year: int) -> int:
    from lingjing.security.audit_models import AuditEntry

    return AuditEntry.objects.filter(event=str(event), at__year=year).count()


def _child_accounts(year: int) -> int:
    users = (
        get_user_model()
        .objects.filter(Q(guardian_consents__isnull=False) | Q(status="pending_guardian"))
        .distinct()
        .only("id", "birth_date")
    )
    return sum(1 for u in users.iterator(chunk_size=500) if was_child_during(u, year))


def build_counts(year: int) -> dict[str, Any]:
    from lingjing.sharing.models import RecordStatus, SharingRecord

    requests = ChildAccessRequest.objects.filter(requested_at__year=year)
    logs = ChildAccessLog.objects.filter(at__year=year)
    shared = SharingRecord.objects.filter(child=True, at__year=year, status=RecordStatus.RELEASED)
    by_recipient = {
        row["recipient__slug"]: row["n"]
        for row in shared.values("recipient__slug").annotate(n=Count("pk")).order_by("recipient__slug")
    }
    found = UnconsentedChild.objects.filter(found_at__year=year)
    return {
        "year": year,
        "child_accounts": _child_accounts(year),
        "guardian": {name: _audit_count(event, year) for name, event in GUARDIAN_EVENTS.items()},
        "staff": {
            "requests": requests.count(),
            "approved": requests.filter(Q(status=AccessStatus.APPROVED) | Q(uses__isnull=False)).distinct().count(),
            "rejected": requests.filter(status=AccessStatus.REJECTED).count(),
            "accesses": logs.count(),
            "distinct_staff": logs.values("staff_id").distinct().count(),
        },
        "disclosures": {
            "total": shared.count(),
            "cross_border": shared.filter(cross_border=True).count(),
            "by_recipient": by_recipient,
        },
        "deletions": {
            "unconsented_found": found.count(),
            "unconsented_deleted": found.filter(status="deleted").count(),
            "pending_child_deleted": _audit_count(AuditEvent.PENDING_CHILD_DELETED, year),
        },
    }


def render_markdown(year: int, counts: dict[str, Any]) -> str:
    lines = [f"# {year} 年度儿童个人信息处理合规报告", "",
             "依据《个人信息保护法》第三十一条和《未成年人网络保护条例》第三十七条编制。"
             "以下均为计数，不含任何个人信息。", "",
             "| 项目 | 数量 |", "|---|---|", f"| {LABELS['child_accounts']} | {counts['child_accounts']} |"]
    for group in ("guardian", "staff", "disclosures", "deletions"):
        for name, value in counts[group].items():
            label = LABELS.get(f"{group}.{name}")
            if label is not None:
                lines.append(f"| {label} | {value} |")
    by_recipient = counts["disclosures"]["by_recipient"]
    if by_recipient:
        lines += ["", "## 按接收方", "", "| 接收方 | 次数 |", "|---|---|"]
        lines += [f"| {slug} | {n} |" for slug, n in by_recipient.items()]
    return "\n".join(lines) + "\n"
