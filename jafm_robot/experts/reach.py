"""Reach expert: fly the gripper to the hover point above the named part and stay there."""

from __future__ import annotations

import numpy as np

from jafm_robot.experts.base import Expert, Script


class ReachExpert(Expert):
    def script(self) -> Script:
        part = self.world.part(self.task.goal["part"])
        yaw = self.grasp_yaw(part)
        hover = float(self.task.goal.get("hover", 0.06))
        self.phase = "reach"

        def target() -> np.ndarray:
            pos, _ = self.pose(part)
            return pos + np.array([0.0, 0.0, float(part.half_height) + hover])

        yield from self.move_to(target, yaw)
        self.phase = "hold"
        while True:  # keep tracking the point (the part may still be settling)
            yield from self.move_to(target, yaw)
