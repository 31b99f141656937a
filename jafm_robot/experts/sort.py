"""Sort expert: every part into the bin of its colour, nearest part first."""

from __future__ import annotations

import numpy as np

from jafm_robot.experts.base import Expert, Script


class SortExpert(Expert):
    def script(self) -> Script:
        assignment: dict[str, str] = dict(self.task.goal["assignment"])
        tries: dict[str, int] = dict.fromkeys(assignment, 0)
        while True:
            todo = [n for n in self.task.remaining() if tries[n] < self.max_grasp_attempts]
            if not todo:
                return
            ee, _ = self.ee()
            name = min(todo, key=lambda n: float(np.linalg.norm(self.pose(self.world.part(n))[0][:2] - ee[:2])))
            tries[name] += 1
            part = self.world.part(name)
            yield from self.pick(part)
            if self.grasped:
                yield from self.place_in_bin(part, self.world.bins[assignment[name]])
