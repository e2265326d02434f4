"""Project rules that no linter knows, checked over the whole code base.

1. View code (``views.py``, ``api.py``, ``views/*.py`` anywhere under ``lingjing/``) never writes models itself:
   no ``.save()``, ``.delete()``, ``.update()``, ``.create()``, ``.bulk_create()``, ``.bulk_update()``,
   ``.get_or_create()``, ``.update_or_create()``. Writes go through ``<app>/actions.py`` (one transaction, one
   audit row). Nor does it fetch by ``Model.objects.get(...)``: owned objects come through an ``access_*``
   chokepoint that answers 404 for everyone else. The few exceptions are listed in ``ALLOWED`` with the reason.
2. Every model with a ``SealedField`` has a UUID primary key with a default (the field's associated data
   binds each ciphertext to its row id, which must exist before the first save).
3. The models and the migrations agree (``makemigrations --check``).
"""

from __future__ import annotations

import ast
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import models
from django.test.utils import isolate_apps

from lingjing.security.crypto import SealedField, models_with_sealed_fields, sealed_fields

PACKAGE = Path(__file__).resolve().parents[2]  # lingjing/
WRITES = {"save", "delete", "update", "create", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
QUERYSET_METHODS = {
    "objects", "_default_manager", "filter", "exclude", "all", "select_related", "prefetch_related",
    "select_for_update", "order_by", "only", "defer", "annotate", "using", "none", "distinct",
}  # fmt: skip

# (path relative to lingjing/, function qualname, method) -> why it is not personal data or not a view's write.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("api.py", "BearerAuth.authenticate", "update"): (
        "last-use time of an API token, refreshed at most every 5 minutes for the user's device list; "
        "bookkeeping of the credential being checked, like Django's own last_login, not a change the user made"
    ),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    method: str

    def __str__(self) -> str:
        return f"lingjing/{self.path}:{self.line} {self.function or '<module>'}: .{self.method}()"


def _chain(node: ast.expr) -> list[str]:
    """Attribute and call names along a receiver: ``Work.objects.filter(x=1)`` -> ['Work', 'objects', 'filter']."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return names[::-1]
        else:
            return names[::-1]


def _is_model_write(call: ast.Call, method: str) -> bool:
    receiver = _chain(call.func.value) if isinstance(call.func, ast.Attribute) else []
    on_queryset = bool(QUERYSET_METHODS & set(receiver))
    if method == "get":
        return bool(receiver) and receiver[-1] in ("objects", "_default_manager")
    if method == "update":
        # queryset.update(field=...) takes keywords only; dict.update({...}) / set.update(...) take a positional.
        return on_queryset or (not call.args and bool(call.keywords))
    if method == "delete":
        # model.delete() / queryset.delete() take no arguments; cache.delete(key), storage.delete(name) do.
        return on_queryset or not call.args
    return method in WRITES


class _Visitor(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.stack: list[str] = []
        self.findings: list[Finding] = []

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if (method in WRITES or method == "get") and _is_model_write(node, method):
                self.findings.append(Finding(self.path, node.lineno, ".".join(self.stack), method))
        self.generic_visit(node)


def scan_source(source: str, path: str) -> list[Finding]:
    visitor = _Visitor(path)
    visitor.visit(ast.parse(source, filename=path))
    return visitor.findings


def view_modules() -> list[Path]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if "tests" in parts or "migrations" in parts:
            continue
        if path.name in ("views.py", "api.py") or "views" in parts[:-1]:
            found.append(path)
    return found


def findings_in_views() -> list[Finding]:
    findings: list[Finding] = []
    for path in view_modules():
        findings += scan_source(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))
    return findings


def test_view_code_does_not_write_models_or_fetch_around_access_checks() -> None:
    assert view_modules(), "no view modules found: the scan would prove nothing"
    offending = [f for f in findings_in_views() if (f.path, f.function, f.method) not in ALLOWED]
    assert not offending, "writes belong in actions, fetches in access_* functions:\n" + "\n".join(map(str, offending))


def test_every_allowed_exception_is_still_needed() -> None:
    used = {(f.path, f.function, f.method) for f in findings_in_views()}
    assert set(ALLOWED) <= used, f"stale entries in ALLOWED: {set(ALLOWED) - used}"


def test_the_scan_catches_writes_and_ignores_lookalikes() -> None:
    source = """
def bad(request, pk):
    work = Work.objects.get(pk=pk)
    work.title = "x"
    work.save()
    Work.objects.filter(pk=pk).update(title="y")
    Work.objects.create(title="z")
    Work.objects.filter(author=request.user).delete()
    work.delete()
    form.save()
    Tag.objects.get_or_create(name="a")
    Tag.objects.update_or_create(name="a")
    Tag.objects.bulk_create([])
    request.user.api_tokens.create(label="x")

class Api:
    def method(self):
        Work._default_manager.get(pk=1)

def fine(request):
    context = {}
    context.update({"a": 1})
    seen = set()
    seen.update([1, 2])
    cache.delete("key")
    request.session.get("k")
    Work.objects.filter(pk=1).first()
    data.get("title")
    return access_work(request.user, 1)
"""
    findings = scan_source(source, "example/views.py")
    assert [(f.function, f.method) for f in findings] == [
        ("bad", "get"), ("bad", "save"), ("bad", "update"), ("bad", "create"), ("bad", "delete"),
        ("bad", "delete"), ("bad", "save"), ("bad", "get_or_create"), ("bad", "update_or_create"),
        ("bad", "bulk_create"), ("bad", "create"), ("Api.method", "get"),
    ]  # fmt: skip


def test_every_model_with_a_sealed_field_has_a_uuid_primary_key() -> None:
    sealed = list(models_with_sealed_fields())
    assert sealed, "no model has a SealedField: expected at least accounts.User"
    for model in sealed:
        pk = model._meta.pk
        assert isinstance(pk, models.UUIDField) and pk.has_default(), model._meta.label


@isolate_apps("lingjing.core")
def test_the_system_check_refuses_a_sealed_field_without_a_uuid_key() -> None:
    class Diary(models.Model):
        text = SealedField(owner="self")

        class Meta:
            app_label = "core"

    errors = sealed_fields(Diary)[0].check()
    assert [e.id for e in errors] == ["lingjing.E101"]


@pytest.mark.django_db
def test_models_and_migrations_agree() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out, stderr=out)
    except SystemExit as exc:
        pytest.fail(f"models changed without a migration (makemigrations exited {exc.code}):\n{out.getvalue()}")
