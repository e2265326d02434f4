"""The registry check: every way a model can escape the registry or defeat erasure is reported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import models
from django.test.utils import isolate_apps

from lingjing.accounts.models import User
from lingjing.privacy import registry
from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare, find_gaps
from lingjing.security.crypto import SealedField

_PD = PD("content.script", ("content",), "contract", Retention.account())


@pytest.fixture(autouse=True)
def private_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Declarations made by a test vanish with it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with isolate_apps("lingjing.privacy"):
        yield


def gaps_of(model: type[models.Model]) -> list[tuple[str | None, str]]:
    return [(g.field, g.id) for g in find_gaps([model])]


def test_the_project_registry_is_complete() -> None:
    assert find_gaps() == []


def test_an_undeclared_field_is_caught() -> None:
    @declare(subject="owner", fields={"title": _PD}, non_personal=NonPersonal(["id", "owner"]))
    class Note(models.Model):
        owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
        title = models.CharField(max_length=10)
        mood = models.CharField(max_length=10)  # forgotten

        class Meta:
            app_label = "privacy"

    assert gaps_of(Note) == [("mood", "lingjing.E001")]


def test_an_undeclared_model_and_a_declared_ghost_field_are_caught() -> None:
    class Loose(models.Model):
        class Meta:
            app_label = "privacy"

    @declare(non_personal=["id", "vanished"])
    class Ghost(models.Model):
        class Meta:
            app_label = "privacy"

    assert gaps_of(Loose) == [(None, "lingjing.E002")]
    assert gaps_of(Ghost) == [("vanished", "lingjing.E003")]


def test_vocabulary_subject_path_and_sealing_mistakes_are_caught() -> None:
    @declare(
        fields={"a": PD("no.such", ("nope",), "whim", Retention.account())},
        non_personal=["id", "b"],
    )
    class Bad(models.Model):
        a = models.CharField(max_length=10)
        b = SealedField(owner="self")

        class Meta:
            app_label = "privacy"

    found = gaps_of(Bad)
    assert found.count(("a", "lingjing.E004")) == 3  # category, purpose, basis
    assert ("b", "lingjing.E004") in found  # a sealed field listed as non-personal
    assert (None, "lingjing.E005") in found  # personal fields but no subject


def test_anonymising_null_into_a_not_null_column_is_caught() -> None:
    @declare(
        subject="author",
        fields={"signature": _PD, "note": _PD, "code": PD("content.script", ("content",), "contract",
                                                           Retention.account(), anonymised="x")},
        non_personal=["id", "author"],
        on_erase=RowErase.ANONYMISE,
    )
    class Post(models.Model):
        author = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
        signature = models.CharField(max_length=10)  # NOT NULL, anonymised to None
        note = models.CharField(max_length=10, null=True)  # fine
        code = models.CharField(max_length=10, unique=True)  # one constant in a unique column

        class Meta:
            app_label = "privacy"

    assert sorted(gaps_of(Post), key=str) == [("code", "lingjing.E007"), ("signature", "lingjing.E006")]


def test_anonymise_needs_a_cuttable_link_and_keep_needs_days() -> None:
    @declare(subject="author", fields={"body": _PD}, non_personal=["id", "author"], on_erase=RowErase.ANONYMISE)
    class Stuck(models.Model):
        author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
        body = models.TextField(null=True)

        class Meta:
            app_label = "privacy"

    @declare(subject="user", fields={"body": _PD}, non_personal=["id", "user"], on_erase=RowErase.KEEP)
    class Held(models.Model):
        user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
        body = models.TextField()

        class Meta:
            app_label = "privacy"

    assert gaps_of(Stuck) == [("author", "lingjing.E008")]
    assert gaps_of(Held) == [(None, "lingjing.E009")]


def test_a_subject_that_is_not_a_link_to_the_user_is_caught() -> None:
    @declare(subject="owner", fields={"body": _PD}, non_personal=["id", "owner"])
    class Wrong(models.Model):
        owner = models.CharField(max_length=10)
        body = models.TextField()

        class Meta:
            app_label = "privacy"

    @declare(subject="self", fields={"body": _PD}, non_personal=["id"])
    class NotUser(models.Model):
        body = models.TextField()

        class Meta:
            app_label = "privacy"

    assert gaps_of(Wrong) == [("owner", "lingjing.E010")]
    assert gaps_of(NotUser) == [(None, "lingjing.E010")]


def test_a_sealed_field_owned_by_someone_else_is_caught() -> None:
    """Shredding the row's subject must make its sealed values unreadable; another owner's key would survive."""

    @declare(
        subject="author",
        fields={"draft": _PD},
        non_personal=["id", "author", "editor"],
    )
    class Draft(models.Model):
        id = models.UUIDField(primary_key=True)
        author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
        editor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
        draft = SealedField(owner="editor")

        class Meta:
            app_label = "privacy"

    assert gaps_of(Draft) == [("draft", "lingjing.E011")]


def test_the_user_model_must_declare_a_birth_date(monkeypatch: pytest.MonkeyPatch) -> None:
    decl = registry._REGISTRY["accounts.User"]
    fields: dict[str, Any] = {k: v for k, v in decl.fields.items() if k != "birth_date"}
    monkeypatch.setitem(registry._REGISTRY, "accounts.User", registry.Declaration(**{**decl.__dict__,
                                                                                        "fields": fields}))
    assert ("accounts.User", "birth_date", "lingjing.E012") in [(g.model, g.field, g.id) for g in find_gaps()]


def test_the_system_check_reports_the_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    from lingjing.privacy.apps import registry_check

    assert registry_check() == []
    decl = registry._REGISTRY["accounts.User"]
    fields = {k: v for k, v in decl.fields.items() if k != "nickname"}
    monkeypatch.setitem(registry._REGISTRY, "accounts.User", registry.Declaration(**{**decl.__dict__,
                                                                                        "fields": fields}))
    assert [e.id for e in registry_check()] == ["lingjing.E001"]
