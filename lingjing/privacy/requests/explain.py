"""Explanations (policy 五(七); PIPL art. 24, 48): of each automated decision recorded about the person, and of
the rules by which their data is processed.

The decisions come from the one decision log (``lingjing.decisions``): each has the explanation its rule wrote
when it decided, the inputs summary, the rule or model version and whether a person was involved. The answer adds
how to contest it: a human review, requested on the decision's page (``decisions.do_request_review``). The
processing rules are read from the registry for the categories actually held about the person, with the
recipients from their sharing log: what we hold, why, on what basis, for how long, and who received it.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES, declarations


def _decisions(user: Any, decision_id: str | None = None) -> list[Any]:
    from lingjing.decisions.access import my_decisions

    rows = my_decisions(user)
    if decision_id:
        rows = rows.filter(pk=decision_id)
    return list(rows.prefetch_related("reviews")[:200])


def decision_explanations(user: Any, *, decision_id: str | None = None, lang: str = "zh") -> list[dict[str, Any]]:
    """One readable explanation per decision: inputs, rule, outcome, how it was made, how to contest."""
    from lingjing.decisions.models import ReviewOrigin, ReviewStatus

    out = []
    for decision in _decisions(user, decision_id):
        item = decision.to_dict(lang)
        reviews = list(decision.reviews.all())
        appealed = any(r.origin == ReviewOrigin.APPEAL for r in reviews)
        item["reviews"] = [{"status": r.status, "resolution": r.resolution, "handled_at": r.handled_at}
                           for r in reviews]
        item["can_request_review"] = not appealed and not any(r.status == ReviewStatus.OPEN for r in reviews) \
            and decision.status != "overturned"
        item["url"] = reverse("decisions:detail", args=[decision.pk])
        out.append(item)
    return out


def processing_rules(user: Any, *, lang: str = "zh") -> list[dict[str, Any]]:
    """The registry's rules for each category of data held about ``user`` (counts, not values)."""
    en = lang.startswith("en")
    held: dict[str, dict[str, Any]] = {}
    for decl in declarations():
        if not (decl.subject or decl.subject_ref) or not decl.fields:
            continue
        count = decl.model._base_manager.filter(**decl.subject_filter(user.pk)).count()
        if not count:
            continue
        for pd in decl.fields.values():
            entry = held.setdefault(pd.category, {"purposes": set(), "bases": set(), "retention": set(), "rows": 0})
            entry["purposes"].update(pd.purposes)
            entry["bases"].add(pd.basis)
            entry["retention"].add(pd.retention.describe("en" if en else "zh"))
        for cid in {pd.category for pd in decl.fields.values()}:
            held[cid]["rows"] += count
    recipients = _recipients_by_category(user, lang)
    rows = []
    for cid, category in CATEGORIES.items():
        found = held.get(cid)
        if found is None:
            continue
        entry = found
        rows.append({
            "category": cid,
            "label": category.label.en if en else category.label.zh,
            "sensitive": category.sensitive,
            "purposes": [PURPOSES[p].en if en else PURPOSES[p].zh for p in sorted(entry["purposes"])],
            "bases": [BASES[b].en if en else BASES[b].zh for b in sorted(entry["bases"])],
            "retention": sorted(entry["retention"]),
            "records": entry["rows"],
            "recipients": recipients.get(cid, []),
        })
    return rows


def _recipients_by_category(user: Any, lang: str) -> dict[str, list[str]]:
    from lingjing.sharing.access import my_sharing_records

    out: dict[str, list[str]] = {}
    for rec in my_sharing_records(user).select_related("recipient")[:1000]:
        name = rec.recipient.name(lang)
        for cid in rec.categories:
            names = out.setdefault(cid, [])
            if name not in names:
                names.append(name)
    return out


def summary(user: Any, *, decision_id: str | None = None) -> dict[str, Any]:
    """What an explanation request answered (kept on the request: ids and counts only)."""
    decisions = _decisions(user, decision_id)
    return {
        "decisions": [str(d.pk) for d in decisions],
        "significant": sum(1 for d in decisions if d.significant),
        "solely_automated": sum(1 for d in decisions if d.solely_automated),
        "categories": [row["category"] for row in processing_rules(user)],
    }
