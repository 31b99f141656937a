"""understand(): roles, normalisation, the JSON shape, confidence and canonical() output."""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.contract import TASKS
from jafm_robot.language.generator import all_phrasings, generate
from jafm_robot.language.goal import Goal, Part
from jafm_robot.language.templates import COLOR_WORDS, SHAPE_WORDS, TEMPLATES, bin_phrase, part_phrase
from jafm_robot.language.understanding import canonical, understand


def test_who_goes_where() -> None:
    a = understand("put the red cube in the blue bin")
    b = understand("put the blue cube in the red bin")
    assert (a.part, a.bin) == (("red", "cube"), "blue") and (b.part, b.bin) == (("blue", "cube"), "red")
    for text in ("青い箱に赤いキューブを入れて", "into the blue bin, put the red cube", "赤いキューブは青い箱へ",
                 "red cube -> blue bin", "赤キューブ→青箱", "赤いcubeをblue binに"):
        u = understand(text)
        assert u.goal == Goal("PickPlace", Part("red", "cube"), "blue"), (text, u.to_dict())
    u = understand("青い円柱に赤いキューブを重ねて")
    assert (u.task, u.part, u.base) == ("Stack", ("red", "cube"), ("blue", "cylinder"))
    u = understand("place the blue cylinder under the red cube")
    assert (u.task, u.part, u.base) == ("Stack", ("red", "cube"), ("blue", "cylinder"))


def test_box_is_a_bin_as_destination_and_a_cube_as_object() -> None:
    assert understand("put the red cube in the blue box").goal == Goal("PickPlace", Part("red", "cube"), "blue")
    assert understand("put the red box in the blue bin").goal == Goal("PickPlace", Part("red", "cube"), "blue")
    assert understand("赤い箱を青いかごに入れて").goal == Goal("PickPlace", Part("red", "cube"), "blue")


def test_normalisation_typos_and_widths() -> None:
    for text in ("ＰＵＴ　ＴＨＥ　ＲＥＤ　ＣＵＢＥ　ＩＮ　ＴＨＥ　ＢＬＵＥ　ＢＩＮ", "Put   the RED cube, in the blue bin!!",
                 "put the red cube in the blue baskte", "赤いｷｭｰﾌﾞを青い箱に入れて"):
        assert understand(text).goal == Goal("PickPlace", Part("red", "cube"), "blue"), text
    u = understand("pick up the yelow cylindr and place it in the green bin")
    assert u.goal == Goal("PickPlace", Part("yellow", "cylinder"), "green") and u.confidence < 1


def test_to_dict_shapes() -> None:
    d = understand("put the red cube in the blue bin").to_dict()
    assert d == {"understood": True, "task": "PickPlace", "part": {"color": "red", "shape": "cube"}, "bin": "blue",
                 "base": None, "confidence": 1.0, "language": "en"}
    d = understand("weld the bracket").to_dict()
    assert d["understood"] is False and d["reason"] and d["code"] == "unserved_task"
    assert understand("赤いcubeをblue binに").language == "mixed"


def test_confidence_is_lower_for_less_certain_readings() -> None:
    clean = understand("put the red cube in the blue bin").confidence
    assert clean == 1.0
    assert understand("put the red cube in the blue baskte").confidence < clean
    assert understand("red cube -> blue bin").confidence < clean  # no word named the task
    assert 0 < understand("blorp put the red cube in the blue bin zork").confidence < clean


def _goals(rng: np.random.Generator, task: str, n: int) -> list[Goal]:
    colors, shapes = list(COLOR_WORDS["en"]), list(SHAPE_WORDS["en"])
    out = []
    while len(out) < n:
        p = Part(colors[rng.integers(8)], shapes[rng.integers(4)])
        q = Part(colors[rng.integers(8)], shapes[rng.integers(4)])
        if task == "Sort":
            out.append(Goal(task))
        elif task == "Reach":
            out.append(Goal(task, p))
        elif task == "Stack" and p != q:
            out.append(Goal(task, p, base=q))
        elif task in ("PickPlace", "ConveyorPick"):
            out.append(Goal(task, p, q.color))
    return out


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("task", TASKS)
def test_generator_round_trips(task: str, lang: str) -> None:
    rng = np.random.default_rng(hash((task, lang)) % 2**32)
    bad, total = [], 0
    for goal in _goals(rng, task, 30):
        for text in generate(task, lang, goal, rng, 20):
            total += 1
            u = understand(text)
            if u.goal != goal:
                bad.append(f"{text!r}: {u.to_dict()}")
    assert not bad, f"{len(bad)}/{total}:\n" + "\n".join(bad[:20])


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("task", TASKS)
def test_generator_is_varied(task: str, lang: str) -> None:
    goal = _goals(np.random.default_rng(1), task, 1)[0]
    texts = generate(task, lang, goal, np.random.default_rng(2), 3000)
    distinct = len(set(texts))
    assert distinct >= (2000 if task != "Sort" else 500), f"{task}/{lang}: {distinct} distinct"
    first = [next(iter(all_phrasings(task, lang, goal)))]
    assert understand(first[0]).goal == goal


def test_env_templates_are_a_subset_and_parse() -> None:
    goal = Goal("PickPlace", Part("red", "cube"), "blue")
    texts = set(generate("PickPlace", "en", goal, np.random.default_rng(0), 3000))
    assert "put the red cube in the blue bin" in texts
    for task, by_lang in TEMPLATES.items():
        g = _goals(np.random.default_rng(3), task, 1)[0]
        for lang, templates in by_lang.items():
            for t in templates:
                slots = {}
                if g.part:
                    slots["part"] = slots["top"] = part_phrase(*g.part, lang)
                if g.base:
                    slots["base"] = part_phrase(*g.base, lang)
                if g.bin:
                    slots["bin"] = bin_phrase(g.bin, lang)
                assert understand(t.format(**slots)).goal == g, t


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_canonical_is_an_env_template(lang: str) -> None:
    from jafm_robot.envs.instructions import make_instruction  # the env's own text, for comparison

    for task in TASKS:
        for goal in _goals(np.random.default_rng(4), task, 3):
            u = understand(canonical(goal, "en"))
            text = canonical(u, lang)
            slots = {}
            if goal.part:
                slots["part"] = slots["top"] = part_phrase(*goal.part, lang)
            if goal.base:
                slots["base"] = part_phrase(*goal.base, lang)
            if goal.bin:
                slots["bin"] = bin_phrase(goal.bin, lang)
            assert text == make_instruction(task, lang, 0, **slots)
            assert understand(text).goal == goal
