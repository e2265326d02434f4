"""``lingjing privacy inventory``: the data map as a table and JSON, and ``--check``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from lingjing.privacy import registry
from lingjing.privacy.inventory import inventory_rows

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str) -> str:
    out = StringIO()
    call_command("privacy", "inventory", *args, stdout=out)
    return out.getvalue()


def test_json_lists_every_declared_field_with_its_declaration() -> None:
    data = json.loads(run("--json"))
    rows = {(r["model"], r["field"]): r for r in data["fields"]}
    phone = rows[("accounts.User", "phone")]
    assert phone["category"] == "identity.phone" and phone["category_zh"] == "手机号码"
    assert phone["purposes"] == ["account", "security"] and phone["basis"] == "contract"
    assert phone["sealed"] is True and phone["export"] == "value" and phone["erase"] == "anonymise"
    assert phone["retention_zh"] == "账号存续期间"
    assert rows[("accounts.User", "password")]["export"] == "omit"
    assert rows[("security.AuditEntry", "sealed")]["erase"] == "keep"
    assert ("accounts.User", "is_staff") not in rows  # non-personal fields are not in the data map
    declared = {(d.label, name) for d in registry.declarations() for name in d.fields}
    assert set(rows) == declared


def test_table_shows_chinese_labels_aligned() -> None:
    text = run()
    lines = text.splitlines()
    assert lines[0].split() == ["模型", "字段", "类别", "目的", "法律依据", "保存期限", "敏感", "加密", "导出", "删除"]
    phone = next(line for line in lines if line.startswith("accounts.User ") and " phone " in line)
    assert "手机号码" in phone and "订立、履行合同所必需" in phone and "匿名化（清空）" in phone
    assert f"共 {len(inventory_rows())} 项个人信息" in text


def test_check_passes_on_a_complete_registry() -> None:
    assert "registry complete" in run("--check")


def test_check_fails_listing_every_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    decl = registry._REGISTRY["accounts.User"]
    fields = {k: v for k, v in decl.fields.items() if k not in ("nickname", "status")}
    monkeypatch.setitem(registry._REGISTRY, "accounts.User", registry.Declaration(**{**decl.__dict__,
                                                                                        "fields": fields}))
    with pytest.raises(CommandError) as caught:
        run("--check")
    message = str(caught.value)
    assert "2 registry gap(s)" in message
    assert "lingjing.E001 accounts.User.nickname" in message and "lingjing.E001 accounts.User.status" in message


def test_the_console_script_check_exits_zero_on_the_real_project(tmp_path: Path) -> None:
    env = {**os.environ, "LINGJING_DATA_DIR": str(tmp_path)}
    lingjing = [sys.executable, "-m", "lingjing.cli"]  # the console script's entry point
    done = subprocess.run([*lingjing, "privacy", "inventory", "--check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("registry complete")
