"""``lingjing demo`` seeds every app's demo data and is idempotent."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command

from lingjing.core import demo

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_running_demo_twice_leaves_the_same_rows() -> None:
    out = io.StringIO()
    call_command("demo", stdout=out)
    first = row_counts()
    call_command("demo", stdout=io.StringIO())
    assert row_counts() == first
    assert "lingjing.core.demo" in out.getvalue()
    assert "demo seeded by" in out.getvalue()


def test_demo_runs_app_seeds_in_installed_apps_order(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    calls: list[str] = []

    class Fake:
        def __init__(self, name: str) -> None:
            self.__name__ = name

        def seed(self, stdout: Any) -> None:
            calls.append(self.__name__)

    modules = {
        "lingjing.core.demo": Fake("lingjing.core.demo"),
        "lingjing.accounts.demo": Fake("lingjing.accounts.demo"),
    }

    def fake_import(name: str) -> Any:
        if name in modules:
            return modules[name]
        raise ModuleNotFoundError(name=name)

    monkeypatch.setattr(demo, "import_module", fake_import)
    assert demo.run_demo(io.StringIO()) == ["lingjing.core.demo", "lingjing.accounts.demo"]
    assert calls == ["lingjing.core.demo", "lingjing.accounts.demo"]


def test_a_broken_demo_module_is_not_silently_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_import(name: str) -> Any:
        if name == "lingjing.core.demo":
            raise ModuleNotFoundError("No module named 'missing_dependency'", name="missing_dependency")
        raise ModuleNotFoundError(name=name)

    monkeypatch.setattr(demo, "import_module", fake_import)
    with pytest.raises(ModuleNotFoundError):
        demo.run_demo(io.StringIO())
