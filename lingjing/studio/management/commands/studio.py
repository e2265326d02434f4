"""``lingjing studio render --input STORY.txt --out DIR`` (offline pipeline, no web app) and
``lingjing studio reclaim`` (give jobs of crashed workers back to the queue)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "创作工作台：离线渲染故事（render），或重新领取中断的任务（reclaim）"

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        render = sub.add_parser("render", help="把故事文本渲染成分镜、漫画页、字幕和视频")
        render.add_argument("--input", required=True, help="故事文件（txt、md、docx、epub）")
        render.add_argument("--out", required=True, help="输出目录")
        render.add_argument("--title", default="", help="作品标题（默认取文件名）")
        render.add_argument("--layout", choices=["grid", "four", "strip"], default="grid")
        render.add_argument("--preset", choices=["portrait", "landscape"], default="portrait")
        render.add_argument("--size", default="", help="覆盖视频尺寸，如 540x960")
        render.add_argument("--fps", type=int, default=24)
        sub.add_parser("reclaim", help="把心跳超时的任务放回队列")

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.studio.cli import reclaim, render

        try:
            if options["action"] == "render":
                render(options, self.stdout)
            else:
                reclaim(self.stdout)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
