"""The sharing log and the recipient registry, as pages and as API; policy listing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from lingjing.sharing.gate import disclose
from lingjing.sharing.policy import recipients_for_policy
from lingjing.sharing.tests.conftest import grant

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_allowed_disclosure_appears_in_the_log_page_and_api(alice: Any, bob: Any,
                                                                   django_assert_max_num_queries: Any) -> None:
    grant(alice, "recipient:deepseek")
    for _ in range(3):
        disclose(alice, "deepseek", ["content.script"], "content")
    disclose(alice, "aliyun-sms", ["identity.phone"], "account")
    client = _client(alice)
    with django_assert_max_num_queries(12):
        page = client.get("/privacy/sharing/")
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count("杭州深度求索人工智能基础技术研究有限公司") == 3
    assert "阿里云计算有限公司" in text
    items = client.get("/api/v1/sharing/records").json()["items"]
    assert len(items) == 4
    assert {i["recipient"]["slug"] for i in items} == {"deepseek", "aliyun-sms"}
    one = client.get(f"/api/v1/sharing/records/{items[0]['id']}")
    assert one.status_code == 200 and one.json()["id"] == items[0]["id"]
    other = _client(bob)
    assert other.get("/api/v1/sharing/records").json()["items"] == []
    missing = other.get(f"/api/v1/sharing/records/{items[0]['id']}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert "杭州深度求索" not in other.get("/privacy/sharing/").content.decode()


def test_the_log_needs_an_account() -> None:
    assert Client().get("/privacy/sharing/").status_code == 302
    assert Client().get("/api/v1/sharing/records").status_code == 401


def test_recipients_are_public_and_show_the_cross_border_details(db: Any) -> None:
    listing = Client().get("/api/v1/sharing/recipients").json()["items"]
    slugs = {r["slug"] for r in listing}
    assert {"aliyun-sms", "tencent-sms", "aliyun-directmail", "aliyun-oss", "deepseek", "openai", "public"} <= slugs
    openai = Client().get("/api/v1/sharing/recipients/openai").json()
    assert openai["cross_border"] and openai["consent_key"] == "crossborder:openai"
    assert "dsar@openai.com" in openai["rights"]
    page = Client().get("/privacy/sharing/recipients/openai/").content.decode()
    for part in ("OpenAI OpCo, LLC", "privacy@openai.com", "US", "dsar@openai.com"):
        assert part in page
    assert Client().get("/api/v1/sharing/recipients/nobody").status_code == 404


def test_consenting_on_the_recipient_page_opens_the_gate(alice: Any) -> None:
    client = _client(alice)
    assert client.post("/privacy/sharing/recipients/openai/", {"granted": "1"}).status_code == 302
    assert disclose(alice, "openai", ["content.script"], "content").record.consent_key == "crossborder:openai"
    assert "撤回同意" in client.get("/privacy/sharing/recipients/openai/").content.decode()
    client.post("/privacy/sharing/recipients/openai/", {"granted": "0"})
    from lingjing.consent.service import has_consent

    assert not has_consent(alice, "crossborder:openai")


def test_the_policy_listing_comes_from_the_registry(db: Any) -> None:
    rows = {r["slug"]: r for r in recipients_for_policy("en")}
    assert rows["deepseek"]["needs_consent"] and not rows["aliyun-sms"]["needs_consent"]
    assert rows["aliyun-sms"]["legal_basis"] == "contract"
    assert rows["openai"]["mechanism"] == "none"
    assert "Scripts and prompts" in rows["deepseek"]["category_labels"]


def test_staff_maintain_the_registry_in_the_console(db: Any) -> None:
    from lingjing.consent.models import Purpose
    from lingjing.security.audit_models import AuditEntry
    from lingjing.sharing.models import Recipient
    from lingjing.sharing.tests.conftest import make_user

    admin = make_user("root", staff=True)
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    client = _client(admin)
    form = {
        "slug": "partner-x", "legal_name": "某数据统计有限公司", "legal_name_en": "", "contact": "dpo@x.cn",
        "country": "CN", "kind": "company", "role": "controller", "affiliate": "", "purposes": ["analytics"],
        "categories": ["behaviour.usage"], "legal_basis": "contract", "processing_zh": "统计分析",
        "processing_en": "", "rights_zh": "", "rights_en": "", "contract_reference": "LJ-2025-07",
        "deidentify": "{}", "transfer_mechanism": "none", "mechanism_reference": "", "mechanism_valid_until": "",
        "active": "on",
    }
    refused = client.post("/console/sharing/recipient/add/", form)
    assert refused.status_code == 200 and "单独同意" in refused.content.decode()  # a controller needs consent
    form["legal_basis"] = "consent"
    assert client.post("/console/sharing/recipient/add/", form).status_code == 302
    recipient = Recipient.objects.get(slug="partner-x")
    assert recipient.purposes == ["analytics"] and recipient.categories == ["behaviour.usage"]
    assert AuditEntry.objects.filter(event="sharing.recipient_saved", object_id=str(recipient.pk)).exists()
    assert Purpose.objects.get(key="recipient:partner-x").kind == "recipient"


def test_pages_speak_english_when_chosen(alice: Any) -> None:
    client = _client(alice)
    client.cookies["lj_lang"] = "en"
    page = client.get("/privacy/sharing/recipients/").content.decode()
    assert "Who receives personal information from us" in page
    assert "Alibaba Cloud Computing Co., Ltd." in page and "Scripts and prompts" in page
    assert "我们向谁提供个人信息" in Client().get("/privacy/sharing/recipients/").content.decode()
