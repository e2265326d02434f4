"""Verification and signed checkpoints of the audit chain (filled in by the audit work)."""

from __future__ import annotations


def write_checkpoint() -> None:
    raise NotImplementedError
