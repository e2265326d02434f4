"""The offline media pipeline: fonts, sketches, voice, subtitles, comic pages and video."""

from __future__ import annotations

import hashlib
import re
import wave
from pathlib import Path

import pytest
import srt
from PIL import Image, ImageChops, ImageFont

from lingjing.studio.media import fonts
from lingjing.studio.media.comic import compose_pages, pages_needed, pages_to_pdf
from lingjing.studio.media.sketch import (
    character_look,
    describe_place,
    figure_positions,
    layout_figures,
    render_sketch,
    sketch_png,
)
from lingjing.studio.media.subtitles import build_srt, split_text, srt_end, timeline, write_srt
from lingjing.studio.media.video import frame_counts, probe_media, render_video
from lingjing.studio.media.voice import ShotAudio, frame_ceil, render_shot_audio
from lingjing.studio.media.wav import PcmFormat, join, wav_duration, write_silence
from lingjing.studio.providers.speech import EspeakProvider, parse_espeak_voice, suggest_voice
from lingjing.studio.spec import CharacterSpec, Clip, Cue, ImageRequest, LineSpec, Panel, ShotSpec
from lingjing.studio.tests.fakes.servers import make_wav

HERO = CharacterSpec("林小雨", "黑色长发，蓝色眼睛，娇小", "白色校服", seed=7, voice="cmn+f3 pitch=62")
RIVAL = CharacterSpec("陈默", "银色短发，高大", "黑色风衣", seed=3, voice="cmn+m3")


def _shot(index: int = 1, **kw: object) -> ShotSpec:
    fields: dict[str, object] = {
        "description": "两人在教室里对视",
        "shot_type": "medium",
        "location": "高二三班教室",
        "characters": (HERO, RIVAL),
        "lines": (LineSpec("你今天怎么这么晚？", "林小雨"),),
    }
    fields.update(kw)
    return ShotSpec(index, **fields)  # type: ignore[arg-type]


# --- fonts ------------------------------------------------------------------------------------------------


def test_a_real_cjk_font_is_found_and_draws_chinese_not_tofu() -> None:
    path = fonts.cjk_font_path()
    assert path.exists()
    text = "灵境动画创作，你好！「对白」"
    assert fonts.missing_glyphs(fonts.load_font(32), text) == []
    # the check is not vacuous: a Latin-only font draws the same characters as its missing-glyph box
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin.exists():
        assert set(fonts.missing_glyphs(ImageFont.truetype(str(latin), 32), "灵境动画")) == set("灵境动画")


def test_no_cjk_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, settings: object) -> None:
    monkeypatch.setattr(fonts, "CANDIDATES", ("/nonexistent/font.ttc",))
    monkeypatch.setattr(fonts, "_fontconfig_candidates", lambda: [])
    monkeypatch.setattr(fonts, "_configured_font", lambda: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    fonts.cjk_font_path.cache_clear()
    try:
        with pytest.raises(fonts.FontNotFoundError, match="fonts-wqy-microhei") as failed:
            fonts.cjk_font_path()
        assert "找不到可用的中文字体" in str(failed.value) and "LINGJING_CJK_FONT" in str(failed.value)
    finally:
        fonts.cjk_font_path.cache_clear()


def test_wrapping_respects_width_and_chinese_line_breaking_rules() -> None:
    font = fonts.load_font(24)
    text = "他说：「今天的风，好大啊。」然后转身离开了教室，English words stay whole。"
    lines = fonts.wrap_text(text, font, 200)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        assert line[0] not in fonts.NO_LINE_START
        assert line[-1] not in fonts.NO_LINE_END
        assert font.getlength(line) <= 200 + font.getlength("。")  # a hanging stop may overhang
    assert any("English" in line for line in lines) and not any(line.endswith("Engl") for line in lines)
    cut = fonts.wrap_text(text * 5, font, 200, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…")


# --- sketches ---------------------------------------------------------------------------------------------


def test_sketch_is_byte_identical_for_the_same_request_and_differs_otherwise() -> None:
    request = ImageRequest(_shot(), 270, 480)
    first, second = sketch_png(request), sketch_png(ImageRequest(_shot(), 270, 480))
    assert first == second
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(sketch_png(request)).hexdigest()
    assert sketch_png(ImageRequest(_shot(seed=1, characters=(HERO,)), 270, 480)) != first
    assert Image.open(__import__("io").BytesIO(first)).size == (270, 480)


def test_sketch_caption_draws_real_glyphs() -> None:
    # With tofu, two different captions of the same length would look the same.
    a = render_sketch(ImageRequest(_shot(lines=(), description="天地玄黄"), 240, 320))
    b = render_sketch(ImageRequest(_shot(lines=(), description="宇宙洪荒"), 240, 320))
    band = (0, 260, 240, 320)
    assert ImageChops.difference(a.crop(band), b.crop(band)).getbbox() is not None
    assert a.crop((0, 0, 240, 250)).tobytes() == b.crop((0, 0, 240, 250)).tobytes()


def test_figure_scale_follows_the_shot_type() -> None:
    units = {}
    for kind in ("establishing", "wide", "medium", "close", "extreme_close"):
        placements = layout_figures(_shot(shot_type=kind), 1080, 1920, 1152)
        units[kind] = max(p.unit for p in placements)
    assert units["establishing"] < units["wide"] < units["medium"] < units["close"] < units["extreme_close"]
    assert len(layout_figures(_shot(shot_type="extreme_close"), 1080, 1920, 1152)) == 1
    over = layout_figures(_shot(shot_type="over_shoulder"), 1080, 1920, 1152)
    assert [p.from_behind for p in over] == [True, False] and over[1].character.name == "林小雨"  # the speaker faces us
    assert layout_figures(_shot(characters=()), 1080, 1920, 1152) == []
    positions = figure_positions(_shot())
    assert 0 < positions["林小雨"] < positions["陈默"] < 1


def test_character_colours_come_from_features_and_seed() -> None:
    assert character_look(RIVAL).hair == (196, 202, 214)  # 银色短发
    assert character_look(RIVAL).costume == (34, 32, 38)  # 黑色风衣
    plain = CharacterSpec("路人", seed=1)
    assert character_look(plain) == character_look(CharacterSpec("路人", seed=1))
    looks = {character_look(CharacterSpec("路人", seed=s)) for s in range(12)}
    assert len(looks) > 6  # the seed changes an undescribed character's look


def test_location_decides_the_backdrop_and_it_repeats_across_shots() -> None:
    assert describe_place("高二三班教室").interior
    night = describe_place("夜晚的湖边公园")
    assert not night.interior and night.time == "night" and {"water", "trees"} <= night.features
    one = render_sketch(ImageRequest(_shot(1, characters=(), lines=(), description="甲"), 200, 300))
    two = render_sketch(ImageRequest(_shot(9, characters=(), lines=(), description="乙"), 200, 300))
    sky = (0, 40, 200, 200)  # below the header, above the caption
    assert one.crop(sky).tobytes() == two.crop(sky).tobytes()
    elsewhere = render_sketch(ImageRequest(_shot(1, characters=(), lines=(), location="山间小村"), 200, 300))
    assert elsewhere.crop(sky).tobytes() != one.crop(sky).tobytes()


# --- voice ------------------------------------------------------------------------------------------------


def test_espeak_speaks_mandarin_into_a_real_wav(tmp_path: Path) -> None:
    out = tmp_path / "line.wav"
    duration = EspeakProvider().synthesize("你好，欢迎来到灵境。", "cmn+f3 rate=180 pitch=60", out)
    assert out.stat().st_size > 1000 and duration > 0.5
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(duration)
        frames = w.readframes(w.getnframes())
    assert any(frames[i] not in (0, 255) for i in range(0, len(frames), 97))  # not silence


def test_voice_settings_parse_and_differ_per_character() -> None:
    assert parse_espeak_voice("cmn+f3 rate=160 pitch=70") == parse_espeak_voice("cmn+f3  pitch=70 rate=160")
    voice = parse_espeak_voice("cmn+f3 rate=9999")
    assert (voice.voice, voice.rate, voice.pitch) == ("cmn+f3", 450, 50)
    assert parse_espeak_voice("cmn").rate == 250
    with pytest.raises(ValueError):
        parse_espeak_voice("cmn; rm -rf /")
    with pytest.raises(ValueError):
        parse_espeak_voice("cmn speed=3")
    assert len({suggest_voice(i) for i in range(8)}) == 8


def test_shot_audio_joins_lines_with_real_durations_and_whole_frames(tmp_path: Path) -> None:
    shot = _shot(
        lines=(LineSpec("你今天怎么这么晚？", "林小雨"), LineSpec("路上有点事。", "陈默"), LineSpec("风停了。"))
    )
    audio = render_shot_audio(shot, tmp_path / "shot.wav", EspeakProvider(), fps=24)
    assert audio.duration == pytest.approx(wav_duration(audio.path), abs=1e-4)
    assert round(audio.duration * 24, 6) == round(audio.duration * 24)  # whole frames
    starts = [c.start for c in audio.cues]
    assert starts == sorted(starts) and audio.cues[0].start == pytest.approx(0.15)
    assert [c.text for c in audio.cues] == ["你今天怎么这么晚？", "路上有点事。", "风停了。"]
    for before, after in zip(audio.cues, audio.cues[1:], strict=False):
        assert after.start == pytest.approx(before.end + 0.25, abs=0.002)
    assert audio.cues[-1].end < audio.duration
    # each speaker has their own voice: the same text with two voices sounds (and lasts) differently
    a = EspeakProvider().synthesize("我们走吧", HERO.voice, tmp_path / "a.wav")
    b = EspeakProvider().synthesize("我们走吧", "cmn+m7 rate=120", tmp_path / "b.wav")
    assert a != b


def test_a_shot_without_lines_is_silence_of_its_planned_length(tmp_path: Path) -> None:
    audio = render_shot_audio(_shot(lines=(), duration=2.01), tmp_path / "quiet.wav", EspeakProvider(), fps=24)
    assert audio.duration == frame_ceil(2.01, 24) == pytest.approx(49 / 24)
    assert wav_duration(audio.path) == pytest.approx(audio.duration, abs=1e-4) and audio.cues == ()


def test_wav_duration_trusts_the_file_over_a_streamed_header(tmp_path: Path) -> None:
    path = tmp_path / "streamed.wav"
    path.write_bytes(make_wav(0.5, streamed_header=True))
    assert wav_duration(path) == pytest.approx(0.5)
    write_silence(tmp_path / "s.wav", 0.25, PcmFormat(rate=16000))
    assert join([path, tmp_path / "s.wav"], tmp_path / "j.wav", gap=0.1) == pytest.approx(0.85, abs=1e-3)


# --- subtitles --------------------------------------------------------------------------------------------


def test_srt_cues_are_cumulative_over_the_real_shot_durations(tmp_path: Path) -> None:
    shots = [
        ShotAudio(tmp_path / "1.wav", 2.5, (Cue(0.2, 1.9, "第一句"),)),
        ShotAudio(tmp_path / "2.wav", 1.25, ()),
        ShotAudio(tmp_path / "3.wav", 3.0, (Cue(0.1, 1.0, "第二句"), Cue(1.2, 2.6, "第三句"))),
    ]
    cues = timeline(shots)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.2, 1.9, "第一句"), (3.85, 4.75, "第二句"), (4.95, 6.35, "第三句"),
    ]  # fmt: skip
    text = write_srt(cues, tmp_path / "out.srt").read_text(encoding="utf-8")
    parsed = list(srt.parse(text))
    assert [s.index for s in parsed] == [1, 2, 3] and parsed[1].content == "第二句"
    assert "00:00:03,850 --> 00:00:04,750" in text and srt_end(text) == pytest.approx(6.35)


def test_long_lines_are_split_into_shorter_cues_sharing_the_time() -> None:
    text = "夜色渐深，湖面上泛起了微光，远处传来了钟声。她停下脚步，回头望去，却什么也没有看见。"
    pieces = split_text(text, 16)
    assert "".join(pieces) == text and all(len(p) <= 16 for p in pieces)
    cues = timeline([ShotAudio(Path("x.wav"), 12.0, (Cue(1.0, 11.0, text),))], max_chars=16)
    assert cues[0].start == 1.0 and cues[-1].end == 11.0 and len(cues) == len(pieces)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(cues, cues[1:], strict=False))
    assert build_srt([Cue(0, 1, "  "), Cue(2, 2, "零长")]) == ""


# --- comic pages ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panel_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("panels")
    paths = []
    for i, kind in enumerate(("wide", "medium", "close")):
        path = folder / f"{i}.png"
        render_sketch(ImageRequest(_shot(i, shot_type=kind), 216, 384)).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize(("layout", "count", "pages"), [("grid", 7, 2), ("grid", 6, 1), ("four", 9, 3),
                                                       ("strip", 9, 2), ("strip", 3, 1)])  # fmt: skip
def test_comic_layouts_make_the_right_number_of_pages(
    panel_images: list[Path], tmp_path: Path, layout: str, count: int, pages: int
) -> None:
    panels = [Panel(str(panel_images[i % 3]), (LineSpec("你好", "林小雨"),)) for i in range(count)]
    made = compose_pages(panels, layout, tmp_path, title="第一话")  # type: ignore[arg-type]
    assert len(made) == pages == pages_needed(count, layout)  # type: ignore[arg-type]
    assert [p.name for p in made] == [f"page-{n:03d}.png" for n in range(1, pages + 1)]
    with Image.open(made[0]) as first:
        assert first.width == {"grid": 1240, "four": 900, "strip": 800}[layout]
        if layout == "grid":
            assert first.size == (1240, 1754)


def test_speech_bubbles_and_narration_are_drawn_with_tails_towards_the_speaker(
    panel_images: list[Path], tmp_path: Path
) -> None:
    image = str(panel_images[1])
    bare = compose_pages([Panel(image)], "four", tmp_path / "bare")[0]
    left = compose_pages([Panel(image, (LineSpec("左边的人说话", "甲"),), figure_x=(("甲", 0.2),))], "four",
                         tmp_path / "left")[0]  # fmt: skip
    right = compose_pages([Panel(image, (LineSpec("左边的人说话", "甲"),), figure_x=(("甲", 0.8),))], "four",
                          tmp_path / "right")[0]  # fmt: skip
    told = compose_pages([Panel(image, (LineSpec("旁白：很久以前。"),))], "four", tmp_path / "told")[0]
    with Image.open(bare) as b, Image.open(left) as lft, Image.open(right) as r, Image.open(told) as t:
        changed_left = ImageChops.difference(b.convert("RGB"), lft.convert("RGB")).getbbox()
        changed_right = ImageChops.difference(b.convert("RGB"), r.convert("RGB")).getbbox()
        assert changed_left is not None and changed_right is not None
        assert changed_left[0] < changed_right[0]  # the bubble sits over its speaker
        assert ImageChops.difference(b.convert("RGB"), t.convert("RGB")).getbbox() is not None
        # narration boxes are the pale yellow of captions, bubbles are white
        assert (255, 244, 200) in {c for _, c in t.convert("RGB").getcolors(1 << 20) or []}


def test_pages_bind_into_a_valid_pdf(panel_images: list[Path], tmp_path: Path) -> None:
    panels = [Panel(str(panel_images[i % 3]), (LineSpec("第一格", "林小雨"),)) for i in range(7)]
    pages = compose_pages(panels, "grid", tmp_path / "pages")
    pdf = pages_to_pdf(pages, tmp_path / "comic.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == len(pages) == 2


# --- video ------------------------------------------------------------------------------------------------


def test_frame_counts_never_drift() -> None:
    durations = [1.37, 2.01, 0.4, 3.333, 1.0] * 40
    counts = frame_counts(durations, 24)
    assert sum(counts) == round(sum(durations) * 24)
    assert all(c >= 1 for c in counts)


def test_video_matches_the_srt_and_has_h264_and_aac(panel_images: list[Path], tmp_path: Path) -> None:
    shots = [
        _shot(1, camera_move="push_in", lines=(LineSpec("开始吧。", "林小雨"),)),
        _shot(2, camera_move="pan_left", lines=(), duration=0.8),
        _shot(3, camera_move="static", lines=(LineSpec("好。", "陈默"),)),
    ]
    provider = EspeakProvider()
    audios = [render_shot_audio(s, tmp_path / f"{s.index}.wav", provider, fps=24) for s in shots]
    clips = [Clip(str(panel_images[i]), str(a.path), a.duration, s.camera_move)
             for i, (s, a) in enumerate(zip(shots, audios, strict=True))]  # fmt: skip
    clips[1] = Clip(clips[1].image_path, None, clips[1].duration, "pan_left")  # a clip without audio: silence
    srt_text = write_srt(timeline(audios), tmp_path / "subs.srt").read_text(encoding="utf-8")
    seen: list[float] = []
    out = tmp_path / "out" / "video.mp4"
    duration = render_video(clips, "portrait", out, progress=seen.append, size=(144, 256), speed="ultrafast")
    info = probe_media(out)
    total = sum(a.duration for a in audios)
    assert abs(duration - total) < 0.1 and abs(info.video_duration - total) < 0.1
    assert abs(info.audio_duration - total) < 0.1
    assert srt_end(srt_text) <= duration and srt_end(srt_text) > audios[0].duration  # cues inside the video
    assert (info.video_codec, info.audio_codec, info.pix_fmt) == ("h264", "aac", "yuv420p")
    assert (info.width, info.height, info.fps) == (144, 256, 24.0)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == len(clips) + 1
    assert [p.name for p in out.parent.iterdir()] == ["video.mp4"]  # no temporary files left behind


def test_video_presets_and_abort(panel_images: list[Path], tmp_path: Path) -> None:
    from lingjing.studio.media.video import VideoError

    with pytest.raises(VideoError, match="preset"):
        render_video([Clip(str(panel_images[0]), None, 0.5)], "square", tmp_path / "x.mp4")  # type: ignore[arg-type]

    def cancel(fraction: float) -> None:
        raise InterruptedError("cancelled")

    clips = [Clip(str(panel_images[0]), None, 0.25)] * 2
    with pytest.raises(InterruptedError):
        render_video(clips, "landscape", tmp_path / "y" / "v.mp4", progress=cancel, size=(96, 64), speed="ultrafast")
    assert list((tmp_path / "y").iterdir()) == []
    landscape = render_video(clips[:1], "landscape", tmp_path / "z.mp4", size=(95, 63), speed="ultrafast")
    info = probe_media(tmp_path / "z.mp4")
    assert (info.width, info.height) == (94, 62) and landscape == pytest.approx(0.25, abs=0.05)
