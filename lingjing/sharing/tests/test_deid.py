"""De-identification rules (drop, hash, generalise)."""

from __future__ import annotations

import datetime as dt

import pytest

from lingjing.sharing.deid import RuleError, apply_rules, hash_value, validate_rules


def test_generalise_coarsens_birth_dates_addresses_and_phones() -> None:
    out, applied = apply_rules(
        {"identity.birth_date": "2011-06-30", "device.ip": ["203.0.113.77", "2001:db8:1:2::9"],
         "identity.phone": "+8613800138000", "device.session": dt.datetime(2025, 3, 4, 5, 6, tzinfo=dt.UTC)},
        {"identity.birth_date": "generalise", "device.ip": "generalise", "identity.phone": "generalise",
         "device.session": "generalise"},
        recipient_slug="r",
    )
    assert out == {"identity.birth_date": 2011, "device.ip": ["203.0.113.0/24", "2001:db8:1::/48"],
                   "identity.phone": "+86138", "device.session": "2025-03-04"}
    assert set(applied.values()) == {"generalise"}


def test_drop_removes_and_hash_is_per_recipient() -> None:
    out, applied = apply_rules({"identity.phone": "+8613800138000", "identity.account": "u1"},
                               {"identity.phone": "drop", "identity.account": "hash"}, recipient_slug="a")
    assert "identity.phone" not in out
    assert applied == {"identity.phone": "drop", "identity.account": "hash"}
    assert out["identity.account"] == hash_value("u1", "a") != hash_value("u1", "b")
    assert len(out["identity.account"]) == 64


def test_untouched_categories_pass_as_they_are() -> None:
    out, applied = apply_rules({"content.script": "文本"}, {}, recipient_slug="a")
    assert out == {"content.script": "文本"} and applied == {}


@pytest.mark.parametrize(
    "rules",
    [{"nope.category": "drop"}, {"identity.phone": "encrypt"}, {"content.script": "generalise"}, ["drop"]],
)
def test_bad_rules_are_refused(rules: object) -> None:
    with pytest.raises(RuleError):
        validate_rules(rules)  # type: ignore[arg-type]


def test_a_value_that_cannot_be_generalised_is_refused() -> None:
    with pytest.raises(RuleError):
        apply_rules({"device.ip": "not an address"}, {"device.ip": "generalise"}, recipient_slug="a")
