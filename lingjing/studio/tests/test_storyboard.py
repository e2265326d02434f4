from __future__ import annotations

from lingjing.studio.spec import CharacterSpec
from lingjing.studio.storyboard import estimate_duration, find_names, make_storyboard, spoken_chars

TEXT = """李明走进了杭州的一家茶馆。窗外下着雨，茶馆里只有几个客人。
王芳抬起头，笑道：「你终于来了。」
「路上耽搁了。」李明说。
“坐吧。”
他在她对面坐下，突然听见门外传来一声尖叫。
两人冲出茶馆，沿着西湖一路追去。"""


def test_people_and_places_are_found() -> None:
    names = find_names(TEXT)
    assert names.people == ["李明", "王芳"]
    assert names.places[:2] == ["杭州", "茶馆"] and "西湖" in names.places


def test_dialogue_is_attributed_and_separated_from_narration() -> None:
    board = make_storyboard(TEXT, title="夜雨")
    dialogue = [(line.speaker, line.text) for shot in board.shots for line in shot.lines if line.speaker]
    assert dialogue == [
        ("王芳", "你终于来了。"),  # name before 笑道
        ("李明", "路上耽搁了。"),  # name after the quote, before 说
        ("李明", "坐吧。"),  # no verb: the person mentioned last
    ]
    narration = [line.text for shot in board.shots for line in shot.lines if line.speaker is None]
    assert "王芳抬起头" in narration  # the attribution clause "笑道：" is not narrated
    assert not any("李明说" in text for text in narration)
    assert [c.name for c in board.characters] == ["李明", "王芳"]


def test_shot_types_camera_moves_and_scenes() -> None:
    board = make_storyboard(TEXT, title="夜雨")
    first, last = board.shots[0], board.shots[-1]
    assert (first.shot_type, first.location) == ("establishing", "茶馆")
    assert last.shot_type == "establishing" and last.location == "西湖"  # a new place opens a scene
    dialogue = [s for s in board.shots if any(line.speaker for line in s.lines)]
    assert {s.shot_type for s in dialogue} == {"close"}
    scream = next(s for s in board.shots if "尖叫" in s.description)
    assert scream.camera_move == "push_in"
    assert [c.name for c in scream.characters] == ["李明"]  # 他 → the person mentioned last
    assert board.locations == ["茶馆", "西湖"]
    assert [s.index for s in board.shots] == list(range(len(board.shots)))


def test_durations_follow_chars_over_4_5_plus_2() -> None:
    assert spoken_chars("你终于来了。") == 5
    assert estimate_duration("你终于来了。") == round(5 / 4.5 + 2, 2)
    board = make_storyboard(TEXT)
    for shot in board.shots:
        spoken = "".join(line.text for line in shot.lines)
        assert shot.duration == round(spoken_chars(spoken) / 4.5 + 2, 2)


def test_known_characters_bring_their_features_into_prompts() -> None:
    li = CharacterSpec(name="李明", static_features="短发，高个", dynamic_features="灰色长衫", seed=7)
    board = make_storyboard(TEXT, characters=(li,), style="anime")
    shot = next(s for s in board.shots if s.characters and s.characters[0].name == "李明")
    assert shot.characters[0] is li
    assert "李明（短发，高个，灰色长衫）" in shot.prompt and "日系动漫风格" in shot.prompt


def test_same_text_same_storyboard() -> None:
    assert make_storyboard(TEXT, title="t") == make_storyboard(TEXT, title="t")
