"""PickPlace expert: grasp the named part by friction and put it down inside the named bin."""

from __future__ import annotations

from jafm_robot.experts.base import Expert, Script


class PickPlaceExpert(Expert):
    def script(self) -> Script:
        goal = self.task.goal
        part = self.world.part(goal["part"])
        b = self.world.bins[goal["bin"]]
        for _ in range(self.max_grasp_attempts):
            if self.task.is_success():  # already done (an expert started mid-episode)
                return
            yield from self.pick(part)
            if not self.grasped:
                return
            yield from self.place_in_bin(part, b)
            if self.world.in_bin(part, b):
                return
