"""Held-out instruction phrasings: train on some templates per task and language, test on the rest.

A student that only ever saw "put the red cube in the blue bin" and succeeds on "transfer the red
cube to the blue bin" has learned the instruction, not the string. The split is by *template*
(``instructions.phrasings(task, lang)``): the last ``holdout`` templates of every task/language are
never used for training data; evaluation on them reports generalisation to unseen wording.

The env picks a template from the episode seed. A training episode whose seed lands on a held-out
template is re-issued with the same scene (same seed) and a training template (the env's
``options["instruction"]`` override), so every seed still yields an episode; an evaluation episode
on held-out phrasings does the opposite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jafm_robot.envs.instructions import make_instruction, phrasings


@dataclass(frozen=True)
class PhrasingSplit:
    """Template indices used for training and held out, for one task and language."""

    task: str
    language: str
    train: tuple[int, ...]
    held_out: tuple[int, ...]

    def texts(self) -> dict[str, list[str]]:
        t = phrasings(self.task, self.language)
        return {"train": [t[i] for i in self.train], "held_out": [t[i] for i in self.held_out]}


def split_phrasings(task: str, language: str, holdout: int) -> PhrasingSplit:
    """Hold out the last ``holdout`` templates (0 = none); at least one template must stay for training."""
    n = len(phrasings(task, language))
    if holdout < 0 or holdout >= n:
        raise ValueError(f"--holdout-phrasings must be in [0, {n - 1}] for {task}/{language} ({n} templates), got {holdout}")
    return PhrasingSplit(task, language, tuple(range(n - holdout)), tuple(range(n - holdout, n)))


def template_regex(template: str) -> re.Pattern[str]:
    """A regex matching any filling of ``template`` (each ``{slot}`` becomes ``.+``)."""
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("^" + ".+".join(re.escape(s) for s in parts) + "$")


def matches_any(text: str, templates: list[str]) -> bool:
    """True when ``text`` is a filling of one of ``templates``."""
    return any(template_regex(t).match(text) for t in templates)


def reset_with_phrasing(env: Any, seed: int, language: str, allowed: tuple[int, ...]) -> tuple[dict, dict, int]:
    """``env.reset`` for ``seed`` whose instruction comes from an ``allowed`` template.

    Returns (obs, info, template index). The env's own choice is kept when allowed; otherwise the
    same scene is rebuilt (same seed) with template ``allowed[seed % len(allowed)]`` filled with the
    scene's slot words.
    """
    if not allowed:
        raise ValueError("no allowed phrasing templates")
    obs, info = env.reset(seed=int(seed), options={"language": language})
    idx = int(info.get("template_index", -1))
    if idx in allowed:
        return obs, info, idx
    text = instruction_for(env, language, allowed[int(seed) % len(allowed)])
    obs, info = env.reset(seed=int(seed), options={"language": language, "instruction": text})
    return obs, info, allowed[int(seed) % len(allowed)]


def instruction_for(env: Any, language: str, template_index: int) -> str:
    """Template ``template_index`` filled with the slot words of the env's current scene (after reset)."""
    task = env.unwrapped.task
    return make_instruction(task.name, language, template_index, **task.slots(language))


__all__ = ["PhrasingSplit", "instruction_for", "matches_any", "reset_with_phrasing", "split_phrasings", "template_regex"]
