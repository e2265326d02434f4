"""The people and objects the browser journeys start from, created inside the journey server's environment.

Run as ``lingjing shell -c "from lingjing.core.tests.hardening.journey_world import main; main()"`` with the
server's data directory and database (personal data is sealed with that data directory's keys, so it must be
written by a process that holds them). Prints one JSON line: phone numbers, the password and the staff
member's TOTP secret, for the journeys to sign in with. Everything goes through the apps' actions.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any

PASSWORD = "journey-pass-2026"  # noqa: S105 - a throwaway account on a throwaway server
STAFF_PHONE = "+8613900000001"
VIEWER_PHONE = "+8613900000002"
RIGHTS_PHONE = "+8613900000003"
AUTHOR_PHONE = "+8613900000004"
PUBLISHED_TITLE = "青石桥上的月光"
PUBLISHED_STORY = "第一章 月夜\n\n小林走上青石桥。月光照在河面上。\n\n小林：今晚的月亮真圆啊。\n"


def seed() -> dict[str, Any]:
    from lingjing.accounts.actions import do_begin_totp, do_enable_totp, do_register_user, do_set_roles
    from lingjing.accounts.totp import STEP, new_secret
    from lingjing.privacy.actions import Requester, submit_request
    from lingjing.support.actions import do_open_ticket
    from lingjing.works.actions import do_create_work
    from lingjing.works.publishing import do_publish_work

    def member(phone: str, nickname: str, password: str | None = PASSWORD) -> Any:
        return do_register_user(phone=phone, nickname=nickname, birth_date=dt.date(1995, 5, 4), password=password)

    staff = member(STAFF_PHONE, "值班专员")
    do_set_roles(staff, ["privacy_officer", "support_agent"], acting_user=None)
    secret = new_secret()
    do_begin_totp(staff, secret, acting_user=staff)
    # Enabled with a step well in the past, so the journey may use any code of the current window.
    do_enable_totp(staff, step=int(time.time() // STEP) - 10, acting_user=staff)

    viewer = member(VIEWER_PHONE, "路过的观众")
    member(RIGHTS_PHONE, "行权用户")
    author = member(AUTHOR_PHONE, "月光作者", password=None)  # never signs in
    work = do_create_work(author, title=PUBLISHED_TITLE, script=PUBLISHED_STORY, tags=["古风"], acting_user=author)
    do_publish_work(work, acting_user=author)

    request = submit_request(viewer, "correction", requester=Requester(acting_user=viewer),
                             details="我的出生日期填错了，应为 1995-05-14。")
    ticket = do_open_ticket(user=viewer, category="account", title="无法修改头像",
                            body="上传头像时一直提示失败，请帮忙看看。", acting_user=viewer)
    return {
        "password": PASSWORD,
        "staff": {"phone": STAFF_PHONE, "totp_secret": secret},
        "viewer": {"phone": VIEWER_PHONE, "nickname": viewer.nickname},
        "rights": {"phone": RIGHTS_PHONE},
        "published": {"id": str(work.pk), "title": PUBLISHED_TITLE},
        "request": {"id": str(request.pk), "reference": request.reference},
        "ticket": {"id": str(ticket.pk), "ref": ticket.ref},
    }


def main() -> None:
    sys.stdout.write("JOURNEY-WORLD " + json.dumps(seed(), ensure_ascii=False) + "\n")
    sys.stdout.flush()
