"""The registry of personal data: the one place where personal data is described.

Every model in a personal-data app (``settings.LINGJING_PERSONAL_DATA_APPS``) carries a :func:`declare`
decorator that says, per field, what the datum is (a category of the taxonomy below), why it is processed
(purposes), on what legal basis (PIPL art. 13), how long it is kept, whether it is sensitive (PIPL art. 28),
whether it is sealed, and what export and erasure do with it. Fields that are not personal data are listed
as such, with a reason. The system check ``lingjing.E001``..``E012`` fails on any gap, so a new column cannot
ship undeclared.

The rights machinery (export, erasure, retention), the data map (``lingjing privacy inventory``) and the
published policy all read this registry; no feature writes its own export or deletion code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar

from django.db import models

# --- vocabularies -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    zh: str
    en: str


@dataclass(frozen=True)
class Category:
    id: str
    label: Label
    sensitive: bool = False


def _categories(*items: tuple[str, str, str, bool]) -> dict[str, Category]:
    return {cid: Category(cid, Label(zh, en), sensitive) for cid, zh, en, sensitive in items}


# The taxonomy. Add a category here before declaring a field with it.
CATEGORIES: dict[str, Category] = _categories(
    ("identity.phone", "手机号码", "Mobile phone number", False),
    ("identity.account", "账号标识与状态", "Account identifier and status", False),
    ("identity.birth_date", "出生日期", "Date of birth", False),
    ("identity.credential", "密码与安全信息", "Password and security information", True),
    ("identity.email", "电子邮箱", "Email address", False),
    ("profile.nickname", "昵称", "Nickname", False),
    ("profile.avatar", "头像", "Avatar", False),
    ("profile.preferences", "偏好设置", "Preferences", False),
    ("content.work", "发布的作品与内容", "Published works and content", False),
    ("content.script", "创作脚本与提示词", "Scripts and prompts", False),
    ("content.asset", "生成的素材与成片", "Generated assets and outputs", False),
    ("content.comment", "评论与互动", "Comments and interactions", False),
    ("behaviour.search", "搜索关键词与搜索日志", "Search keywords and search log", True),
    ("behaviour.interest", "兴趣标签", "Interest tags", False),
    ("behaviour.usage", "使用记录", "Usage records", False),
    ("support.message", "客服沟通记录", "Customer service messages", False),
    ("support.contact", "留下的联系方式", "Contact details left with customer service", False),
    ("device.ip", "IP 地址", "IP address", False),
    ("device.session", "登录会话与设备", "Sign-in sessions and devices", False),
    ("security.event", "安全事件与风控记录", "Security events and risk records", False),
    ("privacy.consent", "同意记录", "Consent records", False),
    ("privacy.request", "个人信息权利请求", "Rights requests", False),
    ("privacy.sharing", "对外提供记录", "Sharing log", False),
    ("privacy.decision", "自动化决策记录", "Automated decisions", False),
    ("child.guardian", "监护人信息", "Guardian details", True),
    ("audit.detail", "审计记录中的个人细节", "Personal details inside audit entries", False),
)

PURPOSES: dict[str, Label] = {
    "account": Label("注册与账号管理", "Registration and account management"),
    "profile": Label("展示账户信息", "Showing account information"),
    "content": Label("内容创作与发布", "Creating and publishing content"),
    "search": Label("搜索与搜索历史", "Search and search history"),
    "support": Label("客服与问题处理", "Customer service and problem resolution"),
    "notify": Label("服务公告与通知", "Service announcements and notices"),
    "security": Label("安全保障与风险控制", "Security and risk control"),
    "recommend": Label("个性化推荐", "Personalised recommendation"),
    "analytics": Label("服务改进与统计分析", "Service improvement and statistics"),
    "rights": Label("响应个人信息权利请求", "Answering rights requests"),
    "compliance": Label("履行法定义务与合规记录", "Legal duties and compliance records"),
    "child": Label("未成年人保护与监护人同意", "Protecting children and guardian consent"),
}

# PIPL art. 13 (1)-(7)
BASES: dict[str, Label] = {
    "consent": Label("取得个人同意（《个人信息保护法》第十三条第一款第一项）", "Consent (PIPL art. 13(1)(1))"),
    "contract": Label("订立、履行合同所必需（第十三条第一款第二项）", "Necessary for a contract (PIPL art. 13(1)(2))"),
    "legal_duty": Label("履行法定职责或者法定义务所必需（第十三条第一款第三项）", "Legal duty (PIPL art. 13(1)(3))"),
    "emergency": Label(
        "应对突发事件、保护生命健康和财产安全所必需（第十三条第一款第四项）", "Emergency (PIPL art. 13(1)(4))"
    ),
    "public": Label("处理已合法公开的个人信息（第十三条第一款第六项）", "Lawfully public data (PIPL art. 13(1)(6))"),
}

ExportMode = Literal["value", "file", "omit"]


class RowErase(enum.StrEnum):
    """What erasure does with a subject's rows of a model."""

    DELETE = "delete"  # the rows go
    ANONYMISE = "anonymise"  # personal fields replaced, the link to the person cut; rows stay (e.g. public works)
    KEEP = "keep"  # held under a legal duty for the retention period, then purged by retention


@dataclass(frozen=True)
class Retention:
    """How long a datum is kept. ``days`` counts from ``after`` (the row's creation, or the account's closure)."""

    after: Literal["created", "account_closed", "consent_withdrawn"]
    days: int | None = None  # None: as long as the account exists (then erased with it)

    @classmethod
    def account(cls) -> Retention:
        return cls("account_closed", 0)

    @classmethod
    def for_days(cls, days: int) -> Retention:
        return cls("created", days)

    @classmethod
    def until_withdrawn(cls) -> Retention:
        return cls("consent_withdrawn", 0)

    def describe(self, lang: str = "zh") -> str:
        if self.after == "account_closed":
            extra = self.days or 0
            if lang == "en":
                return "While the account exists" + (f", then {extra} days" if extra else "")
            return "账号存续期间" + (f"，注销后 {extra} 天" if extra else "")
        if self.after == "consent_withdrawn":
            return "Until consent is withdrawn" if lang == "en" else "至您撤回同意时"
        return f"{self.days} days from collection" if lang == "en" else f"自收集起 {self.days} 天"


@dataclass(frozen=True)
class PD:
    """Declaration of one personal field."""

    category: str
    purposes: tuple[str, ...]
    basis: str
    retention: Retention
    sensitive: bool | None = None  # None: the category's default
    export: ExportMode = "value"
    anonymised: Any = None  # the value written by ANONYMISE erasure
    note: str = ""

    @property
    def is_sensitive(self) -> bool:
        return CATEGORIES[self.category].sensitive if self.sensitive is None else self.sensitive


@dataclass(frozen=True)
class NonPersonal:
    fields: tuple[str, ...] | list[str]
    why: str = ""


@dataclass
class Declaration:
    model: type[models.Model]
    fields: dict[str, PD]
    non_personal: tuple[str, ...]
    subject: str | None  # "self", or the name of a foreign key to the user model
    subject_ref: str | None  # or the name of a CharField holding a subject string ("u:<uuid>")
    on_erase: RowErase
    keep_days: int | None
    erase_order: int  # lower first; rows that others point at go last

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def is_personal(self) -> bool:
        return bool(self.fields)

    def subject_filter(self, user_id: object) -> dict[str, Any]:
        """Queryset filter for this model's rows about one user."""
        if self.subject == "self":
            return {"pk": user_id}
        if self.subject:
            return {f"{self.subject}_id": user_id}
        if self.subject_ref:
            return {self.subject_ref: f"u:{user_id}"}
        return {"pk__in": []}


_REGISTRY: dict[str, Declaration] = {}
M = TypeVar("M", bound=type[models.Model])


def declare(
    *,
    fields: dict[str, PD] | None = None,
    non_personal: NonPersonal | Iterable[str] = (),
    subject: str | None = None,
    subject_ref: str | None = None,
    on_erase: RowErase = RowErase.DELETE,
    keep_days: int | None = None,
    erase_order: int = 50,
) -> Any:
    """Class decorator: record the model's personal-data declaration in the registry."""

    np_fields = tuple(non_personal.fields) if isinstance(non_personal, NonPersonal) else tuple(non_personal)

    def wrap(model: M) -> M:
        _REGISTRY[model._meta.label] = Declaration(
            model=model,
            fields=dict(fields or {}),
            non_personal=np_fields,
            subject=subject,
            subject_ref=subject_ref,
            on_erase=on_erase,
            keep_days=keep_days,
            erase_order=erase_order,
        )
        return model

    return wrap


def declarations() -> Iterator[Declaration]:
    """Every declaration, in erasure order (dependants first)."""
    yield from sorted(_REGISTRY.values(), key=lambda d: (d.erase_order, d.label))


def declaration_for(model: type[models.Model]) -> Declaration | None:
    return _REGISTRY.get(model._meta.label)


@dataclass
class Gap:
    model: str
    field: str | None
    problem: str
    id: str = "lingjing.E001"


# Gap ids: E001 undeclared field · E002 undeclared model · E003 declared field missing · E004 bad vocabulary or a
# sealed field not declared personal · E005 no subject path · E006 ANONYMISE writes None into a NOT NULL column ·
# E007 ANONYMISE value that cannot work (a constant in a unique column, a sealed field anonymised to text) ·
# E008 ANONYMISE cannot cut the subject link · E009 KEEP without keep_days · E010 the subject path is not a link
# to the user · E011 a sealed field owned by someone else than the row's subject · E012 no birth date on the user
# model, so children's data could not be recognised.


def find_gaps(models_to_check: Iterable[type[models.Model]] | None = None) -> list[Gap]:
    """Every way the registry falls short of the models (the system check and ``inventory --check`` share it).

    Without an argument: every model of the personal-data apps (``settings.LINGJING_PERSONAL_DATA_APPS``).
    """
    from django.apps import apps
    from django.conf import settings

    whole_project = models_to_check is None
    if models_to_check is None:
        personal_apps = set(settings.LINGJING_PERSONAL_DATA_APPS)
        models_to_check = [m for m in apps.get_models() if m._meta.app_label in personal_apps]
    gaps: list[Gap] = []
    for model in models_to_check:
        decl = _REGISTRY.get(model._meta.label)
        if decl is None or decl.model is not model:
            gaps.append(Gap(model._meta.label, None, "model has no registry declaration (@declare)", "lingjing.E002"))
            continue
        gaps += _field_gaps(model, decl)
        gaps += _subject_gaps(model, decl)
        gaps += _erasure_gaps(model, decl)
    if whole_project:
        gaps += _children_gaps()
    return gaps


def _field_gaps(model: type[models.Model], decl: Declaration) -> list[Gap]:
    from lingjing.security.crypto import SealedField

    label = model._meta.label
    names = {f.name for f in model._meta.concrete_fields}
    undeclared = sorted(names - set(decl.fields) - set(decl.non_personal))
    gaps = [Gap(label, n, "field is neither declared personal nor marked non-personal") for n in undeclared]
    missing = sorted((set(decl.fields) | set(decl.non_personal)) - names)
    gaps += [Gap(label, n, "declared field does not exist on the model", "lingjing.E003") for n in missing]
    for name, pd in decl.fields.items():
        problems = []
        if pd.category not in CATEGORIES:
            problems.append(f"unknown category {pd.category!r}")
        problems += [f"unknown purpose {p!r}" for p in pd.purposes if p not in PURPOSES]
        if not pd.purposes:
            problems.append("no purpose")
        if pd.basis not in BASES:
            problems.append(f"unknown legal basis {pd.basis!r}")
        if pd.export not in ("value", "file", "omit"):
            problems.append(f"unknown export mode {pd.export!r}")
        gaps.extend(Gap(label, name, p, "lingjing.E004") for p in problems)
    gaps += [
        Gap(label, f.name, "sealed field must be declared personal", "lingjing.E004")
        for f in model._meta.concrete_fields
        if isinstance(f, SealedField) and f.name not in decl.fields
    ]
    return gaps


def _is_user_fk(field: object) -> bool:
    from django.contrib.auth import get_user_model

    return isinstance(field, models.ForeignKey) and field.related_model is get_user_model()


def _subject_gaps(model: type[models.Model], decl: Declaration) -> list[Gap]:
    from django.contrib.auth import get_user_model

    from lingjing.security.crypto import SealedField

    label = model._meta.label
    gaps: list[Gap] = []
    if decl.fields and not (decl.subject or decl.subject_ref):
        gaps.append(Gap(label, None, "personal fields but no subject path", "lingjing.E005"))
    fields = {f.name: f for f in model._meta.concrete_fields}
    if decl.subject == "self" and model is not get_user_model():
        gaps.append(Gap(label, None, 'subject="self" is only for the user model', "lingjing.E010"))
    elif decl.subject and decl.subject != "self" and not _is_user_fk(fields.get(decl.subject)):
        gaps.append(Gap(label, decl.subject, "subject must name a foreign key to the user model", "lingjing.E010"))
    if decl.subject_ref and not isinstance(fields.get(decl.subject_ref), models.CharField):
        gaps.append(Gap(label, decl.subject_ref, "subject_ref must name a CharField holding u:<uuid>", "lingjing.E010"))
    # Shredding the subject's keys must make every sealed value of the row unreadable.
    expected_owner = decl.subject or decl.subject_ref
    gaps += [
        Gap(label, f.name, f"sealed for owner {f.owner!r}, not the row subject {expected_owner!r}", "lingjing.E011")
        for f in fields.values()
        if isinstance(f, SealedField) and expected_owner and f.owner != expected_owner
    ]
    return gaps


def _erasure_gaps(model: type[models.Model], decl: Declaration) -> list[Gap]:
    from lingjing.security.crypto import SealedField

    label = model._meta.label
    gaps: list[Gap] = []
    fields = {f.name: f for f in model._meta.concrete_fields}
    if decl.on_erase == RowErase.KEEP and decl.keep_days is None:
        gaps.append(Gap(label, None, "KEEP needs keep_days (how long the legal hold lasts)", "lingjing.E009"))
    if decl.on_erase != RowErase.ANONYMISE:
        return gaps
    if decl.subject and decl.subject != "self":
        link = fields.get(decl.subject)
        if link is not None and not link.null:
            gaps.append(
                Gap(label, decl.subject, "ANONYMISE must cut the link to the person, but the foreign key is NOT NULL",
                    "lingjing.E008")
            )
    for name, pd in decl.fields.items():
        f = fields.get(name)
        if f is None:
            continue
        if isinstance(f, SealedField):
            if pd.anonymised is not None:
                gaps.append(Gap(label, name, "a sealed field is anonymised to None, not to a value", "lingjing.E007"))
            continue
        if pd.anonymised is None and not f.null:
            gaps.append(
                Gap(label, name, "ANONYMISE would write None into a NOT NULL column; declare PD(anonymised=...)",
                    "lingjing.E006")
            )
        if pd.anonymised is not None and f.unique:
            gaps.append(
                Gap(label, name, "ANONYMISE writes one constant into a unique column; anonymise it to None",
                    "lingjing.E007")
            )
    return gaps


def _children_gaps() -> list[Gap]:
    """The children's rule needs the user's birth date in the registry (PIPL art. 28, 31)."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    decl = _REGISTRY.get(user_model._meta.label)
    if decl is None:
        return []  # reported as E002 when the user model's app is a personal-data app
    pd = decl.fields.get(BIRTH_DATE_FIELD)
    if pd is None or pd.category != "identity.birth_date":
        return [
            Gap(user_model._meta.label, BIRTH_DATE_FIELD,
                "the user model must declare birth_date (identity.birth_date) for the children's rule", "lingjing.E012")
        ]
    return []


# --- children's data (PIPL art. 28, 31) ---------------------------------------------------------------------

CHILD_AGE = 14
BIRTH_DATE_FIELD = "birth_date"


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def is_child(user: Any, *, today: date | None = None) -> bool:
    """True for a person under 14 on ``today`` (local date in Asia/Shanghai).

    The birth date is the user's sealed ``birth_date`` ("YYYY-MM-DD"). When it cannot be read (missing,
    malformed, or shredded), the person is treated as a child: the stricter handling is the safe default.
    """
    from django.utils import timezone

    raw = getattr(user, BIRTH_DATE_FIELD, None)
    try:
        birth = date.fromisoformat(raw) if raw else None
    except (TypeError, ValueError):
        birth = None
    if birth is None:
        return True
    return age_on(birth, today or timezone.localdate()) < CHILD_AGE


def is_sensitive_for(pd: PD, user: Any, *, today: date | None = None) -> bool:
    """Whether this datum of this person is sensitive: by its category, or because the person is under 14."""
    return pd.is_sensitive or is_child(user, today=today)
