"""PickPlace: pick the named part (by colour AND shape) among distractors, place it in the named bin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jafm_robot.envs.tasks.base import Task

if TYPE_CHECKING:
    from jafm_robot.sim.world import Part


class PickPlace(Task):
    name = "PickPlace"
    default_scene = "factory"
    max_episode_steps = 150

    def build(self, rng: np.random.Generator, randomize: bool) -> None:
        w = self.w
        if not w.bins:
            raise ValueError(f"PickPlace needs at least one bin; scene {w.scene.name!r} has none")
        target, distractors = self.spawn_target_and_distractors(rng, randomize)
        self.goal = self.part_to_bin_goal(rng, target, distractors)

    def part_to_bin_goal(self, rng: np.random.Generator, target: Part, distractors: list[Part]) -> dict:
        """The goal "this part into a bin drawn from ``rng``" (shared with ConveyorPick)."""
        names = sorted(self.w.bins)
        b = self.w.bins[names[int(rng.integers(len(names)))]]
        return {
            "part": target.name,
            "part_id": target.body_id,
            "color": target.color,
            "shape": target.shape,
            "bin": b.name,
            "bin_id": b.body_id,
            "bin_position": b.position.copy(),
            "distractors": [d.name for d in distractors],
        }

    def slots(self, language: str) -> dict[str, str]:
        return {"part": self.part_slot(self.goal["part"], language), "bin": self.bin_slot(self.goal["bin"], language)}

    def is_success(self) -> bool:
        return self.placed_in_bin(self.w.part(self.goal["part"]), self.goal["bin"])

    def failure_mode(self) -> str:
        part = self.w.part(self.goal["part"])
        b = self.w.bin_of(part)
        if b is not None and b.name == self.goal["bin"]:
            return "in the bin, still touching the hand" if not self.released(part) else "in the bin, still moving"
        if b is not None:
            return "in a wrong bin"
        return self.carry_failure(part)
