"""Plain data passed between the studio's steps (no Django): the contract between the pipeline and its media
renderers and providers. The database models (``studio.models``) are converted to these at each step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ShotType = Literal["wide", "medium", "close", "extreme_close", "over_shoulder", "establishing"]
CameraMove = Literal["static", "push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down"]
PageLayout = Literal["grid", "four", "strip"]
VideoPreset = Literal["portrait", "landscape"]  # 1080x1920, 1920x1080

VIDEO_SIZES: dict[str, tuple[int, int]] = {"portrait": (1080, 1920), "landscape": (1920, 1080)}


@dataclass(frozen=True)
class CharacterSpec:
    """Everything an image request must carry for a character, so it looks the same in every shot."""

    name: str
    static_features: str = ""  # face, build, hair — never changes
    dynamic_features: str = ""  # costume of the current episode
    seed: int = 0
    reference_images: tuple[str, ...] = ()  # storage paths
    voice: str = "cmn"  # espeak-ng voice, or a provider voice name


@dataclass(frozen=True)
class LineSpec:
    """One spoken or narrated line of a shot."""

    text: str
    speaker: str | None = None  # None: narration


@dataclass(frozen=True)
class ShotSpec:
    index: int
    description: str  # what is seen
    shot_type: ShotType = "medium"
    camera_move: CameraMove = "static"
    location: str = ""
    characters: tuple[CharacterSpec, ...] = ()
    lines: tuple[LineSpec, ...] = ()
    duration: float = 3.0  # seconds, ≈ chars / 4.5 + 2 before audio is known
    prompt: str = ""  # image prompt (user-editable)
    seed: int = 0


@dataclass(frozen=True)
class ImageRequest:
    shot: ShotSpec
    width: int
    height: int
    negative_prompt: str = ""
    style: str = "anime"


@dataclass(frozen=True)
class Panel:
    image_path: str
    lines: tuple[LineSpec, ...] = ()
    caption: str = ""
    # (character name, x of the head as a fraction of the width): where speech-bubble tails point.
    # ``media.sketch.figure_positions(shot)`` gives it for sketches; unknown speakers alternate left/right.
    figure_x: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Clip:
    image_path: str
    audio_path: str | None
    duration: float
    camera_move: CameraMove = "static"


@dataclass
class Cue:
    start: float
    end: float
    text: str


@dataclass
class Storyboard:
    title: str
    shots: list[ShotSpec] = field(default_factory=list)
    characters: list[CharacterSpec] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
