"""Shared data for the language tests: the hand-written files under tests/data and fixed goals."""

from __future__ import annotations

from pathlib import Path

import pytest

from jafm_robot.language.goal import Goal, Part

DATA = Path(__file__).resolve().parent.parent / "data"

#: the fixed table of tests/data/README.md (a PickPlace layout of the default factory scene)
SCENE = [("red", "cube"), ("green", "cylinder"), ("blue", "block"), ("yellow", "cube"), ("red", "block")]

#: several goals per task, so the who-goes-where of every phrasing is checked both ways round
GOALS: dict[str, list[Goal]] = {
    "PickPlace": [Goal("PickPlace", Part("red", "cube"), "blue"), Goal("PickPlace", Part("blue", "cube"), "red"),
                  Goal("PickPlace", Part("yellow", "cylinder"), "green"), Goal("PickPlace", Part("purple", "bolt"), "yellow"),
                  Goal("PickPlace", Part("white", "block"), "orange")],
    "ConveyorPick": [Goal("ConveyorPick", Part("red", "cube"), "blue"), Goal("ConveyorPick", Part("green", "block"), "red"),
                     Goal("ConveyorPick", Part("white", "bolt"), "black"), Goal("ConveyorPick", Part("orange", "cylinder"), "green")],
    "Stack": [Goal("Stack", Part("red", "cube"), base=Part("blue", "block")),
              Goal("Stack", Part("blue", "block"), base=Part("red", "cube")),
              Goal("Stack", Part("yellow", "cylinder"), base=Part("green", "cube")),
              Goal("Stack", Part("black", "bolt"), base=Part("orange", "block"))],
    "Reach": [Goal("Reach", Part("red", "cube")), Goal("Reach", Part("yellow", "cylinder")),
              Goal("Reach", Part("orange", "bolt")), Goal("Reach", Part("purple", "block"))],
    "Sort": [Goal("Sort")],
}


def read_phrasings(task: str) -> list[tuple[str, str]]:
    """(lang, template) lines of tests/data/phrasings/<task>.tsv."""
    out = []
    for line in (DATA / "phrasings" / f"{task}.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            lang, template = line.split("\t")
            out.append((lang, template))
    return out


def read_refusals() -> list[tuple[str, str, str]]:
    """(class, lang, text) lines of tests/data/refusals.tsv (the text may be empty or blank)."""
    out = []
    for line in (DATA / "refusals.tsv").read_text(encoding="utf-8").split("\n"):
        if line:
            cls, lang, text = line.split("\t", 2)
            out.append((cls, lang, text))
    return out


@pytest.fixture(scope="session")
def refusals() -> list[tuple[str, str, str]]:
    return read_refusals()
