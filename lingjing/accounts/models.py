"""People: the user model (members and staff alike), API tokens, web sessions, one-time codes and guardians.

Children under 14 (policy 六): the date of birth decides. Their account waits in ``pending_guardian`` until a
guardian confirms by SMS code (:class:`GuardianConsent`); every datum of such a user is handled as sensitive
personal information (PIPL art. 28, 31), whatever the field's usual category says (see ``accounts.policy``).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from lingjing.accounts.phone import mask_phone, normalise_phone
from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField, blind_index


class UserStatus(models.TextChoices):
    ACTIVE = "active", "正常"
    PENDING_GUARDIAN = "pending_guardian", "待监护人同意"
    CLOSING = "closing", "注销冷静期"
    ERASED = "erased", "已注销"


class UserManager(BaseUserManager["User"]):
    def create_user(self, phone: str, password: str | None = None, **extra: Any) -> User:
        """Low-level constructor; product code goes through the actions in ``accounts.actions``."""
        user = self.model(**extra)
        user.set_phone(phone)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("nickname", "管理员")
        return self.create_user(phone, password, is_staff=True, is_superuser=True, **extra)

    def get_by_phone(self, raw_phone: str) -> User | None:
        return self.filter(phone_index=blind_index(normalise_phone(raw_phone))).first()


_ACCOUNT = Retention.account()
# What an erased account's join date becomes (the column is NOT NULL; the real date is personal data).
ERASED_DATE = datetime(1970, 1, 1, tzinfo=UTC)


@declare(
    subject="self",
    fields={
        "phone": PD("identity.phone", ("account", "security"), "contract", _ACCOUNT),
        "phone_index": PD("identity.phone", ("account",), "contract", _ACCOUNT, export="omit",
                          note="keyed HMAC of the phone number for sign-in lookups"),
        "nickname": PD("profile.nickname", ("profile", "content"), "contract", _ACCOUNT, anonymised="已注销用户"),
        "birth_date": PD("identity.birth_date", ("child",), "legal_duty", _ACCOUNT),
        "password": PD("identity.credential", ("security",), "contract", _ACCOUNT, export="omit", anonymised="!"),
        "last_login": PD("device.session", ("security",), "contract", _ACCOUNT),
        "date_joined": PD("identity.account", ("account",), "contract", _ACCOUNT, anonymised=ERASED_DATE,
                          note="NOT NULL: an erased account keeps a fixed placeholder date"),
        "status": PD("identity.account", ("account",), "contract", _ACCOUNT, anonymised=UserStatus.ERASED),
        "nickname_key": PD("profile.nickname", ("profile",), "contract", _ACCOUNT, export="omit", anonymised=None,
                           note="case-folded nickname that keeps nicknames unique"),
        "avatar": PD("profile.avatar", ("profile", "content"), "contract", _ACCOUNT, export="file", anonymised="",
                     note="re-encoded image without metadata, in default storage"),
        "avatar_thumb": PD("profile.avatar", ("profile", "content"), "contract", _ACCOUNT, export="omit",
                           anonymised="", note="256 px variant of the avatar"),
        "totp_secret": PD("identity.credential", ("security",), "contract", _ACCOUNT, export="omit", anonymised=None),
        "totp_enabled_at": PD("identity.credential", ("security",), "contract", _ACCOUNT, anonymised=None),
        "totp_last_step": PD("identity.credential", ("security",), "contract", _ACCOUNT, export="omit",
                             anonymised=None, note="last accepted TOTP time step, against replay"),
    },
    non_personal=NonPersonal(["id", "is_staff", "is_superuser"], why="pseudonymous id and staff flags"),
    on_erase=RowErase.ANONYMISE,
    erase_order=90,
)
class User(AbstractBaseUser, PermissionsMixin):
    """A person with an account. Only the phone number is needed to register (policy 一(一))."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = SealedField(owner="self")
    phone_index = models.CharField(max_length=64, unique=True, null=True, editable=False)
    nickname = models.CharField("昵称", max_length=32, blank=True)
    birth_date = SealedField(owner="self")
    status = models.CharField(max_length=20, choices=UserStatus.choices, default=UserStatus.ACTIVE, db_index=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    nickname_key = models.CharField(max_length=64, unique=True, null=True, editable=False)
    avatar = models.CharField(max_length=200, blank=True, editable=False)
    avatar_thumb = models.CharField(max_length=200, blank=True, editable=False)
    totp_secret = SealedField(owner="self")
    totp_enabled_at = models.DateTimeField(null=True, blank=True)
    totp_last_step = models.BigIntegerField(null=True, blank=True, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "phone_index"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"

    def __str__(self) -> str:
        return self.nickname or f"用户 {str(self.pk)[:8]}"

    @property
    def subject(self) -> str:
        return f"u:{self.pk}"

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    def set_phone(self, raw_phone: str) -> None:
        e164 = normalise_phone(raw_phone)
        self.phone = e164
        self.phone_index = blind_index(e164)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def avatar_url(self) -> str | None:
        if not self.avatar_thumb:
            return None
        from django.urls import reverse

        return reverse("accounts:avatar", args=[self.avatar_thumb.rsplit("/", 1)[-1]])


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@declare(
    subject="user",
    fields={
        "label": PD("device.session", ("security",), "contract", Retention.for_days(90)),
        "created_at": PD("device.session", ("security",), "contract", Retention.for_days(90)),
        "last_used_at": PD("device.session", ("security",), "contract", Retention.for_days(90)),
        "revoked_at": PD("device.session", ("security",), "contract", Retention.for_days(90)),
        "verified_until": PD("device.session", ("security",), "contract", Retention.for_days(90),
                             note="end of the step-up verification granted to this token"),
        "ip_network": PD("device.ip", ("security",), "contract", Retention.for_days(90),
                         note="truncated address (IPv4 /24, IPv6 /48) at sign-in"),
    },
    non_personal=NonPersonal(["id", "user", "token_hash"], why="pseudonymous ids and a one-way token hash"),
    erase_order=10,
)
class ApiToken(models.Model):
    """A Bearer token of an API client. Only its SHA-256 is stored; the user sees and revokes their devices."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    label = SealedField(owner="user")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    verified_until = models.DateTimeField(null=True, blank=True)
    ip_network = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"token {str(self.pk)[:8]}"


_SESSION_DAYS = Retention.for_days(90)


@declare(
    subject="user",
    fields={
        "session_key": PD("device.session", ("security",), "contract", _SESSION_DAYS, export="omit",
                          note="sealed, so the user can sign this session out from another device"),
        "label": PD("device.session", ("security",), "contract", _SESSION_DAYS, note="browser and system"),
        "ip_network": PD("device.ip", ("security",), "contract", _SESSION_DAYS,
                         note="truncated address (IPv4 /24, IPv6 /48) at sign-in"),
        "created_at": PD("device.session", ("security",), "contract", _SESSION_DAYS),
        "revoked_at": PD("device.session", ("security",), "contract", _SESSION_DAYS),
    },
    non_personal=NonPersonal(["id", "user", "key_hash"], why="pseudonymous ids and a one-way hash of the key"),
    erase_order=10,
)
class UserSession(models.Model):
    """A signed-in browser session, listed on the security page so the user can sign it out."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="web_sessions")
    key_hash = models.CharField(max_length=64, unique=True)
    session_key = SealedField(owner="user")
    label = SealedField(owner="user")
    ip_network = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"session {str(self.pk)[:8]}"


class CodePurpose(models.TextChoices):
    REGISTER = "register", "注册"
    LOGIN = "login", "登录"
    VERIFY = "verify", "身份验证"
    GUARDIAN = "guardian", "监护人确认"


@declare(
    subject="user",
    fields={
        "phone_index": PD("identity.phone", ("account", "security"), "contract", Retention.for_days(1),
                          export="omit", note="keyed HMAC of the number the code went to"),
        "created_at": PD("security.event", ("security",), "contract", Retention.for_days(1)),
    },
    non_personal=NonPersonal(
        ["id", "user", "purpose", "code_hmac", "expires_at", "attempts", "consumed_at"],
        why="the code exists only as an HMAC; counters and times of a one-day record",
    ),
    erase_order=10,
)
class SmsCode(models.Model):
    """A one-time code sent by SMS. Only an HMAC of the code is kept; the row dies after one use or 5 misses."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone_index = models.CharField(max_length=64)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, choices=CodePurpose.choices)
    code_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["phone_index", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"code {str(self.pk)[:8]} ({self.purpose})"


class GuardianStatus(models.TextChoices):
    PENDING = "pending", "待确认"
    CONFIRMED = "confirmed", "已同意"
    DECLINED = "declined", "已拒绝"
    WITHDRAWN = "withdrawn", "已撤回"
    EXPIRED = "expired", "已过期"


_CHILD = Retention.account()


@declare(
    subject="child",
    fields={
        "guardian_phone": PD("child.guardian", ("child",), "legal_duty", _CHILD),
        "guardian_phone_index": PD("child.guardian", ("child",), "legal_duty", _CHILD, export="omit",
                                   note="keyed HMAC of the guardian's number, to find their children's requests"),
        "status": PD("child.guardian", ("child",), "legal_duty", _CHILD),
        "method": PD("child.guardian", ("child",), "legal_duty", _CHILD),
        "requested_at": PD("child.guardian", ("child",), "legal_duty", _CHILD),
        "expires_at": PD("child.guardian", ("child",), "legal_duty", _CHILD),
        "decided_at": PD("child.guardian", ("child",), "legal_duty", _CHILD),
    },
    non_personal=NonPersonal(["id", "child"], why="pseudonymous ids"),
    erase_order=10,
)
class GuardianConsent(models.Model):
    """A guardian's consent for a child under 14: requested at sign-up, decided by SMS code on the guardian page."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    child = models.ForeignKey(User, on_delete=models.CASCADE, related_name="guardian_consents")
    guardian_phone = SealedField(owner="child")
    guardian_phone_index = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=GuardianStatus.choices, default=GuardianStatus.PENDING)
    method = models.CharField(max_length=16, default="sms_code")
    requested_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"guardian consent {str(self.pk)[:8]} ({self.status})"
