"""One small world for the adversarial tests: alice owns one of everything, bob owns nothing of hers, and one
staff member per role. Built through the product's actions, like a real account would be."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

PASSWORD = "correct horse battery staple"  # noqa: S105
STORY = "第一章 夜雨\n\n李明走进了杭州的一家茶馆。\n王芳抬起头，笑道：「你终于来了。」\n「路上耽搁了。」李明说。\n"
_phones = iter(range(10_000))


def phone() -> str:
    return f"+86139777{next(_phones):05d}"


def member(nickname: str) -> Any:
    from lingjing.accounts.actions import do_register_user

    return do_register_user(phone=phone(), nickname=nickname, birth_date=dt.date(1990, 5, 1), password=PASSWORD)


def staff(nickname: str, role: str) -> Any:
    from lingjing.accounts.actions import do_set_roles
    from lingjing.accounts.models import User

    user = member(nickname)
    do_set_roles(user, [role], acting_user=None)
    return User.objects.get(pk=user.pk)


def token_for(user: Any) -> str:
    """A Bearer token, stored hashed like the login endpoint stores it."""
    from lingjing.accounts.models import ApiToken, hash_token

    raw = uuid.uuid4().hex + uuid.uuid4().hex
    ApiToken(user=user, token_hash=hash_token(raw), label="hardening").save()
    return raw


def browser(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class World:
    alice: Any
    bob: Any
    staff: dict[str, Any]
    ids: dict[str, Any] = field(default_factory=dict)


def build_world(*, with_copy: bool = True) -> World:
    """Alice's objects, each made the way the product makes it. Objects whose app is not installed yet are
    simply absent from ``ids`` (rows needing them are skipped)."""
    from lingjing.core.roles import ROLE_NAMES

    alice, bob = member("爱丽丝"), member("鲍勃")
    world = World(alice=alice, bob=bob, staff={name: staff(f"staff-{name}", name) for name in ROLE_NAMES})
    ids = world.ids
    _works(world, ids)
    _tickets(world, ids)
    _privacy(world, ids, with_copy=with_copy)
    _sharing_and_decisions(world, ids)
    return world


def _works(world: World, ids: dict[str, Any]) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from lingjing.studio.actions import NewOutput, do_add_outputs_for_job, do_start_job
    from lingjing.studio.models import Shot
    from lingjing.studio.runner import execute_job
    from lingjing.works.actions import do_create_work

    alice = world.alice
    draft = do_create_work(alice, title="私密草稿", script=STORY, acting_user=alice)
    job, _ = do_start_job(draft, "storyboard", acting_user=alice)
    execute_job(job.pk)
    shot = Shot.objects.filter(work=draft).first()
    path = default_storage.save(f"studio/{draft.pk}/hardening-page.png", ContentFile(png_bytes()))
    (asset,) = do_add_outputs_for_job(draft, [NewOutput(kind="page", slot="page:9", file=path)], run=None)
    ids.update(draft=draft.pk, job=job.pk, shot=shot.pk if shot else None, asset=asset.pk)
    published = do_create_work(alice, title="公开作品", script=STORY, acting_user=alice)
    try:
        from lingjing.works.publishing import do_publish_work

        do_publish_work(published, acting_user=alice, screen=False)
    except (ImportError, RuntimeError):  # publishing (and its search index) not installed in this tree yet
        return
    ids["published"] = published.pk


def _tickets(world: World, ids: dict[str, Any]) -> None:
    try:
        from lingjing.support.actions import do_open_ticket
    except ImportError:
        return
    ticket = do_open_ticket(user=world.alice, category="account", title="无法登录", body="一直提示验证码错误",
                            acting_user=world.alice)
    ids["ticket"] = ticket.pk


def _privacy(world: World, ids: dict[str, Any], *, with_copy: bool) -> None:
    from lingjing.consent.actions import do_set_consent
    from lingjing.consent.models import Method

    receipt = do_set_consent(world.alice, "analytics", True, method=Method.SETTINGS, acting_user=world.alice)
    ids["receipt"] = receipt.pk
    try:
        from lingjing.privacy.actions import Requester, do_create_request, start_fulfilment
    except ImportError:
        return
    req = do_create_request(world.alice, "explanation", requester=Requester(acting_user=world.alice),
                            details="为什么推荐这些作品？")
    ids["request"] = req.pk
    if with_copy:
        copy = do_create_request(world.alice, "copy", requester=Requester(acting_user=world.alice,
                                                                          verification="step_up"))
        start_fulfilment(copy, acting_user=world.alice)
        ids["copy"] = copy.pk


def _sharing_and_decisions(world: World, ids: dict[str, Any]) -> None:
    from lingjing.decisions.actions import record_decision
    from lingjing.sharing.gate import disclose
    from lingjing.sharing.models import SharingRecord
    from lingjing.sharing.tests.conftest import grant

    grant(world.alice, "recipient:deepseek")
    disclose(world.alice, "deepseek", ["content.script"], "content", payload={"content.script": "第一章"},
             flow="studio.storyboard")
    ids["sharing"] = SharingRecord.objects.get(person=world.alice).pk
    decision = record_decision(world.alice, "moderation", outcome="work_hidden", rule_version="mod-rules-3",
                               explanation_zh="作品含外部推广链接（规则 spam-link）。", inputs={"links": 2},
                               significant=True, object_ref="work:1")
    ids["decision"] = decision.pk
