"""Checks ``docs/policy-map.md`` against ``POLICY-CLAUSES.md`` and the test suite.

The map has one ``### <ID> …`` section per promise id and rows of the form
``- <ID> — <what keeps it> — test: <test file>::<test name>``. :func:`check_policy_map` returns every problem:

* an id of the clauses without a section (a promise missing from the map), or a section for an unknown id;
* a row under the wrong section, a malformed row, a row whose test file or test function does not exist;
* an id with no row that is not listed under ``## Not yet kept``, or listed there although it has rows.

With ``strict=True`` any id still under *Not yet kept* is a problem too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ID_RE = r"(?:C\d+\.\d+|L\d+)"
CLAUSE_RE = re.compile(rf"^- ({ID_RE}) ", re.M)
SECTION_RE = re.compile(rf"^### ({ID_RE})(?:\s|$)")
ROW_RE = re.compile(rf"^- ({ID_RE}) — (.+) — test: (\S+?)::([A-Za-z_]\w*)(\[[^\]]*\])?\s*$")
NOT_YET = "## Not yet kept"


@dataclass
class MapReport:
    rows: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    not_yet: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def clause_ids(clauses_text: str) -> list[str]:
    return CLAUSE_RE.findall(clauses_text)


def _test_exists(root: Path, file: str, name: str) -> bool:
    path = (root / file).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        return False
    return re.search(rf"^\s*(?:async\s+)?def {re.escape(name)}\(", path.read_text(encoding="utf-8"), re.M) is not None


def check_policy_map(map_text: str, clauses_text: str, root: Path, *, strict: bool = False) -> MapReport:
    report = MapReport()
    ids = clause_ids(clauses_text)
    if not ids:
        report.problems.append("no promise ids found in POLICY-CLAUSES.md")
    known = set(ids)
    sections: dict[str, int] = {}
    current: str | None = None
    in_not_yet = False
    for number, line in enumerate(map_text.splitlines(), 1):
        if line.startswith("## "):
            in_not_yet = line.strip() == NOT_YET
            current = None
            continue
        section = SECTION_RE.match(line)
        if section:
            current = section.group(1)
            sections[current] = sections.get(current, 0) + 1
            if current not in known:
                report.problems.append(f"line {number}: section for unknown id {current}")
            continue
        if in_not_yet:
            item = re.match(rf"^- ({ID_RE})\s*$", line)
            if item:
                report.not_yet.append(item.group(1))
            elif line.startswith("- "):
                report.problems.append(f"line {number}: not-yet-kept entries are just '- <ID>'")
            continue
        if not line.startswith(("- C", "- L")):
            continue
        row = ROW_RE.match(line)
        if row is None:
            report.problems.append(f"line {number}: malformed row (want '- ID — what — test: file::name')")
            continue
        rid, _what, file, name = row.group(1), row.group(2), row.group(3), row.group(4)
        if rid != current:
            report.problems.append(f"line {number}: row for {rid} under section {current}")
        if not _test_exists(root, file, name):
            report.problems.append(f"line {number}: {rid} points to missing test {file}::{name}")
        report.rows.setdefault(rid, []).append((file, name))
    for cid in ids:
        if sections.get(cid, 0) == 0:
            report.problems.append(f"{cid}: no section in the policy map")
        elif sections[cid] > 1:
            report.problems.append(f"{cid}: {sections[cid]} sections in the policy map")
    unproven = [cid for cid in ids if cid not in report.rows]
    for cid in unproven:
        if cid not in report.not_yet:
            report.problems.append(f"{cid}: no row proves it and it is not listed under '{NOT_YET}'")
    for cid in report.not_yet:
        if cid in report.rows:
            report.problems.append(f"{cid}: listed under '{NOT_YET}' but has rows; remove it from that list")
        if cid not in known:
            report.problems.append(f"{cid}: listed under '{NOT_YET}' but is not a promise id")
    if strict and report.not_yet:
        report.problems.append(f"promises not yet kept: {', '.join(report.not_yet)}")
    return report
