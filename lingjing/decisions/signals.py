"""``decision_reviewed``: sent after a review commits, so the feature that made the decision can undo its effect.

Receivers get ``decision_id``, ``kind``, ``object_ref`` and ``upheld`` (False: overturned — restore what the
decision took away, e.g. unhide a work). Connect with a ``dispatch_uid``; keep receivers idempotent.
"""

from __future__ import annotations

from django.dispatch import Signal

decision_reviewed = Signal()
