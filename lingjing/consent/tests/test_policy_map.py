"""docs/policy-map.md stays complete: every promise id mapped, every mapped test real, the gaps declared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lingjing.consent.policymap import check_policy_map

ROOT = Path(__file__).resolve().parents[3]
MAP = ROOT / "docs" / "policy-map.md"
CLAUSES = ROOT.parent / "shared" / "design" / "POLICY-CLAUSES.md"


def test_policy_map_is_complete() -> None:
    if not CLAUSES.exists():
        pytest.fail(f"{CLAUSES} is missing: the policy map cannot be checked without the promise list")
    strict = os.environ.get("LINGJING_POLICY_MAP_STRICT") == "1"
    report = check_policy_map(MAP.read_text(encoding="utf-8"), CLAUSES.read_text(encoding="utf-8"), ROOT,
                              strict=strict)
    assert not report.problems, "docs/policy-map.md:\n" + "\n".join(report.problems)


def test_the_consent_promises_are_kept() -> None:
    report = check_policy_map(MAP.read_text(encoding="utf-8"), CLAUSES.read_text(encoding="utf-8"), ROOT)
    for cid in ("C1.4", "C1.8", "C1.9", "C1.10", "C2.1", "C2.2", "C2.3", "C5.4", "C8.1", "L11"):
        assert cid in report.rows and cid not in report.not_yet


CLAUSES_SAMPLE = "- C1.1 Registration.\n- C2.3 Do Not Track.\n- L11 Policy from registry.\n"
THIS = "lingjing/consent/tests/test_policy_map.py"


def _check(text: str, strict: bool = False) -> list[str]:
    return check_policy_map(text, CLAUSES_SAMPLE, ROOT, strict=strict).problems


def test_the_check_reports_missing_ids_and_bad_rows() -> None:
    good = (f"## A\n### C1.1 x\n- C1.1 — code — test: {THIS}::test_policy_map_is_complete\n"
            f"### C2.3 y\n- C2.3 — code — test: {THIS}::test_the_check_reports_missing_ids_and_bad_rows[p]\n"
            "### L11 z\n\n## Not yet kept\n\n- L11\n")
    assert _check(good) == []
    assert _check(good, strict=True) == ["promises not yet kept: L11"]
    assert any("C2.3: no section" in p for p in _check(good.replace("### C2.3 y\n", "")))
    assert any("missing test" in p for p in _check(good.replace("test_policy_map_is_complete", "test_nope")))
    assert any("missing test" in p for p in _check(good.replace(THIS, "lingjing/nowhere.py")))
    assert any("missing test" in p for p in _check(good.replace(THIS, "../outside/test_x.py")))
    assert any("not listed under" in p for p in _check(good.replace("- L11\n", "")))
    assert any("but has rows" in p for p in _check(good.replace("- L11\n", "- L11\n- C1.1\n")))
    assert any("under section" in p for p in _check(good.replace("- C1.1 — code", "- C2.3 — code")))
    assert any("malformed" in p for p in _check(good.replace("— test:", "test=", 1)))
    assert any("unknown id" in p for p in _check(good + "### C9.9 ghost\n"))
