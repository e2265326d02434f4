"""What other apps use: log a decision, ask whether solely automated decisions are allowed, hear about reviews.

    from lingjing.decisions.service import allows_solely_automated, record_decision

    decision = record_decision(user, "moderation", outcome="work_hidden", rule_version="mod-rules-3",
                               explanation_zh="……", explanation_en="…", inputs={"matched_rule": "spam-link"},
                               significant=True, object_ref=f"work:{work.pk}", acting_user=None)
    if decision.effective:
        hide(work)
"""

from __future__ import annotations

from lingjing.decisions.actions import AutomationRefused, allows_solely_automated, record_decision
from lingjing.decisions.signals import decision_reviewed

__all__ = ["AutomationRefused", "allows_solely_automated", "decision_reviewed", "record_decision"]
