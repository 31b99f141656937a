"""Stack expert: pick the ``top`` part and set it down centred on the ``base`` part's top face."""

from __future__ import annotations

from jafm_robot.experts.base import Expert, Script


class StackExpert(Expert):
    def script(self) -> Script:
        goal = self.task.goal
        top = self.world.part(goal["top"])
        base = self.world.part(goal["base"])
        for _ in range(self.max_grasp_attempts):
            if self.task.is_success():  # already done (an expert started mid-episode)
                return
            yield from self.pick(top)
            if not self.grasped:
                return
            bpos, _ = self.pose(base)
            yield from self.place(top, bpos[:2], float(bpos[2]) + float(base.half_height), release_clearance=0.004)
            if self.task.is_success():
                return
            yield from self.hold(3)  # let it settle before judging
            if self.task.is_success():
                return
