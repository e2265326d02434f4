"""Forms of the rights-request pages. One request form whose fields depend on the type; the actions check the
parameters again (``actions.clean_params``), so the API and the pages follow the same rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lingjing.privacy.registry import CATEGORIES, PURPOSES
from lingjing.privacy.requests.models import (
    RELATIVE_TYPES,
    DeletionGround,
    RefusalGround,
    Relationship,
    RequestType,
    WorksChoice,
)
from lingjing.privacy.requests.restriction import EVERYTHING, restrictable_purposes
from lingjing.privacy.requests.scoped import DELETABLE

CODE_FIELD = forms.CharField(label=_("短信验证码"), max_length=6, min_length=6, required=False,
                             widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


class RequestForm(forms.Form):
    details = forms.CharField(label=_("说明（可选）"), required=False, max_length=4000,
                              widget=forms.Textarea(attrs={"rows": 4}))
    deletion_ground = forms.ChoiceField(label=_("删除的理由"), required=False, choices=DeletionGround.choices,
                                        widget=forms.RadioSelect)
    categories = forms.MultipleChoiceField(
        label=_("要删除的个人信息"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(c, CATEGORIES[c].label.zh) for c in DELETABLE])
    restrict = forms.MultipleChoiceField(
        label=_("限制处理的用途"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(EVERYTHING, _("全部（仅保留存储和必要的安全措施）"))]
        + [(p, PURPOSES[p].zh) for p in restrictable_purposes()])
    consents = forms.MultipleChoiceField(label=_("撤回同意的用途"), required=False, widget=forms.CheckboxSelectMultiple)
    works = forms.ChoiceField(label=_("已发布的作品"), required=False, choices=WorksChoice.choices,
                              initial=WorksChoice.ANONYMISE, widget=forms.RadioSelect)
    decision = forms.ChoiceField(label=_("要解释的决定"), required=False)
    recipient = forms.ChoiceField(label=_("登记在册的接收方"), required=False)
    endpoint = forms.CharField(label=_("或：接收方提供的 HTTPS 接收地址"), required=False, max_length=300)
    domestic = forms.BooleanField(label=_("接收方位于中国境内"), required=False)
    consent = forms.BooleanField(label=_("我同意将我的个人信息副本直接提供给上述接收方"), required=False)
    correction_item = forms.ChoiceField(label=_("要更正的数据项"), required=False)
    correction_value = forms.CharField(label=_("更正为"), required=False, max_length=2000)
    code = CODE_FIELD

    def __init__(self, *args: Any, type_: str, user: Any = None, fresh_needed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type = type_
        self.fresh_needed = fresh_needed
        keep: list[str] = {
            RequestType.DELETION: ["deletion_ground", "categories", "details"],
            RequestType.RESTRICTION: ["restrict", "details"],
            RequestType.WITHDRAW_CONSENT: ["consents", "details"],
            RequestType.CANCEL_ACCOUNT: ["works", "details"],
            RequestType.EXPLANATION: ["decision", "details"],
            RequestType.TRANSFER: ["recipient", "endpoint", "domestic", "consent", "details"],
            RequestType.CORRECTION: ["correction_item", "correction_value", "details"],
        }.get(RequestType(type_), ["details"]).copy()
        if fresh_needed:
            keep.append("code")
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if user is not None and "consents" in self.fields:
            from lingjing.consent.models import ConsentState

            granted = ConsentState.objects.filter(user=user, granted=True, purpose__active=True).select_related(
                "purpose")
            notices = {s.purpose.key: s.purpose.current_notice() for s in granted}
            self._choices("consents", [(key, notice.title("zh") if notice else key) for key, notice in notices.items()])
        if user is not None and "decision" in self.fields:
            from lingjing.decisions.access import my_decisions

            self._choices("decision", [("", _("全部决定以及个人信息处理规则"))] + [
                (str(d.pk), f"{d.get_kind_display()} · {d.outcome} · {d.made_at:%Y-%m-%d}")
                for d in my_decisions(user)[:100]])
        if "recipient" in self.fields:
            from lingjing.privacy.requests.models import PortabilityEndpoint

            self._choices("recipient", [("", "—")] + [
                (e.recipient_slug, e.recipient_slug) for e in PortabilityEndpoint.objects.filter(active=True)])
        if user is not None and "correction_item" in self.fields:
            from lingjing.privacy.requests.scoped import correctable_fields

            self.correctable = correctable_fields(user)
            self._choices("correction_item", [("", _("（在说明中描述）"))] + [
                (f"{c.model}|{c.field}|{c.object_id}", f"{c.category_label} · {c.label}：{str(c.current)[:40]}")
                for c in self.correctable])

    def _choices(self, name: str, choices: list[tuple[str, Any]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.fresh_needed and not data.get("code"):
            self.add_error("code", _("请输入发送到您手机的 6 位验证码"))
        return data

    def params(self) -> dict[str, Any]:
        d = self.cleaned_data
        if self.type == RequestType.DELETION:
            return {"categories": d.get("categories") or []}
        if self.type == RequestType.RESTRICTION:
            return {"purposes": d.get("restrict") or []}
        if self.type == RequestType.WITHDRAW_CONSENT:
            return {"purposes": d.get("consents") or []}
        if self.type == RequestType.CANCEL_ACCOUNT:
            return {"works": d.get("works") or WorksChoice.ANONYMISE}
        if self.type == RequestType.EXPLANATION:
            return {"decision_id": d.get("decision") or ""}
        if self.type == RequestType.TRANSFER:
            endpoint = (d.get("endpoint") or "").strip()
            return {"mode": "endpoint" if endpoint else "registered", "recipient": d.get("recipient") or "",
                    "endpoint": endpoint, "domestic": d.get("domestic"), "consent": d.get("consent")}
        if self.type == RequestType.CORRECTION:
            return {"items": self.correction_items()}
        return {}

    def correction_items(self) -> list[dict[str, str]]:
        item = self.cleaned_data.get("correction_item") or ""
        value = self.cleaned_data.get("correction_value") or ""
        if not item or not value:
            return []
        model, field, object_id = item.split("|", 2)
        return [{"model": model, "field": field, "object_id": object_id, "value": value}]


class PhoneForm(forms.Form):
    phone = forms.CharField(label=_("手机号"), max_length=20)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("短信验证码"), max_length=6, min_length=6)


class RelativeForm(forms.Form):
    name = forms.CharField(label=_("您的姓名"), max_length=100)
    relationship = forms.ChoiceField(label=_("与已故用户的关系"),
                                     choices=[c for c in Relationship.choices if c[0] != Relationship.GUARDIAN])
    deceased_phone = forms.CharField(label=_("已故用户注册灵境时使用的手机号"), max_length=20)
    wanted = forms.MultipleChoiceField(label=_("要行使的权利"), widget=forms.CheckboxSelectMultiple,
                                       choices=[(t.value, t.label) for t in RELATIVE_TYPES])
    details = forms.CharField(label=_("说明（您的合法、正当利益）"), required=False, max_length=4000,
                              widget=forms.Textarea(attrs={"rows": 4}))


class GuardianRequestTypeForm(forms.Form):
    type = forms.ChoiceField(label=_("请求类型"), choices=RequestType.choices)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("备注（仅工作人员可见）"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class RefuseForm(forms.Form):
    ground = forms.ChoiceField(label=_("拒绝依据（隐私政策第五部分第（八）项）"), choices=RefusalGround.choices,
                               widget=forms.RadioSelect)
    reason = forms.CharField(label=_("书面理由（请求人会收到）"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 4}))


class AskForm(forms.Form):
    note = forms.CharField(label=_("需要请求人补充什么（请求人会看到）"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))


class ProxyDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("核验结论"), choices=[("verify", _("核验通过")), ("reject", _("核验未通过"))],
                                 widget=forms.RadioSelect)
    account_phone = forms.CharField(label=_("已故用户的账号手机号（核验通过时）"), max_length=20, required=False)
    no_contrary_arrangement = forms.BooleanField(label=_("已确认已故用户生前没有另作安排"), required=False)
    reason = forms.CharField(label=_("核验说明（申请人会收到未通过的理由）"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))


class EndpointForm(forms.Form):
    recipient = forms.CharField(label=_("接收方标识（对外提供登记表）"), max_length=60)
    url = forms.CharField(label=_("HTTPS 接收地址"), max_length=300)
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)
