"""Reach: bring the gripper above the named part (colour + shape), among distractors."""

from __future__ import annotations

import numpy as np

from jafm_robot.envs.tasks.base import Task


class Reach(Task):
    name = "Reach"
    default_scene = "factory"
    max_episode_steps = 50
    hover = 0.06  # m: the target point is this far above the part's top face
    tolerance = 0.03  # m: success radius around the target point

    def build(self, rng: np.random.Generator, randomize: bool) -> None:
        target, distractors = self.spawn_target_and_distractors(rng, randomize)
        self.goal = {
            "part": target.name,
            "part_id": target.body_id,
            "color": target.color,
            "shape": target.shape,
            "distractors": [d.name for d in distractors],
            "hover": self.hover,
            "tolerance": self.tolerance,
            "target_position": self.target_position(),
        }

    def target_position(self) -> np.ndarray:
        """The point above the part (recomputed from the part's current pose)."""
        q = self.w.part(self.goal.get("part") or self.w.parts[0].name)
        return self.w.part_position(q) + np.array([0.0, 0.0, q.half_height + self.hover])

    def slots(self, language: str) -> dict[str, str]:
        return {"part": self.part_slot(self.goal["part"], language)}

    def is_success(self) -> bool:
        assert self.robot is not None
        ee, _ = self.robot.ee_pose()
        return bool(np.linalg.norm(ee - self.target_position()) < self.tolerance)

    def failure_mode(self) -> str:
        return "not reached"
