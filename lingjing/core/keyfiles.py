"""Where the platform's secrets come from.

Development: generated once into ``LINGJING_DATA_DIR/keys`` with mode 0600, never into the repository.
Production (``LINGJING_ENV=production``): every key must come from the environment, base64-encoded:

- ``LINGJING_SECRET_KEY``        Django's secret (any string of at least 50 characters)
- ``LINGJING_MASTER_KEY``        32 bytes: wraps every person's data key (the current master key)
- ``LINGJING_OLD_MASTER_KEYS``   comma-separated earlier master keys, kept only until ``lingjing keys rotate``
- ``LINGJING_BLIND_INDEX_KEY``   32 bytes: HMAC key of the phone blind index
- ``LINGJING_AUDIT_SIGNING_KEY`` 32 bytes: Ed25519 private key that signs audit checkpoints
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Keys:
    secret_key: str
    master_keys: dict[str, bytes]
    current_master_key_id: str
    blind_index_key: bytes
    audit_signing_key: bytes


def master_key_id(key: bytes) -> str:
    return hashlib.sha256(b"lingjing-master-key-id" + key).hexdigest()[:12]


def _decode32(name: str, raw: str) -> bytes:
    try:
        value = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} must be base64 of 32 random bytes") from None
    if len(value) != 32:
        raise ImproperlyConfigured(f"{name} must be base64 of exactly 32 bytes, got {len(value)}")
    return value


def _from_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} is required when LINGJING_ENV=production")
    return value


def _dev_file(directory: Path, name: str, make: bytes) -> bytes:
    path = directory / name
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(make))
    return path.read_bytes().strip()


def load_or_create_keys(directory: Path, *, production: bool) -> Keys:
    if production:
        secret = _from_env("LINGJING_SECRET_KEY")
        if len(secret) < 50:
            raise ImproperlyConfigured("LINGJING_SECRET_KEY must be at least 50 characters")
        current = _decode32("LINGJING_MASTER_KEY", _from_env("LINGJING_MASTER_KEY"))
        blind = _decode32("LINGJING_BLIND_INDEX_KEY", _from_env("LINGJING_BLIND_INDEX_KEY"))
        signing = _decode32("LINGJING_AUDIT_SIGNING_KEY", _from_env("LINGJING_AUDIT_SIGNING_KEY"))
    else:
        secret = _dev_file(directory, "secret_key", secrets.token_bytes(48)).decode()

        def from_file(name: str) -> bytes:
            return _decode32(f"keys/{name}", _dev_file(directory, name, secrets.token_bytes(32)).decode())

        current, blind, signing = from_file("master.key"), from_file("blind_index.key"), from_file("audit_signing.key")
    masters: dict[str, bytes] = {}
    if not production and os.environ.get("LINGJING_MASTER_KEY"):
        # A rotation drill in development: the new key is current, the generated one stays readable.
        generated = current
        current = _decode32("LINGJING_MASTER_KEY", os.environ["LINGJING_MASTER_KEY"])
        masters[master_key_id(current)] = current
        masters[master_key_id(generated)] = generated
    masters.setdefault(master_key_id(current), current)
    for index, raw in enumerate(filter(None, os.environ.get("LINGJING_OLD_MASTER_KEYS", "").split(","))):
        old = _decode32(f"LINGJING_OLD_MASTER_KEYS[{index}]", raw)
        masters.setdefault(master_key_id(old), old)
    return Keys(
        secret_key=secret,
        master_keys=masters,
        current_master_key_id=master_key_id(current),
        blind_index_key=blind,
        audit_signing_key=signing,
    )
