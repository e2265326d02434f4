"""``lingjing demo``: seed a demonstration site, idempotently.

Every installed app may ship a module ``<app>.demo`` with a function ``seed(stdout)``; they run in
``INSTALLED_APPS`` order (so accounts' staff exist before works reference them). Each ``seed`` must be
idempotent: running the demo twice leaves the same rows. Writes inside a seed go through the app's actions,
like any other write.
"""

from __future__ import annotations

from importlib import import_module
from io import TextIOBase
from typing import Any

from django.conf import settings


def demo_modules() -> list[Any]:
    modules = []
    for app in settings.INSTALLED_APPS:
        name = f"{app}.demo"
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        if callable(getattr(module, "seed", None)):
            modules.append(module)
    return modules


def run_demo(stdout: TextIOBase) -> list[str]:
    """Run every app's seed; returns the module names that ran."""
    ran = []
    for module in demo_modules():
        stdout.write(f"== {module.__name__}\n")
        module.seed(stdout)
        ran.append(module.__name__)
    return ran


def seed(stdout: TextIOBase) -> None:
    """Core's part: the staff roles every later seed assigns people to (normally already made by migrate)."""
    from lingjing.core.roles import sync_roles

    counts = sync_roles()
    stdout.write("roles: " + ", ".join(f"{name} ({n} permissions)" for name, n in counts.items()) + "\n")
