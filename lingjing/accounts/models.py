"""People: the user model (members and staff alike) and API tokens."""

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


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@declare(
    subject="user",
    fields={
        "label": PD("device.session", ("security",), "contract", Retention.for_days(90)),
        "created_at": PD("device.session", ("security",), "contract", Retention.for_days(90)),
        "last_used_at": PD("device.session", ("security",), "contract", Retention.for_days(90)),
        "revoked_at": PD("device.session", ("security",), "contract", Retention.for_days(90)),
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
