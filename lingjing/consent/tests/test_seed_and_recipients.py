"""Purposes come back after a flush (post_migrate seeding), and the policy page lists the registered recipients."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from lingjing.consent.models import Purpose, PurposeNotice
from lingjing.consent.seed import seed_purposes, seed_specs
from lingjing.consent.service import has_consent


@pytest.mark.django_db
def test_seeding_is_idempotent_and_restores_only_what_is_missing() -> None:
    keys = {item["key"] for item in seed_specs()}
    assert keys <= set(Purpose.objects.values_list("key", flat=True))
    assert seed_purposes() == 0
    Purpose.objects.filter(key="search_history").delete()
    analytics = Purpose.objects.get(key="analytics")
    analytics.position = 99  # staff edited this one: left alone
    analytics.save()
    assert seed_purposes() == 1
    assert PurposeNotice.objects.filter(purpose__key="search_history", version=1).exists()
    assert Purpose.objects.get(key="analytics").position == 99


@pytest.mark.django_db
def test_has_consent_is_false_for_a_purpose_that_does_not_exist(django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("+8613800009999", nickname="nobody")
    Purpose.objects.filter(key="search_history").delete()
    assert has_consent(user, "search_history") is False
    assert has_consent(None, "no_such_purpose") is False


@pytest.mark.django_db(transaction=True)
def test_a_flush_is_followed_by_the_purposes_again() -> None:
    call_command("flush", interactive=False, verbosity=0)
    assert {item["key"] for item in seed_specs()} <= set(Purpose.objects.values_list("key", flat=True))
    assert Client().get("/privacy/policy").status_code == 200


@pytest.mark.django_db
def test_a_newly_registered_recipient_appears_on_the_policy_page() -> None:
    from lingjing.sharing.actions import do_save_recipient
    from lingjing.sharing.models import Recipient, RecipientRole

    do_save_recipient(Recipient(
        slug="example-cdn", legal_name="示例网络科技有限公司", legal_name_en="Example Network Tech Co., Ltd.",
        contact="privacy@cdn.example.cn；上海市", country="CN", role=RecipientRole.PROCESSOR, legal_basis="contract",
        purposes=["content"], categories=["content.work"],
    ), acting_user=None)
    page = Client().get("/privacy/policy").content.decode()
    row = page[page.index('id="recipient-example-cdn"'):]
    row = row[:row.index("</tr>")]
    for text in ("示例网络科技有限公司", "CN", "受托处理者", "privacy@cdn.example.cn"):
        assert text in row, text
    assert 'id="recipient-aliyun-sms"' in page  # the seeded processors too
    english = Client(headers={"Accept-Language": "en"}).get("/privacy/policy?lang=en").content.decode()
    assert "Example Network Tech Co., Ltd." in english or "示例网络科技有限公司" in english
