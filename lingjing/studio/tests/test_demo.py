from __future__ import annotations

import io

import pytest

from lingjing.accounts.models import User
from lingjing.studio import demo
from lingjing.studio.models import Shot
from lingjing.works.models import Work

pytestmark = pytest.mark.django_db


def test_demo_skips_without_members_then_seeds_once() -> None:
    out = io.StringIO()
    demo.seed(out)
    assert "no member account" in out.getvalue() and not Work.objects.exists()
    User.objects.create_user("13800000101", nickname="演示创作者")
    demo.seed(out)
    demo.seed(out)
    work = Work.objects.get(title=demo.TITLE)
    assert work.author is not None and work.author.nickname == "演示创作者"
    assert Shot.objects.filter(work=work).count() >= 8
    assert "already has" in out.getvalue()
