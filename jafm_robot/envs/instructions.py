"""Instruction phrasings, as data: templates per task and language plus the slot words.

Each task has >= 5 templates in English and in Japanese. The env picks one with the episode's seed
(so a seed always gives the same text); :func:`phrasings` exposes the template lists so the policy
work can hold some phrasings out of training and test generalisation to unseen wording.

Slots: ``{part}``, ``{bin}``, ``{top}``, ``{base}`` are filled with colour + shape / bin phrases
built from the word tables (Japanese adjectives precede the noun: 赤いキューブ). The data lives in
:mod:`jafm_robot.language.templates` (so the instruction-understanding front end can use it without
importing the envs); this module re-exports it and keeps every public name.
"""

from __future__ import annotations

import numpy as np

from jafm_robot.contract import LANGUAGES, TASKS
from jafm_robot.language.templates import (
    BIN_WORD,
    COLOR_WORDS,
    SHAPE_WORDS,
    TEMPLATES,
    bin_phrase,
    part_phrase,
)

__all__ = [
    "BIN_WORD",
    "COLOR_WORDS",
    "SHAPE_WORDS",
    "TEMPLATES",
    "bin_phrase",
    "check_language",
    "choose_template",
    "make_instruction",
    "part_phrase",
    "phrasings",
]


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    return language


def phrasings(task: str, language: str) -> list[str]:
    """The instruction templates of ``task`` in ``language`` (a copy; order is stable)."""
    if task not in TEMPLATES:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return list(TEMPLATES[task][check_language(language)])


def make_instruction(task: str, language: str, index: int, **slots: str) -> str:
    """Fill template ``index`` (mod the count) of ``task``/``language`` with ready-made slot phrases."""
    ts = phrasings(task, language)
    return ts[index % len(ts)].format(**slots)


def choose_template(task: str, language: str, rng: np.random.Generator) -> int:
    return int(rng.integers(len(phrasings(task, language))))
