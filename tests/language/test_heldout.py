"""Hand-written phrasings nobody wrote rules from: accepted, and read with the right roles."""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.contract import TASKS
from jafm_robot.language.generator import generate
from jafm_robot.language.goal import fill
from jafm_robot.language.understanding import normalize, understand
from tests.language.conftest import GOALS, read_phrasings


@pytest.mark.parametrize("task", TASKS)
def test_data_has_enough_phrasings(task: str) -> None:
    lines = read_phrasings(task)
    for lang in ("en", "ja"):
        assert sum(lang == x for x, _ in lines) >= 12, f"{task}: fewer than 12 {lang} phrasings"


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("task", TASKS)
def test_heldout_phrasings_understood(task: str, lang: str) -> None:
    refused, wrong, total = [], [], 0
    for x, template in read_phrasings(task):
        if x != lang:
            continue
        for goal in GOALS[task]:
            text = fill(template, lang, goal)
            u = understand(text)
            total += 1
            if not u.understood:
                refused.append(f"{text!r}: {u.reason}")
            elif u.goal != goal:
                wrong.append(f"{text!r}: got {u.goal}, want {goal}")
    assert len(refused) <= 0.01 * total, f"{len(refused)}/{total} refused:\n" + "\n".join(refused)
    correct = total - len(refused) - len(wrong)
    assert correct >= 0.99 * total, f"{len(wrong)}/{total} misread:\n" + "\n".join(wrong)


@pytest.mark.parametrize("task", TASKS)
def test_heldout_phrasings_are_not_generator_outputs(task: str) -> None:
    """No generator rule may produce a held-out line (exact string after normalisation)."""
    goal = GOALS[task][0]
    for lang in ("en", "ja"):
        sample = {normalize(s) for s in generate(task, lang, goal, np.random.default_rng(7), 6000)}
        hits = [t for x, t in read_phrasings(task) if x == lang and normalize(fill(t, lang, goal)) in sample]
        assert not hits, f"{task}/{lang}: the generator writes held-out phrasings: {hits}"
