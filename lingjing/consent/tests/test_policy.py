"""The policy as code: rendering from the registry, versions, 7-day notice, material changes (C8.1, L11)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from lingjing.consent.actions import ConsentError, do_publish_policy_version
from lingjing.consent.models import PolicyNotice, PolicyVersion
from lingjing.consent.policy import current_policy_version, policy_drift, render_policy, upcoming_policy_version
from lingjing.core.outbox import read_jsonl
from lingjing.privacy import registry
from lingjing.privacy.registry import CATEGORIES, PURPOSES, Retention, declarations

pytestmark = pytest.mark.django_db

SECTIONS_ZH = ["一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、", "九、"]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_rendered_policy_covers_every_section_and_every_declared_category_and_purpose() -> None:
    zh, en = render_policy("zh"), render_policy("en")
    for heading in SECTIONS_ZH:
        assert f"<h2 id=\"s{SECTIONS_ZH.index(heading) + 1}\">{heading}" in zh
    for number in range(1, 10):
        assert f'<h2 id="s{number}">{number}. ' in en
    used_categories = {pd.category for d in declarations() for pd in d.fields.values()}
    used_purposes = {p for d in declarations() for pd in d.fields.values() for p in pd.purposes}
    assert used_categories and used_purposes
    for cid in used_categories:
        assert f'id="cat-{cid}"' in zh and CATEGORIES[cid].label.zh in zh and CATEGORIES[cid].label.en in en
    for pid in used_purposes:
        assert PURPOSES[pid].zh in zh and PURPOSES[pid].en in en
    for text in ("search_history", "analytics", "email_tracking", "public_disclosure"):
        assert f'id="purpose-{text}"' in zh
    from django.conf import settings

    assert settings.LINGJING_CONTROLLER["name"] in zh and settings.LINGJING_CONTROLLER["email"] in zh
    assert settings.LINGJING_CONTROLLER["name_en"] in en


def test_changing_a_registry_retention_changes_the_rendered_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    before_zh, before_en = render_policy("zh"), render_policy("en")
    decl = next(d for d in declarations() if d.fields)
    name, pd = next(iter(decl.fields.items()))
    changed = dict(decl.fields)
    changed[name] = dataclasses.replace(pd, retention=Retention.for_days(4242))
    monkeypatch.setitem(registry._REGISTRY, decl.label, dataclasses.replace(decl, fields=changed))
    after_zh, after_en = render_policy("zh"), render_policy("en")
    assert "自收集起 4242 天" in after_zh and "4242" not in before_zh
    assert "4242 days from collection" in after_en and "4242" not in before_en
    row = re.search(rf'<tr id="cat-{re.escape(pd.category)}">.*?</tr>', after_zh, re.S)
    assert row is not None and "4242" in row.group(0)


def test_a_new_category_in_the_registry_appears_in_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    decl = next(d for d in declarations() if d.fields)
    name, pd = next(iter(decl.fields.items()))
    monkeypatch.setitem(CATEGORIES, "test.voiceprint", registry.Category("test.voiceprint",
                                                                         registry.Label("声纹", "Voiceprint"), True))
    changed = dict(decl.fields)
    changed[name] = dataclasses.replace(pd, category="test.voiceprint")
    monkeypatch.setitem(registry._REGISTRY, decl.label, dataclasses.replace(decl, fields=changed))
    zh = render_policy("zh")
    assert 'id="cat-test.voiceprint"' in zh
    sensitive = zh[zh.index('id="s1-sensitive"'):zh.index('id="s2"')]
    assert "声纹" in sensitive


def test_drift_is_reported_when_the_registry_moves_on(monkeypatch: pytest.MonkeyPatch) -> None:
    current_policy_version()
    assert not policy_drift("zh")
    decl = next(d for d in declarations() if d.fields)
    name, pd = next(iter(decl.fields.items()))
    changed = {**decl.fields, name: dataclasses.replace(pd, retention=Retention.for_days(777))}
    monkeypatch.setitem(registry._REGISTRY, decl.label, dataclasses.replace(decl, fields=changed))
    assert policy_drift("zh")


def test_a_policy_published_today_is_not_in_force_until_day_seven(olivia: Any) -> None:
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        first = current_policy_version()
        assert first is not None and first.number == 1
        published = do_publish_policy_version(summary_zh="新增保存期限说明。", summary_en="Retention notes.",
                                              material=False, acting_user=olivia)
        assert published.number == 2
        assert current_policy_version() == first
        assert upcoming_policy_version() == published
    with time_machine.travel(dt.datetime(2026, 3, 9, 9, 59, tzinfo=dt.UTC), tick=False):
        assert current_policy_version() == first  # day 7, a minute early
    with time_machine.travel(dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.UTC), tick=False):
        assert current_policy_version() == published
        assert upcoming_policy_version() is None
    body = PolicyVersion.objects.get(number=2).body_zh
    assert "更新日期：</strong>2026年3月2日" in body and "生效日期：</strong>2026年3月9日" in body


def test_a_material_change_notifies_users_before_it_takes_effect(
    olivia: Any, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.accounts.models import User

    start = dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        current_policy_version()
        with django_capture_on_commit_callbacks(execute=True):
            version = do_publish_policy_version(summary_zh="将搜索日志保存期限延长。",
                                                summary_en="Longer search logs.", material=True, acting_user=olivia)
        version.refresh_from_db()
        assert version.notify_state == "done"
        people = set(User.objects.values_list("pk", flat=True))
        notified = set(PolicyNotice.objects.filter(version=version).values_list("user_id", flat=True))
        assert notified == people
        assert all(n.created_at < version.effective_at for n in PolicyNotice.objects.filter(version=version))
        texts = [m for m in read_jsonl("sms.jsonl") if "隐私政策" in m["text"]]
        assert {m["to"] for m in texts} == {u.phone for u in User.objects.all()}
        assert all("第2版" in m["text"] for m in texts)
        # the home page carries the prominent notice before the change takes effect
        html = Client().get("/privacy/").content.decode()
        assert "consent-upcoming" in html


def test_material_notification_is_safe_to_run_twice(
    olivia: Any, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.consent.notify import run_policy_notification

    current_policy_version()
    with django_capture_on_commit_callbacks(execute=True):
        version = do_publish_policy_version(summary_zh="变更", summary_en="", material=True, acting_user=olivia)
    sent = len(read_jsonl("sms.jsonl"))
    PolicyVersion.objects.filter(pk=version.pk).update(notify_state="running")  # as if a worker crashed
    assert run_policy_notification(version.pk)["sms"] == 0
    assert len(read_jsonl("sms.jsonl")) == sent
    assert PolicyNotice.objects.filter(version=version).count() == PolicyNotice.objects.count()


def test_signed_in_users_are_asked_to_accept_a_material_change_once_in_force(olivia: Any, alice: Any) -> None:
    alice.date_joined = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    alice.save(update_fields=["date_joined"])
    client = Client()
    with time_machine.travel(dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC), tick=False):
        current_policy_version()
        version = do_publish_policy_version(summary_zh="实质变更", summary_en="", material=True,
                                            acting_user=olivia)
        client.force_login(alice)
        assert client.get("/privacy/consents").status_code == 200  # not yet in force: no gate
    with time_machine.travel(dt.datetime(2026, 5, 8, 8, 1, tzinfo=dt.UTC), tick=False):
        client.force_login(alice)
        response = client.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/privacy/policy/accept")
        page = client.get(response["Location"])
        assert "实质变更" in page.content.decode()
        response = client.post("/privacy/policy/accept", {"version": version.number, "next": "/"})
        assert response.status_code == 302 and response["Location"] == "/"
        assert alice.policy_acceptances.filter(version=version, method="sign_in").exists()
        assert client.get("/").status_code == 200
        # people who joined after the change accepted it at registration: never asked
        from lingjing.accounts.models import User

        newcomer = User.objects.create_user("+8613800000077", nickname="newcomer")
        client.force_login(newcomer)
        assert client.get("/").status_code == 200


def test_api_callers_learn_of_a_pending_acceptance_from_a_header(olivia: Any, alice: Any) -> None:
    import secrets

    from lingjing.accounts.models import ApiToken, hash_token

    raw = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=alice, token_hash=hash_token(raw))
    alice.date_joined = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    alice.save(update_fields=["date_joined"])
    with time_machine.travel(dt.datetime(2026, 5, 1, tzinfo=dt.UTC), tick=False):
        current_policy_version()
        do_publish_policy_version(summary_zh="实质变更", summary_en="", material=True, acting_user=olivia)
    with time_machine.travel(dt.datetime(2026, 5, 9, tzinfo=dt.UTC), tick=False):
        response = Client().get("/api/v1/privacy/consents", headers={"Authorization": f"Bearer {raw}"})
        assert response.status_code == 200 and response["X-Policy-Acceptance-Required"] == "2"
        assert "X-Policy-Acceptance-Required" not in Client().get("/api/v1/privacy/consents")


def test_a_non_material_change_asks_nobody(olivia: Any, alice: Any) -> None:
    alice.date_joined = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    alice.save(update_fields=["date_joined"])
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC), tick=False):
        current_policy_version()
        do_publish_policy_version(summary_zh="措辞调整", summary_en="", material=False, acting_user=olivia)
    assert PolicyNotice.objects.count() == 0
    with time_machine.travel(dt.datetime(2026, 6, 9, tzinfo=dt.UTC), tick=False):
        client = Client()
        client.force_login(alice)
        assert client.get("/").status_code == 200


def test_every_version_stays_readable_with_a_sanitised_diff(olivia: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with time_machine.travel(dt.datetime(2026, 7, 1, tzinfo=dt.UTC), tick=False):
        current_policy_version()
        decl = next(d for d in declarations() if d.fields)
        name, pd = next(iter(decl.fields.items()))
        changed = {**decl.fields, name: dataclasses.replace(pd, retention=Retention.for_days(555))}
        monkeypatch.setitem(registry._REGISTRY, decl.label, dataclasses.replace(decl, fields=changed))
        do_publish_policy_version(summary_zh="保存期限<script>alert(1)</script>", summary_en="", material=False,
                                  acting_user=olivia)
    client = Client()
    v1 = client.get("/privacy/policy/1").content.decode()
    v2 = client.get("/privacy/policy/2").content.decode()
    assert "555" not in v1 and "自收集起 555 天" in v2
    assert "<script>alert" not in v2 and "&lt;script&gt;" in v2
    current = client.get("/privacy/policy").content.decode()
    assert 'href="/privacy/policy/2"' in current and 'href="/privacy/policy/1"' in current
    diff = client.get("/privacy/policy/diff?from=1&to=2").content.decode()
    assert "555" in diff and 'class="diff_add"' in diff or 'class="diff_chg"' in diff
    table = diff[diff.index('<table class="diff"'):]
    assert " style=" not in table and "<script" not in table.split("</table>")[0]
    assert client.get("/privacy/policy/9").status_code == 404
    assert client.get("/privacy/policy/diff?from=x&to=2").status_code == 400


def test_only_the_privacy_officer_publishes(alice: Any, olivia: Any) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/privacy/staff/policy").status_code == 404
    assert client.post("/privacy/staff/policy", {"summary_zh": "x"}).status_code == 404
    assert PolicyVersion.objects.filter(number__gt=1).count() == 0
    client.force_login(olivia)
    page = client.get("/privacy/staff/policy")
    assert page.status_code == 200
    response = client.post("/privacy/staff/policy", {"summary_zh": "新增第三方说明", "summary_en": "",
                                                     "material": "on"})
    assert response.status_code == 302
    version = PolicyVersion.objects.get(number=2)
    assert version.material and version.published_by == olivia
    assert version.effective_at - version.published_at == dt.timedelta(days=7)
    with pytest.raises(ConsentError):
        do_publish_policy_version(summary_zh="  ", summary_en="", material=False, acting_user=olivia)


def test_policy_page_in_english() -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/privacy/policy").content.decode()
    assert "Privacy Policy" in html and "Do Not Track" in html


def test_privacy_center_is_within_four_clicks_of_home() -> None:
    """Breadth-first over the links of real pages, starting at the home page."""
    client = Client()
    targets = {"/privacy/", "/privacy/policy", "/privacy/cookies", "/privacy/consents", "/privacy/my-data",
               "/privacy/requests", "/privacy/sharing"}
    seen = {"/": 0}
    queue = ["/"]
    while queue:
        path = queue.pop(0)
        if seen[path] >= 4 or not path.startswith(("/", )) or path.startswith("/privacy/my-data"):
            continue
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for href in re.findall(r'href="(/[^"#?]*)', response.content.decode()):
            if href not in seen:
                seen[href] = seen[path] + 1
                queue.append(href)
    missing = {t for t in targets if t not in seen}
    assert not missing
    assert seen["/privacy/"] <= 1 and seen["/privacy/policy"] <= 2
    assert all(seen[t] <= 4 for t in targets)


def test_publication_dates_use_local_time(olivia: Any) -> None:
    with time_machine.travel(dt.datetime(2026, 8, 31, 17, 0, tzinfo=dt.UTC), tick=False):  # 01:00 next day in CN
        current_policy_version()
        version = do_publish_policy_version(summary_zh="x", summary_en="", material=False, acting_user=olivia)
        assert timezone.localdate(version.published_at) == dt.date(2026, 9, 1)
        assert "更新日期：</strong>2026年9月1日" in version.body_zh
