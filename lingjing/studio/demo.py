"""Studio part of ``lingjing demo``: a sample work with its storyboard for the demo creator.

Skipped quietly when there is no member account yet (the accounts seed creates 演示创作者). Idempotent: a creator
who already has the sample work keeps it as it is. The storyboard is made at once (offline, a second or two) so
the demo shows shots without a worker; "生成" on the work page renders the rest through the task queue.
"""

from __future__ import annotations

from typing import Any, TextIO

from lingjing.studio.actions import do_start_job
from lingjing.studio.runner import execute_job
from lingjing.works.actions import do_create_work
from lingjing.works.models import Work

TITLE = "雨夜茶馆"
STORY = """第一章 雨夜

李明走进了杭州城里的一家茶馆。窗外下着雨，茶馆里只有几个客人。
王芳抬起头，笑道：「你终于来了。」
「路上耽搁了。」李明说，把湿透的伞靠在门边。
他在她对面坐下，突然听见门外传来一声尖叫。
王芳问：“那是什么声音？”
两人冲出茶馆，沿着西湖一路追去。

第二章 断桥

雨停的时候，他们在断桥边找到了一个哭泣的孩子。
孩子指着湖面，颤抖着说：「灯……灯沉下去了。」
李明蹲下来，轻声道：「别怕，我们帮你找。」
"""


def _creator() -> Any:
    from lingjing.accounts.models import User

    members = User.objects.filter(status="active")
    return (members.filter(nickname="演示创作者").first()
            or members.filter(is_staff=False).order_by("date_joined").first())


def seed(stdout: TextIO) -> None:
    creator = _creator()
    if creator is None:
        stdout.write("  studio: no member account yet, no sample work\n")
        return
    if Work.objects.filter(author=creator, title=TITLE).exists():
        stdout.write(f"  studio: {creator.nickname} already has 《{TITLE}》\n")
        return
    work = do_create_work(creator, title=TITLE, script=STORY, tags=["古风", "悬疑"], acting_user=creator)
    job, _ = do_start_job(work, "storyboard", acting_user=creator)
    outcome = execute_job(job.pk)  # the queued task finds it done and skips
    stdout.write(f"  studio: 《{TITLE}》 for {creator.nickname}, storyboard {outcome}\n")
