"""The structured goal an instruction means, and the slot filler that turns a goal into text.

A :class:`Goal` is what the front end extracts and what the generator and tests start from. It is
deliberately smaller than an env's ``goal`` dict (no body ids, no positions): only what a sentence
can say.

* ``task``: one of :data:`jafm_robot.contract.TASKS`.
* ``part``: the part to move (PickPlace, ConveyorPick), to reach (Reach) or the *top* of a stack
  (Stack); ``None`` for Sort.
* ``bin``: the destination bin's colour (PickPlace, ConveyorPick), else ``None``.
* ``base``: the part a Stack goes onto, else ``None``.

Colours and shapes are the canonical names of ``templates.COLOR_WORDS`` / ``templates.SHAPE_WORDS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from jafm_robot.contract import TASKS
from jafm_robot.language.templates import COLOR_WORDS, SHAPE_WORDS, bin_phrase, part_phrase


class Part(NamedTuple):
    """A part named by colour and shape, e.g. ``Part("red", "cube")`` (a tuple, so it compares with
    the ``(color, shape)`` pairs a scene lists)."""

    color: str
    shape: str

    def to_dict(self) -> dict[str, str]:
        return {"color": self.color, "shape": self.shape}


#: the slots each task's goal must have (and no others)
TASK_SLOTS: dict[str, tuple[str, ...]] = {
    "Reach": ("part",),
    "PickPlace": ("part", "bin"),
    "ConveyorPick": ("part", "bin"),
    "Stack": ("part", "base"),
    "Sort": (),
}


@dataclass(frozen=True)
class Goal:
    """What an instruction asks for (see the module docstring for the meaning of each slot)."""

    task: str
    part: Part | None = None
    bin: str | None = None
    base: Part | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        need = TASK_SLOTS[self.task]
        for slot in ("part", "bin", "base"):
            present = getattr(self, slot) is not None
            if present != (slot in need):
                raise ValueError(f"a {self.task} goal {'needs' if slot in need else 'has no'} {slot!r}")
        for slot in ("part", "base"):
            p = getattr(self, slot)
            if p is not None:
                object.__setattr__(self, slot, Part(*p))  # accept a plain (color, shape) tuple
                if p[0] not in COLOR_WORDS["en"] or p[1] not in SHAPE_WORDS["en"]:
                    raise ValueError(f"unknown part {tuple(p)!r}")
        if self.bin is not None and self.bin not in COLOR_WORDS["en"]:
            raise ValueError(f"unknown bin colour {self.bin!r}")

    @classmethod
    def from_env(cls, task: str, env_goal: dict) -> Goal:
        """The goal of an env episode (``env.unwrapped.task.goal``; part names are ``color_shape``)."""
        def part(name: str) -> Part:
            color, shape = name.split("_")[:2]
            return Part(color, shape)

        if task == "Sort":
            return cls(task)
        if task == "Stack":
            return cls(task, part=part(env_goal["top"]), base=part(env_goal["base"]))
        if task == "Reach":
            return cls(task, part=part(env_goal["part"]))
        return cls(task, part=part(env_goal["part"]), bin=env_goal["bin"])


#: the colour as a noun, the filler of a ``{bin}`` slot in hand-written templates ("the {bin}
#: basket", "{bin}の箱"): Japanese uses the noun form (青の箱, 黄色の箱), not the adjective.
COLOR_NOUNS: dict[str, dict[str, str]] = {
    "en": {c: c for c in COLOR_WORDS["en"]},
    "ja": {"red": "赤", "green": "緑", "blue": "青", "yellow": "黄色", "orange": "オレンジ", "white": "白",
           "black": "黒", "purple": "紫"},
}


def parse_parts(text: str) -> list[tuple[str, str]]:
    """``"red cube, blue cylinder"`` -> ``[("red", "cube"), ("blue", "cylinder")]``: the parts on a
    table as a user or a launch file lists them (``understand --scene-parts``, ``policy_node``'s
    ``scene_parts``); ValueError for an item that is not a known colour and shape."""
    parts = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        words = item.lower().split()
        if len(words) != 2 or words[0] not in COLOR_WORDS["en"] or words[1] not in SHAPE_WORDS["en"]:
            raise ValueError(f"{item!r} is not 'colour shape' (colours: {', '.join(COLOR_WORDS['en'])}; "
                             f"shapes: {', '.join(SHAPE_WORDS['en'])})")
        parts.append((words[0], words[1]))
    return parts


def slot_phrases(goal: Goal, language: str, bin_as: str = "phrase") -> dict[str, str]:
    """The template slots a goal fills: ``part``/``top`` and ``base`` as the env writes parts
    (``red cube`` / ``赤いキューブ``); ``bin`` as the env's bin phrase (``blue bin`` / ``青い箱``), or
    with ``bin_as="colour"`` the colour noun only (``blue`` / ``青``)."""
    slots: dict[str, str] = {}
    if goal.part is not None:
        slots["part"] = slots["top"] = part_phrase(goal.part.color, goal.part.shape, language)
    if goal.base is not None:
        slots["base"] = part_phrase(goal.base.color, goal.base.shape, language)
    if goal.bin is not None:
        slots["bin"] = COLOR_NOUNS[language][goal.bin] if bin_as == "colour" else bin_phrase(goal.bin, language)
    return slots


def fill(template: str, language: str, goal: Goal) -> str:
    """Fill a hand-written phrasing template with ``goal``.

    Fill rule (the one ``tests/data/README.md`` documents): ``{part}`` and ``{top}`` take the goal's
    part phrase, ``{base}`` the base's, both as the env writes them (``red cube`` / ``赤いキューブ``);
    ``{bin}`` takes the bin's colour *noun* only (``blue`` / ``青``), so the template itself chooses
    the bin word (``the {bin} basket``, ``{bin}の箱``, ``{bin}のトレイ``).
    """
    slots = slot_phrases(goal, language, bin_as="colour")
    try:
        return template.format(**slots)
    except KeyError as e:
        raise ValueError(f"template {template!r} has slot {e} that a {goal.task} goal does not fill") from e
