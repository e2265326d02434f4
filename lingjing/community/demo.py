"""Community part of ``lingjing demo``: a public square to look at — the studio's sample work published, a dozen
generated works by the demo creator, and the demo viewer's likes, a comment and a follow.

Runs after the accounts and studio seeds (``INSTALLED_APPS`` order). Idempotent: works are looked up by title,
likes and follows are unique, and the comment is only written once. Every write goes through the actions.
"""

from __future__ import annotations

from typing import Any, TextIO

SAMPLES = 12
COMMENT = "画面很有氛围，期待下一集！"


def _member(nickname: str) -> Any:
    from lingjing.accounts.models import User

    return User.objects.filter(nickname=nickname, status="active").first()


def seed(stdout: TextIO) -> None:
    from lingjing.community.actions import do_follow, do_like_work, do_post_comment
    from lingjing.community.models import Comment
    from lingjing.search.corpus import documents
    from lingjing.works.actions import do_create_work
    from lingjing.works.models import Work, WorkStatus
    from lingjing.works.publishing import do_publish_work

    creator, viewer = _member("演示创作者"), _member("演示观众")
    if creator is None:
        stdout.write("  community: no demo creator yet, nothing published\n")
        return
    published = 0
    for work in Work.objects.filter(author=creator, status=WorkStatus.DRAFT, title="雨夜茶馆"):
        published += do_publish_work(work, acting_user=creator).published
    for doc in documents(SAMPLES, seed=2026):
        sample = Work.objects.filter(author=creator, title=doc.title).first()
        if sample is None:
            sample = do_create_work(creator, title=doc.title, tags=list(doc.tags), acting_user=creator)
        if sample.status == WorkStatus.DRAFT:
            published += do_publish_work(sample, acting_user=creator).published
    stdout.write(f"  community: {published} works published for {creator.nickname}\n")
    if viewer is None:
        return
    public = list(Work.objects.filter(author=creator, status=WorkStatus.PUBLISHED).order_by("published_at")[:4])
    for work in public:
        do_like_work(viewer, work, acting_user=viewer)
    if public and not Comment.objects.filter(work=public[0], author=viewer).exists():
        do_post_comment(public[0], viewer, COMMENT, acting_user=viewer)
    do_follow(viewer, creator, acting_user=viewer)
    stdout.write(f"  community: {viewer.nickname} likes {len(public)} works, comments, follows {creator.nickname}\n")
