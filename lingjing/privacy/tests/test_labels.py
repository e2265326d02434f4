"""What a person reads about their data: every declared field named in Chinese (and in English), values readable
(是/否, local time, choice labels) on the my-data page and in the copy's pages, raw in the machine-readable JSON."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from typing import Any

import pytest
from django.test import Client

from lingjing.privacy.labels import displayer, field_label, model_label
from lingjing.privacy.registry import declarations
from lingjing.privacy.tests.rights import make_user

CJK = re.compile(r"[\u4e00-\u9fff]")


def _rows(html: str) -> dict[str, str]:
    """The my-data table as {"record label": "shown value"} (first occurrence of each label)."""
    rows: dict[str, str] = {}
    for label, value in re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", html):
        rows.setdefault(label.strip(), value.strip())
    return rows


def test_every_declared_field_has_a_chinese_label() -> None:
    missing: list[str] = []
    english: list[str] = []
    fields = 0
    for decl in declarations():
        if not decl.fields:
            continue
        if not CJK.search(model_label(decl.model, "zh")):
            missing.append(f"{decl.label} ({decl.model._meta.verbose_name})")
        if CJK.search(model_label(decl.model, "en")):  # a model named in Chinese needs its English name
            english.append(f"{decl.label}: {model_label(decl.model, 'en')}")
        for name in decl.fields:
            field = decl.model._meta.get_field(name)
            fields += 1
            if not CJK.search(field_label(field, "zh")):
                missing.append(f"{decl.label}.{name} ({getattr(field, 'verbose_name', name)})")
            en = field_label(field, "en")
            if CJK.search(en) or not en[:1].isupper():
                english.append(f"{decl.label}.{name}: {en}")
    assert fields > 300  # the registry was walked
    assert not missing, ("no Chinese label (add it with scripts/privacy_labels.py, see lingjing/privacy/labels.py): "
                         + ", ".join(missing))
    assert not english, english


def test_labels_follow_the_language() -> None:
    from lingjing.decisions.models import Decision

    field = Decision._meta.get_field("rule_version")
    assert field_label(field, "zh") == "规则版本" and field_label(field, "en") == "Rule version"
    assert model_label(Decision, "zh") == "自动化决策" and model_label(Decision, "en") == "Automated decision"


def test_values_read_as_yes_no_local_time_and_choice_labels() -> None:
    from lingjing.consent.models import ConsentRecord
    from lingjing.decisions.models import AutomationChoice

    granted = displayer(ConsentRecord._meta.get_field("granted"), "zh")
    assert (granted(True), granted(False)) == ("是", "否")
    assert displayer(ConsentRecord._meta.get_field("granted"), "en")(False) == "No"
    at = displayer(ConsentRecord._meta.get_field("at"), "zh")
    moment = dt.datetime(2026, 11, 29, 8, 2, tzinfo=dt.UTC).isoformat()
    assert at(moment) == "2026-11-29 16:02"  # Asia/Shanghai
    assert at(dt.datetime(2026, 11, 29, 8, 2, 5, tzinfo=dt.UTC).isoformat()) == "2026-11-29 16:02:05"
    kind = displayer(AutomationChoice._meta.get_field("kind"), "zh")
    assert kind("recommendation") == "个性化推荐" and kind("no-such-kind") == "no-such-kind"
    assert displayer(AutomationChoice._meta.get_field("kind"), "en")("recommendation") == "Recommendation"
    text = displayer(ConsentRecord._meta.get_field("ip_prefix"), "zh")
    assert text("10.1.2.0/24") == "10.1.2.0/24"


@pytest.mark.django_db
def test_the_my_data_page_shows_booleans_as_shi_fou_and_choices_by_label() -> None:
    from lingjing.community.actions import do_set_feed_preference
    from lingjing.decisions.actions import do_set_automation_choice

    alice = make_user("+8613900000001", "alice")
    do_set_automation_choice(alice, "recommendation", refuse=True, acting_user=alice)
    do_set_feed_preference(alice, personalised=False, acting_user=alice)
    client = Client()
    client.force_login(alice)

    html = client.get("/privacy/my-data").content.decode()
    rows = _rows(html)
    assert rows["自动化决策选择 · 拒绝自动化决策"] == "是"
    assert rows["推荐方式 · 接收个性化推荐"] == "否"
    assert rows["自动化决策选择 · 类型"] == "个性化推荐"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?", rows["自动化决策选择 · 更新时间"])
    assert ">True<" not in html and ">False<" not in html
    assert not [label for label in rows if not CJK.search(label.split(" · ")[-1])]  # no "rule version"

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    rows = _rows(client.get("/privacy/my-data").content.decode())
    assert rows["Automation choice · Refuse"] == "Yes"
    assert any(label.endswith(" · Personalised") and value == "No" for label, value in rows.items())


@pytest.mark.django_db
def test_the_copy_pages_read_shi_fou_while_the_json_keeps_the_raw_values(settings: Any) -> None:
    from lingjing.decisions.actions import do_set_automation_choice
    from lingjing.privacy.actions import Requester, submit_request
    from lingjing.privacy.requests.models import RightsRequest
    from lingjing.privacy.requests.package import ROOT, local_path

    alice = make_user("+8613900000001", "alice")
    do_set_automation_choice(alice, "recommendation", refuse=True, acting_user=alice)
    req = submit_request(alice, "copy", requester=Requester(verification="step_up", acting_user=alice))
    req = RightsRequest.objects.get(pk=req.pk)
    with zipfile.ZipFile(local_path(req.package_name)) as archive:
        page = archive.read(f"{ROOT}/categories/privacy.decision.html").decode()
        records = json.loads(archive.read(f"{ROOT}/data.json"))["records"]
        csv_text = archive.read(f"{ROOT}/csv/privacy.decision.csv").decode("utf-8-sig")
    assert "<td>拒绝自动化决策</td><td class=v>是</td>" in page
    assert "<td>类型</td><td class=v>个性化推荐</td>" in page
    refuse = [r for r in records if r["model"] == "decisions.AutomationChoice" and r["field"] == "refuse"]
    assert [r["value"] for r in refuse] == [True] and refuse[0]["field_label"] == "拒绝自动化决策"
    kind = [r["value"] for r in records if r["model"] == "decisions.AutomationChoice" and r["field"] == "kind"]
    assert kind == ["recommendation"]
    assert "拒绝自动化决策,true," in csv_text  # the CSV keeps the raw value for spreadsheets and scripts


@pytest.mark.django_db
def test_with_a_row_in_every_model_the_page_and_the_copy_name_everything_in_chinese(settings: Any) -> None:
    from lingjing.privacy.actions import Requester, submit_request
    from lingjing.privacy.requests.models import RightsRequest
    from lingjing.privacy.requests.package import ROOT, local_path
    from lingjing.privacy.tests.rights import populate_everything

    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 10**9
    alice = make_user("+8613900000001", "alice")
    filled = populate_everything(alice, "ALICE", other=make_user("+8613900000003", "carol"))
    assert not filled.failures, filled.failures
    client = Client()
    client.force_login(alice)
    html = client.get("/privacy/my-data").content.decode()
    rows = _rows(html)
    assert len(rows) > 100
    english = [label for label in rows if not all(CJK.search(part) for part in label.split(" · "))]
    assert not english, english
    assert not [label for label, value in rows.items() if value in ("True", "False")]
    assert {"是", "否"} & set(rows.values())  # booleans are there, in words

    req = submit_request(alice, "copy", requester=Requester(verification="step_up", acting_user=alice))
    with zipfile.ZipFile(local_path(RightsRequest.objects.get(pk=req.pk).package_name)) as archive:
        pages = "".join(archive.read(n).decode() for n in archive.namelist() if n.startswith(f"{ROOT}/categories/"))
    cells = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td class=v>(?:<a [^>]*>)?([^<]*)", pages)
    assert len(cells) > 100
    assert not [c for c in cells if not (CJK.search(c[0]) and CJK.search(c[1]))]
    assert not [c for c in cells if c[2] in ("true", "false", "True", "False")]
    assert {"是", "否"} & {c[2] for c in cells}
