"""The offline storyboard: Chinese prose → shots, with no network (pure functions over ``studio.spec``).

1. Names: jieba's part-of-speech tagger finds people (``nr``) and places (``ns``, plus nouns ending in a place
   suffix such as 馆/楼/殿). Nothing here adds words to jieba's dictionary: it is shared with search.
2. Units: each paragraph is cut into narration sentences and quoted lines (「…」 and “…”). A quoted line's
   speaker is the person named before a speech verb (说/道/问/喊…) around the quote, else the person mentioned
   last.
3. Shots: each quoted line is a shot; narration sentences are grouped up to ~:data:`NARRATION_CHARS`
   characters. A new location opens a scene with an establishing shot.
4. Shot type and camera move by rules: establishing for a new location; close-ups for dialogue and emotion;
   a push-in on tension words; a wide pan for movement. Duration ≈ spoken characters ÷ 4.5 + 2 s.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from lingjing.studio.spec import CameraMove, CharacterSpec, LineSpec, ShotSpec, ShotType, Storyboard

NARRATION_CHARS = 60
CHARS_PER_SECOND = 4.5
BASE_SECONDS = 2.0
MAX_SHOTS = 400

SPEECH_VERBS = "说|道|问|喊|叫|答|嚷|吼|骂|叹|笑道|回答|低语|喃喃|嘀咕|开口|告诉|解释|补充|追问|大喊|大叫|呼喊"
TENSION = ("突然", "猛地", "忽然", "心跳", "紧张", "危险", "杀", "血", "尖叫", "颤抖", "屏住", "寒光", "刀", "剑",
           "追", "逃", "爆炸", "死", "惊", "吓")
EMOTION = ("哭", "泪", "笑", "怒", "恨", "爱", "痛", "伤心", "哽咽", "叹息", "微笑", "愤怒", "害怕", "颤", "羞", "激动")
MOTION = ("跑", "奔", "冲", "飞", "走进", "走出", "赶", "骑", "追", "跳", "穿过", "离开", "来到", "进入")
PLACE_SUFFIXES = ("馆", "楼", "殿", "宫", "院", "府", "城", "村", "镇", "山", "湖", "河", "江", "街", "巷", "室",
                  "厅", "寺", "庙", "林", "园", "场", "站", "店", "桥", "岛", "谷", "洞", "港", "门", "塔", "阁",
                  "亭", "屋", "房", "校")
NOT_NAMES = frozenset({"先生", "小姐", "老师", "师父", "大人", "公子", "姑娘", "夫人", "少爷", "老爷", "明白", "知道"})

_QUOTE = re.compile(r"「([^」]*)」|“([^”]*)”|\"([^\"]*)\"")
_SENTENCE = re.compile(r"[^。！？!?…；;]+[。！？!?…；;]*")
_CJK = re.compile(r"^[\u4e00-\u9fff·]+$")
_SPOKEN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")

_lock = threading.Lock()
_tagger: Any = None


def _pos_tagger() -> Any:
    """jieba's POS tagger, loaded once per process (~1–2 s; shared with search's segmentation)."""
    global _tagger
    with _lock:
        if _tagger is None:
            import jieba
            import jieba.posseg

            jieba.setLogLevel(logging.WARNING)
            jieba.posseg.dt.tokenizer.initialize()
            _tagger = jieba.posseg.dt
        return _tagger


def spoken_chars(text: str) -> int:
    return len(_SPOKEN.findall(text))


def estimate_duration(text: str) -> float:
    """≈ characters ÷ 4.5 + 2 seconds (before real audio is known)."""
    return round(spoken_chars(text) / CHARS_PER_SECOND + BASE_SECONDS, 2)


def stable_seed(*parts: str) -> int:
    return zlib.crc32("\x1f".join(parts).encode()) & 0x7FFFFFFF


# --- names ------------------------------------------------------------------------------------------------


@dataclass
class Names:
    people: list[str] = field(default_factory=list)  # by first appearance
    places: list[str] = field(default_factory=list)

    def person_pattern(self) -> re.Pattern[str] | None:
        if not self.people:
            return None
        return re.compile("|".join(re.escape(p) for p in sorted(self.people, key=len, reverse=True)))

    def place_pattern(self) -> re.Pattern[str] | None:
        if not self.places:
            return None
        return re.compile("|".join(re.escape(p) for p in sorted(self.places, key=len, reverse=True)))


def find_names(text: str, *, known_people: tuple[str, ...] = ()) -> Names:
    """People and places in ``text``, in order of first appearance."""
    tagger = _pos_tagger()
    people: Counter[str] = Counter()
    places: Counter[str] = Counter()
    first: dict[str, int] = {}
    # Quoted speech is left out: names said aloud are often not present ("你见过张三吗").
    narration = _QUOTE.sub("。", text)
    for pos, token in enumerate(tagger.cut(narration)):
        word, flag = token.word, token.flag
        if not _CJK.match(word):
            continue
        if flag == "nr" and 2 <= len(word) <= 4 and word not in NOT_NAMES:
            people[word] += 1
            first.setdefault(word, pos)
        elif (flag == "ns" and 2 <= len(word) <= 8) or (
            flag in ("n", "s", "nz") and 2 <= len(word) <= 6 and word.endswith(PLACE_SUFFIXES)
        ):
            places[word] += 1
            first.setdefault(word, pos)
    for name in known_people:
        if name in text and name not in people:
            people[name] += 1
            first.setdefault(name, text.index(name))
    # A two-character name that is the tail of a longer one is the same person ("明" from "李明" is dropped
    # by the length rule; "李明" and "李明月" both stay).
    ordered_people = sorted(people, key=lambda w: first[w])
    ordered_places = [p for p in sorted(places, key=lambda w: first[w]) if p not in people]
    return Names(ordered_people, ordered_places)


# --- units ------------------------------------------------------------------------------------------------


@dataclass
class Unit:
    text: str
    speaker: str | None = None
    is_dialogue: bool = False
    location: str | None = None
    people: tuple[str, ...] = ()


def _speaker_before(lead: str, person: re.Pattern[str]) -> str | None:
    """The person who speaks in a lead-in such as "王芳抬起头，笑道：" (name nearest before a speech verb)."""
    best: str | None = None
    for match in re.finditer(rf"({person.pattern})[^。！？「」“”]{{0,14}}?(?:{SPEECH_VERBS})", lead):
        best = match.group(1)
    return best


def _speaker_after(tail: str, person: re.Pattern[str]) -> str | None:
    """"……」李明说。" — a name right after the quote followed by a speech verb."""
    match = re.match(rf"[，,\s]*({person.pattern})[^。！？「」“”]{{0,10}}?(?:{SPEECH_VERBS})", tail)
    return match.group(1) if match else None


def split_units(text: str, names: Names) -> list[Unit]:
    person = names.person_pattern()
    place = names.place_pattern()
    units: list[Unit] = []
    last_person: str | None = None
    location: str | None = None
    for paragraph in (p.strip() for p in text.split("\n")):
        if not paragraph:
            continue
        cursor = 0
        for match in _QUOTE.finditer(paragraph):
            lead = paragraph[cursor : match.start()]
            for sentence in _sentences(_drop_attribution(lead)):
                location, last_person = _narration(sentence, person, place, location, last_person, units)
            quoted = next(g for g in match.groups() if g is not None).strip()
            speaker = None
            if person is not None:
                speaker = _speaker_before(lead, person) or _speaker_after(paragraph[match.end() :], person)
            speaker = speaker or last_person
            if quoted:
                units.append(Unit(quoted, speaker, True, location, (speaker,) if speaker else ()))
            cursor = match.end()
            tail_speaker = _speaker_after(paragraph[cursor:], person) if person is not None else None
            if tail_speaker:  # skip the attribution clause "李明说。" so it is not narrated again
                clause = re.match(r"[^。！？]*[。！？]?", paragraph[cursor:])
                cursor += clause.end() if clause else 0
            if speaker:
                last_person = speaker
        for sentence in _sentences(paragraph[cursor:]):
            location, last_person = _narration(sentence, person, place, location, last_person, units)
    return units


_ATTRIBUTION = re.compile(rf"(?:^|[，,])(?P<clause>[^，,。！？]{{0,6}}(?:{SPEECH_VERBS}))\s*[：:，,]?\s*$")


def _drop_attribution(lead: str) -> str:
    """"王芳抬起头，笑道：" → "王芳抬起头": the speech-verb clause is not narrated, the quote is spoken."""
    match = _ATTRIBUTION.search(lead)
    return lead[: match.start()] if match else lead


def _sentences(text: str) -> list[str]:
    out = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0).strip(" ，,：:")
        if spoken_chars(sentence):
            out.append(sentence)
    return out


def _narration(
    sentence: str,
    person: re.Pattern[str] | None,
    place: re.Pattern[str] | None,
    location: str | None,
    last_person: str | None,
    units: list[Unit],
) -> tuple[str | None, str | None]:
    people = tuple(dict.fromkeys(person.findall(sentence))) if person is not None else ()
    places = place.findall(sentence) if place is not None else []
    if places:
        location = places[-1]
    if not people and last_person is not None:
        if any(w in sentence for w in ("两人", "他们", "她们", "二人", "众人")):
            recent = [p for u in reversed(units) for p in reversed(u.people) if p]
            people = tuple(dict.fromkeys(recent))[:2]
        elif any(w in sentence for w in ("他", "她")):
            people = (last_person,)
    if people:
        last_person = people[-1]
    units.append(Unit(sentence, None, False, location, people))
    return location, last_person


# --- shots ------------------------------------------------------------------------------------------------


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


def _shot_style(unit_text: str, *, dialogue: bool, new_location: bool, crowd: int) -> tuple[ShotType, CameraMove]:
    if new_location:
        return "establishing", "pan_right" if _has(unit_text, MOTION) else "pull_out"
    tense = _has(unit_text, TENSION)
    if dialogue:
        shot: ShotType = "extreme_close" if _has(unit_text, EMOTION) and tense else "close"
        return shot, "push_in" if tense else "static"
    if _has(unit_text, EMOTION):
        return "close", "push_in" if tense else "static"
    if tense:
        return "medium", "push_in"
    if _has(unit_text, MOTION):
        return "wide", "pan_left" if crowd > 1 else "pan_right"
    return ("medium" if crowd else "wide"), "static"


def build_prompt(shot: ShotSpec, *, style: str = "anime") -> str:
    """The image prompt of a shot: type, place, who (with their fixed features), what happens, style."""
    labels = {"establishing": "全景", "wide": "远景", "medium": "中景", "close": "近景", "extreme_close": "特写",
              "over_shoulder": "过肩镜头"}
    parts = [labels.get(shot.shot_type, "中景")]
    if shot.location:
        parts.append(f"地点：{shot.location}")
    for character in shot.characters:
        looks = "，".join(x for x in (character.static_features, character.dynamic_features) if x)
        parts.append(f"{character.name}（{looks}）" if looks else character.name)
    parts.append(shot.description)
    parts.append({"anime": "日系动漫风格", "sketch": "分镜草图"}.get(style, style))
    return "；".join(p for p in parts if p)


def make_storyboard(
    text: str,
    *,
    title: str = "",
    characters: tuple[CharacterSpec, ...] = (),
    style: str = "anime",
    start_index: int = 0,
    narration_chars: int = NARRATION_CHARS,
) -> Storyboard:
    """Split ``text`` into shots offline. ``characters`` are known characters (their features go into prompts)."""
    known = {c.name: c for c in characters}
    names = find_names(text, known_people=tuple(known))
    cast = {name: known.get(name) or CharacterSpec(name=name, seed=stable_seed("character", name))
            for name in names.people}
    units = split_units(text, names)

    shots: list[ShotSpec] = []
    current_location: str | None = None
    pending: list[Unit] = []

    def emit(group: list[Unit], *, dialogue: bool) -> None:
        if not group or len(shots) >= MAX_SHOTS:
            return
        nonlocal current_location
        location = group[-1].location or current_location
        new_location = location is not None and location != current_location
        current_location = location
        who = list(dict.fromkeys(p for u in group for p in u.people if p in cast))
        body = "".join(u.text for u in group)
        shot_type, move = _shot_style(body, dialogue=dialogue, new_location=new_location, crowd=len(who))
        lines = tuple(LineSpec(u.text, u.speaker if u.is_dialogue else None) for u in group)
        description = body if not dialogue else f"{group[0].speaker or '某人'}说：「{body}」"
        spoken = "".join(line.text for line in lines)
        index = start_index + len(shots)
        shot = ShotSpec(
            index=index,
            description=description,
            shot_type=shot_type,
            camera_move=move,
            location=location or "",
            characters=tuple(cast[n] for n in who),
            lines=lines,
            duration=estimate_duration(spoken),
            seed=stable_seed(title, str(index), body),
        )
        shots.append(replace(shot, prompt=build_prompt(shot, style=style)))

    for unit in units:
        if unit.is_dialogue:
            emit(pending, dialogue=False)
            pending = []
            emit([unit], dialogue=True)
            continue
        changes_place = unit.location is not None and unit.location != (pending[-1].location if pending else None)
        if pending and (changes_place or sum(len(u.text) for u in pending) + len(unit.text) > narration_chars):
            emit(pending, dialogue=False)
            pending = []
        pending.append(unit)
    emit(pending, dialogue=False)

    used_places = list(dict.fromkeys(s.location for s in shots if s.location))
    return Storyboard(title=title, shots=shots, characters=list(cast.values()), locations=used_places)


def storyboard_to_dict(board: Storyboard) -> dict[str, Any]:
    """JSON form (``storyboard.json`` of the CLI, the API)."""

    def character(c: CharacterSpec) -> dict[str, Any]:
        return {"name": c.name, "static_features": c.static_features, "dynamic_features": c.dynamic_features,
                "seed": c.seed, "voice": c.voice}

    return {
        "title": board.title,
        "characters": [character(c) for c in board.characters],
        "locations": list(board.locations),
        "shots": [
            {
                "index": s.index,
                "description": s.description,
                "shot_type": s.shot_type,
                "camera_move": s.camera_move,
                "location": s.location,
                "characters": [c.name for c in s.characters],
                "lines": [{"text": line.text, "speaker": line.speaker} for line in s.lines],
                "duration": s.duration,
                "prompt": s.prompt,
                "seed": s.seed,
            }
            for s in board.shots
        ],
    }
