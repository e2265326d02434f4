"""``consent_changed``: sent after the transaction that granted or withdrew a consent has committed.

Features that must act on a withdrawal (search deletes the saved history when ``search_history`` is withdrawn,
recommendation drops interest tags) connect a receiver; the receiver runs outside the consent transaction and
should enqueue its own work (a task that calls its own action). Keyword arguments: ``user_id``, ``purpose`` (key),
``granted`` (bool), ``method``, ``receipt_id``.
"""

from __future__ import annotations

from django.dispatch import Signal

consent_changed = Signal()
