"""The registry of personal data: the one place where personal data is described.

Every model in a personal-data app (``settings.LINGJING_PERSONAL_DATA_APPS``) carries a :func:`declare`
decorator that says, per field, what the datum is (a category of the taxonomy below), why it is processed
(purposes), on what legal basis (PIPL art. 13), how long it is kept, whether it is sensitive (PIPL art. 28),
whether it is sealed, and what export and erasure do with it. Fields that are not personal data are listed
as such, with a reason. The system check ``lingjing.E001``..``E005`` fails on any gap, so a new column cannot
ship undeclared.

The rights machinery (export, erasure, retention), the data map (``lingjing privacy inventory``) and the
published policy all read this registry; no feature writes its own export or deletion code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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


def find_gaps() -> list[Gap]:
    """Every way the registry falls short of the models (the system check and ``inventory --check`` share it)."""
    from django.apps import apps
    from django.conf import settings

    from lingjing.security.crypto import SealedField

    gaps: list[Gap] = []
    personal_apps = set(settings.LINGJING_PERSONAL_DATA_APPS)
    for model in apps.get_models():
        if model._meta.app_label not in personal_apps:
            continue
        decl = _REGISTRY.get(model._meta.label)
        if decl is None:
            gaps.append(Gap(model._meta.label, None, "model has no registry declaration (@declare)", "lingjing.E002"))
            continue
        names = {f.name for f in model._meta.concrete_fields}
        label = model._meta.label
        undeclared = sorted(names - set(decl.fields) - set(decl.non_personal))
        gaps += [Gap(label, n, "field is neither declared personal nor marked non-personal") for n in undeclared]
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
            gaps.extend(Gap(model._meta.label, name, p, "lingjing.E004") for p in problems)
        if decl.fields and not (decl.subject or decl.subject_ref):
            gaps.append(Gap(model._meta.label, None, "personal fields but no subject path", "lingjing.E005"))
        gaps += [
            Gap(label, f.name, "sealed field must be declared personal", "lingjing.E004")
            for f in model._meta.concrete_fields
            if isinstance(f, SealedField) and f.name not in decl.fields
        ]
    return gaps
