"""What cannot be grounded is refused, with a reason: tests/data/refusals.tsv and the structural cases."""

from __future__ import annotations

from collections import defaultdict

import pytest

from jafm_robot.language.understanding import understand
from tests.language.conftest import SCENE

CLASSES = ("empty", "other_language", "gibberish", "unserved_task", "unknown_vocabulary", "absent_part")


def test_refusal_data_covers_every_class(refusals) -> None:
    assert len(refusals) >= 220
    for cls in CLASSES:
        for lang in ("en", "ja"):
            assert any(c == cls and x == lang for c, x, _ in refusals), f"no {cls}/{lang} line"


def test_refusal_rates(refusals) -> None:
    by_class: dict[str, list[str]] = defaultdict(list)
    failures: list[str] = []
    for cls, lang, text in refusals:
        u = understand(text, scene_parts=SCENE)
        by_class[cls].append(text)
        if u.understood:
            failures.append(f"{cls}/{lang} {text!r} accepted as {u.to_dict()}")
        else:
            assert u.reason, f"{text!r}: refused without a reason"
    rate = 1 - len(failures) / len(refusals)
    absent = [f for f in failures if f.startswith("absent_part")]
    assert rate >= 0.98, f"refusal rate {rate:.3f}:\n" + "\n".join(failures)
    assert 1 - len(absent) / len(by_class["absent_part"]) >= 0.90, "\n".join(absent)


def test_refusal_codes_name_the_class(refusals) -> None:
    """The refusal says why: its code matches the data's class for nearly every line."""
    wrong = []
    for cls, lang, text in refusals:
        u = understand(text, scene_parts=SCENE)
        if not u.understood and u.code != cls:
            wrong.append(f"{cls}/{lang} {text!r}: {u.code} ({u.reason})")
    assert len(wrong) <= 0.05 * len(refusals), "\n".join(wrong)


@pytest.mark.parametrize("text", [
    "把红色方块放进蓝色箱子", "请把绿色圆柱放到红色盒子里", "红色方块放进蓝色箱子",
])
def test_chinese_refused_japanese_accepted(text: str) -> None:
    assert understand(text).code == "other_language"
    assert understand("赤いキューブを青い箱に入れて").understood
    assert understand("赤円柱→青箱").understood  # kanji-only Japanese shorthand


@pytest.mark.parametrize("text,code", [
    ("put the red cube and the blue cylinder in the green bin", "ambiguous"),
    ("stack the red cube and the blue block", "ambiguous"),
    ("赤いキューブと青いブロックを重ねて", "ambiguous"),
    ("put the red cube in the bin", "incomplete"),
    ("put the red cube", "incomplete"),
    ("赤いキューブを入れて", "incomplete"),
    ("put the red part in the blue bin", "ambiguous"),  # no scene to tell which red part
    ("stack the red cube on the red cube", "ambiguous"),
])
def test_structural_refusals(text: str, code: str) -> None:
    u = understand(text)
    assert not u.understood and u.code == code, u.to_dict()


def test_scene_checks_parts_and_resolves_partial_names() -> None:
    assert understand("put the purple bolt in the blue bin", scene_parts=SCENE).code == "absent_part"
    u = understand("stack the yellow cube on the blue cylinder", scene_parts=SCENE)
    assert u.code == "absent_part" and "blue cylinder" in u.reason  # the Stack base is checked too
    u = understand("put the green part in the red bin", scene_parts=SCENE)  # one green part on the table
    assert u.understood and u.part == ("green", "cylinder") and u.confidence < 1
    assert understand("put the red part in the blue bin", scene_parts=SCENE).code == "ambiguous"
    assert understand("put the red cube in the yellow bin", scene_bins=["red", "green", "blue"]).code == "absent_part"


def test_served_tasks_and_default_task() -> None:
    only_pp = ("PickPlace",)
    assert understand("stack the red cube on the blue block", tasks=only_pp).code == "unserved_task"
    assert understand("move the gripper above the red cube", tasks=only_pp).code == "unserved_task"
    assert understand("put the red cube in the blue bin", tasks=only_pp, default_task="PickPlace").understood
    # a conveyor-only policy reads a plain part-to-bin request as its task
    u = understand("put the red cube in the blue bin", tasks=("ConveyorPick",), default_task="ConveyorPick")
    assert u.understood and u.task == "ConveyorPick"
    assert understand("take the red cube off the belt into the blue bin", tasks=only_pp).code == "unserved_task"
