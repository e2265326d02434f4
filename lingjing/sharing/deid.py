"""De-identification applied by the gate before data leaves (policy 七; PIPL art. 73(3)).

Each recipient configures, per data category, one rule (``Recipient.deidentify``):

* ``drop`` — the category is not sent at all;
* ``hash`` — each value is replaced by an HMAC-SHA256 under a key derived for that recipient alone, so the same
  person is the same token at one recipient and cannot be linked across recipients, and nobody without our key
  can reverse or recompute it;
* ``generalise`` — the value is coarsened: a birth date to its year, an IP address to its /24 (IPv6: /48),
  a phone number to its country code and first three digits, a timestamp to its day.

Only the categories in :data:`GENERALISERS` can be generalised; ``validate_rules`` refuses anything else, so a
recipient cannot be configured with a rule that would silently send the raw value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from lingjing.privacy.registry import CATEGORIES

RULES = ("drop", "hash", "generalise")


class RuleError(ValueError):
    """A de-identification rule that cannot be applied (shown to staff in Chinese)."""


def _recipient_key(recipient_slug: str) -> bytes:
    return hmac.new(settings.LINGJING_BLIND_INDEX_KEY, b"deid\x00" + recipient_slug.encode(), hashlib.sha256).digest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")).encode()


def hash_value(value: Any, recipient_slug: str) -> str:
    return hmac.new(_recipient_key(recipient_slug), _canonical(value), hashlib.sha256).hexdigest()


def _year(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.year
    text = str(value).strip()
    if len(text) >= 4 and text[:4].isdigit():
        return int(text[:4])
    raise RuleError("出生日期格式无法泛化")


def _network(value: Any) -> str:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise RuleError("IP 地址格式无法泛化") from None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _phone_prefix(value: Any) -> str:
    text = str(value).strip()
    if text.startswith("+86") and len(text) == 14:
        return text[:6]
    if text.startswith("+") and len(text) > 6:
        return text[:5]
    raise RuleError("手机号码格式无法泛化")


def _day(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise RuleError("时间格式无法泛化") from None


GENERALISERS: dict[str, Callable[[Any], Any]] = {
    "identity.birth_date": _year,
    "device.ip": _network,
    "identity.phone": _phone_prefix,
    "device.session": _day,
    "behaviour.usage": _day,
}


def validate_rules(rules: Mapping[str, Any]) -> None:
    """Raise :class:`RuleError` for an unknown category, an unknown rule, or a category that cannot be generalised."""
    if not isinstance(rules, Mapping):
        raise RuleError("去标识化规则必须是“类别: 规则”的对象")
    for category, rule in rules.items():
        if category not in CATEGORIES:
            raise RuleError(f"去标识化规则中的类别不存在：{category}")
        if rule not in RULES:
            raise RuleError(f"去标识化规则只能是 drop、hash 或 generalise，而不是 {rule!r}")
        if rule == "generalise" and category not in GENERALISERS:
            raise RuleError(f"类别 {category} 不支持泛化，请改用 drop 或 hash")


def _each(value: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` to a scalar, to every item of a list, or to every value of a mapping."""
    if isinstance(value, Mapping):
        return {k: _each(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_each(v, fn) for v in value]
    if value is None:
        return None
    return fn(value)


def apply_rules(
    payload: Mapping[str, Any], rules: Mapping[str, str], *, recipient_slug: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The payload (keyed by category) with the recipient's rules applied, and the rules that were applied."""
    validate_rules(rules)
    out: dict[str, Any] = {}
    applied: dict[str, str] = {}
    for category, value in payload.items():
        rule = rules.get(category)
        if rule is None:
            out[category] = value
        elif rule == "drop":
            applied[category] = rule
        elif rule == "hash":
            out[category] = _each(value, lambda v: hash_value(v, recipient_slug))
            applied[category] = rule
        else:
            out[category] = _each(value, GENERALISERS[category])
            applied[category] = rule
    return out, applied
