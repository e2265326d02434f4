"""Volume thresholds for sending personal data abroad (促进和规范数据跨境流动规定, 2024).

Counting: per calendar year (Asia/Shanghai), distinct people whose data went abroad, and distinct people whose
*sensitive* data went abroad (a child's data is all sensitive, PIPL art. 28). The regulation counts the
company's total since 1 January (art. 5(4), 7, 8), so the decision uses the total; each recipient's own tally is
kept beside it for the records and the console.

What each volume requires of the recipient (``Recipient.transfer_mechanism``):

===========================================  ==========================================================
this year's total, after this disclosure       needs
===========================================  ==========================================================
fewer than 100,000 people, no sensitive data   nothing (art. 5(4))
100,000 – 999,999 people                       standard contract or certification (art. 8(1))
any sensitive data, fewer than 10,000 people   standard contract or certification (art. 8(2))
1,000,000 people, or 10,000 sensitive          security assessment (art. 7(2))
a child's data                                 at least a standard contract (PIPL art. 31, 38; policy 六)
===========================================  ==========================================================

The limits are settings (``LINGJING_CROSSBORDER_*``) so tests and a stricter deployment can lower them. A
mechanism past its ``mechanism_valid_until`` counts as none.

Concurrency: the tally rows are locked (``select_for_update``) before the distinct-person checks, so two
disclosures of the same new person cannot both count them, and two of different people cannot both slip under a
threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from lingjing.sharing.models import MECHANISM_STRENGTH, CrossBorderTally, Mechanism, Recipient, SharingRecord

NEED_LABEL = {
    0: "无需",
    1: "个人信息出境标准合同或个人信息保护认证",
    2: "数据出境安全评估",
}


@dataclass
class Plan:
    """The counting decided for one disclosure abroad, applied by :func:`count` once it is allowed."""

    year: int
    tallies: list[CrossBorderTally]
    new_person_total: bool
    new_person_recipient: bool
    new_sensitive_total: bool
    new_sensitive_recipient: bool
    sensitive: bool


def limits() -> dict[str, int]:
    return {
        "people": int(settings.LINGJING_CROSSBORDER_PEOPLE_LIMIT),
        "people_assessment": int(settings.LINGJING_CROSSBORDER_ASSESSMENT_LIMIT),
        "sensitive": int(settings.LINGJING_CROSSBORDER_SENSITIVE_LIMIT),
    }


def _tally(year: int, recipient: Recipient | None) -> CrossBorderTally:
    row, _ = CrossBorderTally.objects.get_or_create(year=year, recipient=recipient)
    return CrossBorderTally.objects.select_for_update().get(pk=row.pk)


def plan(person: Any, recipient: Recipient, *, sensitive: bool) -> Plan:
    """Lock this year's tallies and work out whether this person is new to them. Call inside the transaction."""
    year = timezone.localdate().year
    total = _tally(year, None)
    own = _tally(year, recipient)
    earlier = SharingRecord.objects.filter(cross_border=True, at__year=year, status="released")
    if person is not None:
        mine = earlier.filter(person_id=person.pk)
        seen_total = mine.exists()
        seen_recipient = seen_total and mine.filter(recipient=recipient).exists()
        seen_s_total = mine.filter(sensitive=True).exists()
        seen_s_recipient = seen_s_total and mine.filter(sensitive=True, recipient=recipient).exists()
    else:  # no account behind it: counted as a new person every time (the safe side)
        seen_total = seen_recipient = seen_s_total = seen_s_recipient = False
    return Plan(
        year=year,
        tallies=[total, own],
        new_person_total=not seen_total,
        new_person_recipient=not seen_recipient,
        new_sensitive_total=sensitive and not seen_s_total,
        new_sensitive_recipient=sensitive and not seen_s_recipient,
        sensitive=sensitive,
    )


def required_strength(p: Plan, *, child: bool) -> tuple[int, str]:
    """The mechanism strength this disclosure needs, and why (Chinese, for the refusal message)."""
    lim = limits()
    total = p.tallies[0]
    people_after = total.people + (1 if p.new_person_total else 0)
    sensitive_after = total.sensitive_people + (1 if p.new_sensitive_total else 0)
    rules: list[tuple[int, str]] = []
    if child:
        rules.append((1, "向境外提供不满十四周岁未成年人的个人信息"))
    if p.sensitive:
        rules.append((1, "向境外提供敏感个人信息"))
        if sensitive_after >= lim["sensitive"]:
            rules.append((2, f"本年度累计向境外提供敏感个人信息将达到 {lim['sensitive']} 人"))
    if people_after >= lim["people"]:
        rules.append((1, f"本年度累计向境外提供个人信息将达到 {lim['people']} 人"))
    if people_after >= lim["people_assessment"]:
        rules.append((2, f"本年度累计向境外提供个人信息将达到 {lim['people_assessment']} 人"))
    if not rules:
        return 0, ""
    need = max(n for n, _ in rules)
    return need, next(why for n, why in rules if n == need)


def strength_of(recipient: Recipient) -> int:
    return MECHANISM_STRENGTH[Mechanism(recipient.mechanism_in_force())]


def count(p: Plan) -> None:
    """Add this disclosure to the locked tallies (same transaction as the sharing record)."""
    for row, new_person, new_sensitive in (
        (p.tallies[0], p.new_person_total, p.new_sensitive_total),
        (p.tallies[1], p.new_person_recipient, p.new_sensitive_recipient),
    ):
        CrossBorderTally.objects.filter(pk=row.pk).update(
            people=F("people") + int(new_person),
            sensitive_people=F("sensitive_people") + int(new_sensitive),
            records=F("records") + 1,
            sensitive_records=F("sensitive_records") + int(p.sensitive),
            updated_at=timezone.now(),
        )
