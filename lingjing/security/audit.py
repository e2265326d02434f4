"""The audit log (the spine's fourth vertebra).

One append-only table, written in the same transaction as the change it records. Entries carry pseudonymous
ids (``u:<uuid>``); personal details go into ``sealed``, encrypted under the subject's key, so erasing a person
leaves the chain verifiable while their details become unreadable. The chain hashes each entry with the
previous hash (SHA-256 over a canonical JSON form); the details enter the hash through a keyed MAC of their
plaintext, which lets key rotation re-encrypt them without breaking the chain. Signed checkpoints (Ed25519)
are written outside the database, so truncating or rewriting the tail is caught too (see ``audit_chain``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

GENESIS = "0" * 64


@enum.unique
class AuditEvent(enum.StrEnum):
    # accounts
    USER_CREATED = "account.user_created"
    USER_UPDATED = "account.user_updated"
    USER_ROLE_CHANGED = "account.role_changed"
    API_TOKEN_CREATED = "account.token_created"  # noqa: S105
    API_TOKEN_REVOKED = "account.token_revoked"  # noqa: S105
    SMS_CODE_SENT = "account.sms_code_sent"
    LOGIN_SUCCEEDED = "account.login_succeeded"
    LOGIN_FAILED = "account.login_failed"
    LOGGED_OUT = "account.logged_out"
    SESSION_REVOKED = "account.session_revoked"
    PASSWORD_CHANGED = "account.password_changed"  # noqa: S105
    PHONE_CHANGED = "account.phone_changed"
    PROFILE_UPDATED = "account.profile_updated"
    AVATAR_SET = "account.avatar_set"
    STEP_UP_VERIFIED = "account.step_up_verified"
    STEP_UP_FAILED = "account.step_up_failed"
    TOTP_ENROLMENT_STARTED = "account.totp_enrolment_started"
    TOTP_ENABLED = "account.totp_enabled"
    TOTP_DISABLED = "account.totp_disabled"
    GUARDIAN_REQUESTED = "account.guardian_requested"
    GUARDIAN_CONFIRMED = "account.guardian_confirmed"
    GUARDIAN_DECLINED = "account.guardian_declined"
    GUARDIAN_WITHDRAWN = "account.guardian_withdrawn"
    PENDING_CHILD_DELETED = "account.pending_child_deleted"
    # security
    KEYS_ROTATED = "security.keys_rotated"
    SUBJECT_SHREDDED = "security.subject_shredded"
    AUDIT_CHECKPOINT = "security.audit_checkpoint"
    # privacy
    PERSON_EXPORTED = "privacy.person_exported"
    ERASURE_STARTED = "privacy.erasure_started"
    ERASURE_STEP = "privacy.erasure_step"
    ERASURE_FINISHED = "privacy.erasure_finished"
    # privacy: rights requests
    RIGHTS_REQUEST_RECEIVED = "privacy.request_received"
    RIGHTS_REQUEST_ACKNOWLEDGED = "privacy.request_acknowledged"
    RIGHTS_REQUEST_STATUS_CHANGED = "privacy.request_status_changed"
    RIGHTS_REQUEST_ASSIGNED = "privacy.request_assigned"
    RIGHTS_REQUEST_NOTE_ADDED = "privacy.request_note_added"
    RIGHTS_REQUEST_REFUSED = "privacy.request_refused"
    RIGHTS_REQUEST_WITHDRAWN = "privacy.request_withdrawn"
    RIGHTS_REQUEST_OVERDUE = "privacy.request_overdue"
    RIGHTS_REQUEST_VIEWED = "privacy.request_viewed"
    RIGHTS_FEE_RECORDED = "privacy.request_fee_recorded"
    RIGHTS_DATA_CORRECTED = "privacy.data_corrected"
    RIGHTS_DATA_DELETED = "privacy.data_deleted"
    RIGHTS_COPY_BUILT = "privacy.copy_built"
    RIGHTS_COPY_DOWNLOADED = "privacy.copy_downloaded"
    RIGHTS_COPY_EXPIRED = "privacy.copy_expired"
    RIGHTS_TRANSFER_DELIVERED = "privacy.transfer_delivered"
    RIGHTS_TRANSFER_FAILED = "privacy.transfer_failed"
    RIGHTS_RESTRICTION_SET = "privacy.restriction_set"
    RIGHTS_RESTRICTION_LIFTED = "privacy.restriction_lifted"
    RIGHTS_CANCELLATION_STARTED = "privacy.cancellation_started"
    RIGHTS_CANCELLATION_UNDONE = "privacy.cancellation_undone"
    RIGHTS_SESSIONS_REVOKED = "privacy.sessions_revoked"
    RIGHTS_SAGA_STEP = "privacy.saga_step"
    RIGHTS_SAGA_FINISHED = "privacy.saga_finished"
    RIGHTS_PROPAGATION_SENT = "privacy.propagation_sent"
    RIGHTS_PROPAGATION_FAILED = "privacy.propagation_failed"
    RIGHTS_PROXY_SUBMITTED = "privacy.proxy_submitted"
    RIGHTS_PROXY_DECIDED = "privacy.proxy_decided"
    RIGHTS_ENDPOINT_SAVED = "privacy.endpoint_saved"
    # staff
    DEMO_SEEDED = "staff.demo_seeded"
    # consent and policy
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    CONSENT_PURPOSE_ADDED = "consent.purpose_added"
    CONSENT_NOTICE_CHANGED = "consent.notice_changed"
    POLICY_PUBLISHED = "policy.published"
    POLICY_ACCEPTED = "policy.accepted"
    POLICY_NOTIFIED = "policy.notified"
    EMAIL_TRACKING_RECORDED = "consent.email_tracking_recorded"
    # works
    WORK_CREATED = "work.created"
    WORK_UPDATED = "work.updated"
    WORK_DELETED = "work.deleted"
    WORK_PUBLISHED = "work.published"
    WORK_UNPUBLISHED = "work.unpublished"
    WORK_REMOVED = "work.removed"
    WORK_RESTORED = "work.restored"
    # community
    COMMENT_POSTED = "community.comment_posted"
    COMMENT_DELETED = "community.comment_deleted"
    COMMENT_HIDDEN = "community.comment_hidden"
    COMMENT_RESTORED = "community.comment_restored"
    WORK_LIKED = "community.work_liked"
    WORK_UNLIKED = "community.work_unliked"
    USER_FOLLOWED = "community.user_followed"
    USER_UNFOLLOWED = "community.user_unfollowed"
    CONTENT_REPORTED = "community.content_reported"
    MODERATION_CASE_OPENED = "community.moderation_case_opened"
    MODERATION_DECIDED = "community.moderation_decided"
    MODERATION_TERM_SAVED = "community.moderation_term_saved"
    INTERESTS_DELETED = "community.interests_deleted"
    FEED_PREFERENCE_CHANGED = "community.feed_preference_changed"
    # search
    SEARCH_HISTORY_RECORDED = "search.history_recorded"
    SEARCH_HISTORY_DELETED = "search.history_deleted"
    SEARCH_LOG_WINDOW_OPENED = "search.log_window_opened"
    SEARCH_INDEX_REBUILT = "search.index_rebuilt"
    # studio
    STUDIO_STORY_IMPORTED = "studio.story_imported"
    STUDIO_STORYBOARD_SAVED = "studio.storyboard_saved"
    STUDIO_SHOT_EDITED = "studio.shot_edited"
    STUDIO_SHOTS_REORDERED = "studio.shots_reordered"
    STUDIO_SHOT_SPLIT = "studio.shot_split"
    STUDIO_SHOTS_MERGED = "studio.shots_merged"
    STUDIO_SHOT_DELETED = "studio.shot_deleted"
    STUDIO_CHARACTER_SAVED = "studio.character_saved"
    STUDIO_ASSET_SAVED = "studio.asset_saved"
    STUDIO_SETTINGS_CHANGED = "studio.settings_changed"
    STUDIO_OUTPUTS_ADDED = "studio.outputs_added"
    STUDIO_OUTPUT_CHOSEN = "studio.output_chosen"
    STUDIO_JOB_STARTED = "studio.job_started"
    STUDIO_JOB_CANCELLED = "studio.job_cancelled"
    STUDIO_JOB_RETRIED = "studio.job_retried"
    STUDIO_PROVIDER_DISCLOSURE = "studio.provider_disclosure"
    # sharing, transfers and cross-border
    SHARING_RECIPIENT_SAVED = "sharing.recipient_saved"
    SHARING_PURPOSE_CHANGED = "sharing.consent_purpose_changed"
    SHARING_DISCLOSED = "sharing.disclosed"
    SHARING_REFUSED = "sharing.refused"
    SHARING_DELIVERY_FAILED = "sharing.delivery_failed"
    SHARING_LEGAL_REQUEST_REGISTERED = "sharing.legal_request_registered"
    SHARING_LEGAL_REQUEST_DECIDED = "sharing.legal_request_decided"
    SHARING_SUCCESSOR_REPORT = "sharing.successor_report"
    SHARING_SUCCESSOR_ACCEPTED = "sharing.successor_accepted"
    # automated decisions
    DECISION_RECORDED = "decision.recorded"
    DECISION_REVIEW_REQUESTED = "decision.review_requested"
    DECISION_REVIEW_RESOLVED = "decision.review_resolved"
    DECISION_AUTOMATION_CHOICE = "decision.automation_choice"
    # children
    CHILD_ACCESS_REQUESTED = "child.access_requested"
    CHILD_ACCESS_DECIDED = "child.access_decided"
    CHILD_RECORD_OPENED = "child.record_opened"
    CHILD_GUARDIAN_VIEWED = "child.guardian_viewed"
    CHILD_GUARDIAN_CORRECTED = "child.guardian_corrected"
    CHILD_UNCONSENTED_FOUND = "child.unconsented_found"
    CHILD_REPORT_GENERATED = "child.report_generated"
    # customer service
    SUPPORT_TICKET_OPENED = "support.ticket_opened"
    SUPPORT_TICKET_ACCEPTED = "support.ticket_accepted"
    SUPPORT_MESSAGE_POSTED = "support.message_posted"
    SUPPORT_NOTE_ADDED = "support.note_added"
    SUPPORT_ATTACHMENT_ADDED = "support.attachment_added"
    SUPPORT_TICKET_ASSIGNED = "support.ticket_assigned"
    SUPPORT_TICKET_VIEWED = "support.ticket_viewed"
    SUPPORT_TICKET_RESOLVED = "support.ticket_resolved"
    SUPPORT_TICKET_REOPENED = "support.ticket_reopened"
    SUPPORT_TICKET_OVERDUE = "support.ticket_overdue"
    SUPPORT_TICKET_CONVERTED = "support.ticket_converted"
    SUPPORT_CANNED_REPLY_SAVED = "support.canned_reply_saved"
    SUPPORT_UNCONFIRMED_PURGED = "support.unconfirmed_purged"
    # notifications and announcements
    NOTIFY_CREATED = "notify.created"
    NOTIFY_DELIVERED = "notify.delivered"
    NOTIFY_RETRY_SCHEDULED = "notify.retry_scheduled"
    NOTIFY_DELIVERY_FAILED = "notify.delivery_failed"
    NOTIFY_READ = "notify.read"
    NOTIFY_PREFERENCES_CHANGED = "notify.preferences_changed"
    NOTIFY_EMAIL_SET = "notify.email_set"
    NOTIFY_EMAIL_CONFIRMED = "notify.email_confirmed"
    NOTIFY_EMAIL_CODE_SENT = "notify.email_code_sent"
    NOTIFY_ANNOUNCEMENT_SAVED = "notify.announcement_saved"
    NOTIFY_ANNOUNCEMENT_DELIVERED = "notify.announcement_delivered"
    # risk control (security log entries that are not part of another audited change)
    RISK_SIGN_IN_ASSESSED = "risk.sign_in_assessed"
    RISK_EVENT_LOGGED = "risk.event_logged"
    # incidents
    INCIDENT_RECORDED = "incident.recorded"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_AFFECTED_COMPUTED = "incident.affected_computed"
    INCIDENT_REPORT_DRAFTED = "incident.report_drafted"
    INCIDENT_REPORT_SUBMITTED = "incident.report_submitted"
    INCIDENT_NOTICE_SENT = "incident.notice_sent"
    INCIDENT_DELIVERY_TRACKED = "incident.delivery_tracked"
    INCIDENT_ANNOUNCEMENT_PUBLISHED = "incident.announcement_published"
    INCIDENT_CLOSED = "incident.closed"
    INCIDENT_DRILL_SUBJECT_ADDED = "incident.drill_subject_added"
    # staff access to personal data
    STAFF_ACCESS_GRANTED = "staff.access_granted"
    STAFF_PERSONAL_READ = "staff.personal_read"
    STAFF_TRAINING_ACKNOWLEDGED = "staff.training_acknowledged"
    STAFF_CONSOLE_VERIFIED = "staff.console_verified"
    STAFF_SESSION_EXPIRED = "staff.session_expired"
    # retention and backups
    RETENTION_PURGED = "retention.purged"
    RETENTION_RUN_FINISHED = "retention.run_finished"
    BACKUP_CREATED = "backup.created"
    BACKUP_RESTORED = "backup.restored"
    BACKUP_DELETION_REPLAYED = "backup.deletion_replayed"


def actor_ref(user: Any) -> str:
    """Pseudonymous reference of whoever acted: ``u:<uuid>``, or ``system``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "system"
    return f"u:{user.pk}"


def _canonical(entry: Any) -> bytes:
    body = {
        "seq": entry.seq,
        "id": str(entry.id),
        "at": entry.at.isoformat(timespec="microseconds"),
        "event": entry.event,
        "actor": entry.actor,
        "subject": entry.subject,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": entry.details,
        "detail_mac": entry.detail_mac,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Any, prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(entry)).hexdigest()


def detail_mac(plaintext: str) -> str:
    return hmac.new(settings.LINGJING_BLIND_INDEX_KEY, b"audit\x00" + plaintext.encode(), hashlib.sha256).hexdigest()


def record(
    event: AuditEvent,
    *,
    acting_user: Any = None,
    actor: str | None = None,
    subject: str = "",
    obj: models.Model | None = None,
    details: dict[str, Any] | None = None,
    personal: dict[str, Any] | None = None,
) -> Any:
    """Append one entry. Must run inside the transaction of the change it records.

    ``details`` must hold no personal data (ids, counts, field names); ``personal`` is sealed for ``subject``.
    """
    from lingjing.security.audit_models import AuditEntry, AuditHead

    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must be called inside the transaction of the change it records")
    if personal and not subject:
        raise ValueError("personal audit details need a subject to be sealed for")
    head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})
    entry = AuditEntry(
        seq=head.seq + 1,
        at=timezone.now(),
        event=str(event),
        actor=actor or actor_ref(acting_user),
        subject=subject,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        details=details or {},
        prev_hash=head.hash,
    )
    if personal:
        plain = json.dumps(personal, sort_keys=True, ensure_ascii=False, default=str)
        entry.sealed = plain
        entry.detail_mac = detail_mac(plain)
    entry.hash = entry_hash(entry, head.hash)
    entry.save(force_insert=True)
    AuditHead.objects.filter(pk=1).update(seq=entry.seq, hash=entry.hash)
    every = settings.LINGJING_AUDIT_CHECKPOINT_EVERY
    if entry.seq % every == 0:
        # robust: a checkpoint that cannot be written (full disk, broken chain) is logged, not raised into the
        # request whose change already committed; `lingjing audit verify` and the next checkpoint catch up.
        transaction.on_commit(_checkpoint_soon, robust=True)
    return entry


def _checkpoint_soon() -> None:
    from lingjing.security.audit_chain import write_checkpoint

    write_checkpoint()
