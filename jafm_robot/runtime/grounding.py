"""Instruction grounding between a user and a policy: understood once, fed canonically, or refused.

A policy learned a handful of instruction templates per language; people type anything. Every host
(``eval``, ``run``, ``demo``, ``policy_node``) passes the text through one :class:`InstructionGate`
when it arrives (not on every frame): :func:`jafm_robot.language.understand` turns it into a goal
(task, part, bin, base) for the tasks the policy serves, and the network is fed the canonical
template of that goal in a language it was trained on (:func:`jafm_robot.language.canonical`), so
a paraphrase reaches it as the wording it learned; a sentence that already is one of its learned
templates (filled with the same goal) is fed unchanged. What cannot be grounded (empty text, another
language, gibberish, a task the policy does not serve, a word outside its vocabulary, a part that
is not on the table) is refused with a reason, and the host holds the arm instead of acting on it.

NumPy and the language package only: the runtime needs no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jafm_robot.contract import decode_instruction, encode_instruction
from jafm_robot.language import Understanding, canonical, understand
from jafm_robot.language.goal import slot_phrases
from jafm_robot.language.templates import TEMPLATES

ScenePart = tuple[str, str]  # (colour, shape)


@dataclass(frozen=True)
class Grounding:
    """What became of one instruction: the understanding, and the text the network is fed
    (``None`` when refused)."""

    text: str
    understanding: Understanding
    feed: str | None

    @property
    def refused(self) -> bool:
        return self.feed is None

    @property
    def reason(self) -> str | None:
        return self.understanding.reason if self.refused else None

    def readout(self) -> dict[str, Any]:
        """The JSON users see (``understand``, ``run --json``, ``/instruction/understood``)."""
        return {"instruction": self.text, **self.understanding.to_dict(), "refused": self.refused,
                **({"fed": self.feed} if self.feed is not None else {})}


class InstructionGate:
    """Grounds instructions for one policy (its ``tasks`` and ``languages`` from its metadata).

    Results are cached per (text, scene), so a host may call :meth:`ground` on every frame and
    the parser runs once per instruction."""

    def __init__(self, tasks: Sequence[str], languages: Sequence[str]) -> None:
        if not tasks or not languages:
            raise ValueError("a policy serves at least one task and one language")
        self.tasks = tuple(tasks)
        self.languages = tuple(languages)
        self._cache: dict[tuple[Any, ...], Grounding] = {}

    def ground(self, text: str, scene_parts: Sequence[ScenePart] | None = None,
               scene_bins: Sequence[str] | None = None) -> Grounding:
        """Ground ``text``; with ``scene_parts``/``scene_bins`` (what is on the table) a named part
        or bin that is not there is refused too."""
        parts = tuple(sorted(tuple(p) for p in scene_parts)) if scene_parts is not None else None
        bins = tuple(sorted(scene_bins)) if scene_bins is not None else None
        key = (text, parts, bins)
        if key not in self._cache:
            if len(self._cache) > 256:  # a host fed an endless stream of new texts stays bounded
                self._cache.clear()
            self._cache[key] = self._ground(text, parts, bins)
        return self._cache[key]

    def _ground(self, text: str, parts: tuple[ScenePart, ...] | None, bins: tuple[str, ...] | None) -> Grounding:
        u = understand(text, tasks=self.tasks, scene_parts=parts, scene_bins=bins,
                       default_task=self.tasks[0] if len(self.tasks) == 1 else None)
        if not u.understood:
            return Grounding(text, u, None)
        # the canonical text in the language the user wrote; mixed text in the policy's first language
        lang = u.language if u.language in self.languages else (self.languages[0] if u.language == "mixed" else None)
        if lang is None:
            refusal = Understanding(False, reason=f"the policy understands {', '.join(self.languages)}, not "
                                    f"{u.language}", code="other_language", language=u.language)
            return Grounding(text, refusal, None)
        # a sentence the policy learned word for word (one of its task's templates, filled with this
        # goal) is fed as it is: the network saw each template, not only the canonical one
        goal = u.goal
        assert goal is not None
        slots = slot_phrases(goal, lang)
        if text.strip() in {t.format(**slots) for t in TEMPLATES[goal.task][lang]}:
            return Grounding(text, u, text.strip())
        return Grounding(text, u, canonical(u, lang))


def scene_of(env: Any) -> tuple[list[ScenePart], list[str]]:
    """The parts (colour, shape) and bin colours on a simulated table (privileged state: what a
    perception module would report on a real cell)."""
    world = env.unwrapped.world
    return [(p.color, p.shape) for p in world.parts], [b.color for b in world.bins.values()]


def hold_chunk(pose: np.ndarray, chunk_len: int) -> np.ndarray:
    """A chunk that keeps the arm at ``pose``: what a host commands instead of acting on a refusal."""
    return np.repeat(np.asarray(pose, np.float32)[None, :], int(chunk_len), axis=0)


class PolicyWrapper:
    """A loaded policy seen through a wrapper: its facts (``meta``, ``kind``, ``chunk_len``,
    ``action_dt``) pass through, ``predict`` is the wrapper's own."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.meta = policy.meta
        self.kind = policy.kind

    @property
    def chunk_len(self) -> int:
        return self.policy.chunk_len

    @property
    def action_dt(self) -> float:
        return self.policy.action_dt


class GroundedPolicy(PolicyWrapper):
    """A loaded policy behind an :class:`InstructionGate`: the observation's instruction is replaced
    with the grounded feed; a refused instruction gets a chunk that holds the pose the arm had when
    the refusal came (``last`` says what happened to the newest instruction).

    ``scene`` (called when a new instruction arrives) gives the parts and bins on the table, or
    ``None`` where they are not known."""

    def __init__(self, policy: Any, gate: InstructionGate, scene: Any = None) -> None:
        super().__init__(policy)
        self.gate = gate
        self.scene = scene
        self.last: Grounding | None = None
        self._fed: np.ndarray | None = None  # the feed, encoded once per instruction
        self._hold: np.ndarray | None = None

    def reset(self) -> None:
        """A new episode: forget the held pose and the last grounding (the scene may differ)."""
        self.last, self._fed, self._hold = None, None, None

    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        raw = obs.get("instruction")
        text = raw if isinstance(raw, str) else decode_instruction(np.asarray(raw, np.uint8)) if raw is not None else ""
        if self.last is None or self.last.text != text:
            parts, bins = self.scene() if self.scene is not None else (None, None)
            self.last = self.gate.ground(text, parts, bins)
            self._fed = None if self.last.feed is None else encode_instruction(self.last.feed)
            self._hold = None
        if self._fed is None:  # refused
            if self._hold is None:
                self._hold = np.asarray(obs["state"], np.float32).copy()
            return hold_chunk(self._hold, self.chunk_len)
        return self.policy.predict({**obs, "instruction": self._fed})
