"""Keyed hashes that stand for accounts, addresses and devices in the security log.

The key is the blind-index key (``LINGJING_BLIND_INDEX_KEY``) under its own purpose, so the hashes cannot be
recomputed without it and match nothing else in the database. A hash is stable, which is what velocity
checks need (the same account, address or network seen again), and it never holds the value it stands for.
"""

from __future__ import annotations

from typing import Any

from lingjing.core.ratelimit import client_ip, ip_group, ip_network_label
from lingjing.security.crypto import blind_index

LENGTH = 32


def pseudonym(kind: str, value: str) -> str:
    """``kind`` separates the spaces: ``u`` (account id), ``p`` (phone blind index), ``ip``, ``net``, ``dev``."""
    if not value:
        return ""
    return blind_index(f"{kind}:{value}", purpose="security-log")[:LENGTH]


def account_key(user_id: Any) -> str:
    return pseudonym("u", str(user_id)) if user_id else ""


def phone_key(phone_index: str) -> str:
    """For a number without an account: its blind index, hashed again under the log's purpose."""
    return pseudonym("p", phone_index)


def actor_key(user: Any, phone_index: str = "") -> str:
    if user is not None and getattr(user, "pk", None):
        return account_key(user.pk)
    return phone_key(phone_index)


def source_keys(request: Any) -> tuple[str, str]:
    """(address group, network) pseudonyms of the request's client."""
    if request is None:
        return "", ""
    ip = client_ip(request)
    return pseudonym("ip", ip_group(ip)), pseudonym("net", ip_network_label(ip))


def device_label(request: Any) -> str:
    """Browser family and system only (no full User-Agent): the accounts app's device label."""
    from lingjing.accounts.actions import _label

    return _label(request)


def device_key(user_id: Any, request: Any) -> str:
    if request is None or not user_id:
        return ""
    return pseudonym("dev", f"{user_id}|{device_label(request)}|{ip_network_label(client_ip(request))}")
