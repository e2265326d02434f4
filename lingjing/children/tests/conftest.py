"""The adult personas of the sharing tests (alice, bob) serve here too."""

from lingjing.sharing.tests.conftest import alice, bob

__all__ = ["alice", "bob"]
