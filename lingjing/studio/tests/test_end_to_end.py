"""The offline pipeline end to end on a short text, through the CLI and through a web job; the MP4 is read back
with PyAV and its duration checked against the SRT."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import av
import pytest
import srt
from django.core.files.storage import default_storage
from django.core.management import call_command

from lingjing.accounts.models import User
from lingjing.studio.actions import chosen_outputs, do_start_job
from lingjing.studio.models import AssetKind, JobStatus, StudioJob
from lingjing.studio.tests.conftest import SHORT_STORY
from lingjing.works.actions import do_create_work

FRAME = 1 / 24


def _probe(path: str | Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        assert container.duration is not None
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        return {
            "duration": container.duration / 1_000_000,
            "video": video.codec_context.name, "audio": audio.codec_context.name,
            "size": (video.codec_context.width, video.codec_context.height),
            "frames": sum(1 for _ in container.decode(video=0)),
        }


def _srt_end(text: str) -> float:
    cues = list(srt.parse(text))
    assert cues, "the SRT has cues"
    return float(max(c.end.total_seconds() for c in cues))


def test_cli_render_writes_the_contract_files(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_bytes(SHORT_STORY.encode("gbk"))  # the CLI detects the encoding too
    out = tmp_path / "out"
    stdout = io.StringIO()
    call_command("studio", "render", "--input", str(story), "--out", str(out), "--layout", "four",
                 "--preset", "landscape", "--size", "256x144", stdout=stdout)
    board = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert len(board["shots"]) == 3 and [c["name"] for c in board["characters"]] == ["李明", "王芳"]
    pages = sorted((out / "pages").glob("*.png"))
    assert len(pages) == 1 and (out / "comic.pdf").read_bytes()[:5] == b"%PDF-"
    srt_text = (out / "subtitles.srt").read_text(encoding="utf-8")
    assert "你终于来了" in srt_text and "路上耽搁了" in srt_text
    info = _probe(out / "video.mp4")
    assert (info["video"], info["audio"], info["size"]) == ("h264", "aac", (256, 144))
    end = _srt_end(srt_text)
    # the video runs to the end of the last line plus the shot's closing pause (≤ 0.35 s + one frame)
    assert end < info["duration"] <= end + 0.35 + 2 * FRAME
    assert abs(info["frames"] / 24 - info["duration"]) <= 2 * FRAME
    assert "完成：3 个镜头" in stdout.getvalue()


def test_cli_refuses_a_missing_file(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="找不到输入文件"):
        call_command("studio", "render", "--input", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o"))


@pytest.mark.django_db
def test_web_render_job_end_to_end(alice: User, django_capture_on_commit_callbacks: Any, tmp_path: Path) -> None:
    work = do_create_work(alice, title="夜雨", script=SHORT_STORY, acting_user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        job, _ = do_start_job(work, "render", acting_user=alice)
    job = StudioJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.progress == 100 and job.attempts == 1
    chosen = chosen_outputs(work)
    video, subtitles = chosen["video"], chosen["srt"]
    local = tmp_path / "video.mp4"
    with default_storage.open(video.file, "rb") as handle:
        local.write_bytes(handle.read())
    with default_storage.open(subtitles.file, "rb") as handle:
        srt_text = handle.read().decode("utf-8")
    info = _probe(local)
    assert (info["video"], info["audio"], info["size"]) == ("h264", "aac", (144, 256))
    audio_total = sum(a.meta["duration"] for a in chosen.values() if a.kind == AssetKind.AUDIO)
    assert abs(info["duration"] - audio_total) <= 2 * FRAME
    assert abs(video.meta["duration"] - info["duration"]) < 0.01
    end = _srt_end(srt_text)
    assert end < info["duration"] <= end + 0.35 + 2 * FRAME
    assert sum(1 for a in chosen.values() if a.kind == AssetKind.IMAGE) == 3
    assert chosen["pdf"].meta["pages"] == 1
    assert all(a.file.startswith(f"works/{work.pk}/studio/") for a in chosen.values())
