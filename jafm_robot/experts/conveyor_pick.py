"""ConveyorPick expert: meet the named part on the moving belt, grasp it, and bin it.

The belt moves the part at a known velocity (``world.conveyor``), so the expert predicts where the
part will be when the hand gets there (``lead``) instead of chasing it: it waits above the belt
where the part enters the arm's reach, then descends and closes while keeping pace with the belt.
"""

from __future__ import annotations

import numpy as np

from jafm_robot.experts.base import Expert, Script


class ConveyorPickExpert(Expert):
    #: how far along the belt (from its start) the arm can reach a part with a top-down grasp
    reach_radius = 0.70

    def script(self) -> Script:
        goal = self.task.goal
        part = self.world.part(goal["part"])
        b = self.world.bins[goal["bin"]]
        conv = self.world.conveyor
        assert conv is not None

        def velocity() -> np.ndarray:
            pos, _ = self.pose(part)
            if conv.on_belt(pos) and pos[2] < conv.surface_z + 2 * float(part.half_height) + 0.01:
                s = float((pos - conv.start) @ conv.direction)
                if s < conv.length - float(part.half_height) - 0.02:  # not yet stopped at the end
                    return np.asarray(conv.velocity, dtype=np.float64)
            return np.zeros(3)

        def lead(t: float) -> np.ndarray:
            pos, _ = self.pose(part)
            return pos + velocity() * t

        for _ in range(self.max_grasp_attempts):
            if self.task.is_success():  # already done (an expert started mid-episode)
                return
            # wait above the belt until the part is (about to be) within reach
            self.phase = "wait"
            while not self._reachable(lead(1.5)):
                pos = lead(1.5)
                xy = self._clamp_reach(pos)
                yield from self.move_to(
                    np.array([xy[0], xy[1], conv.surface_z + 0.15]), self.grasp_yaw(part)
                )
            yield from self.pick(part, lead=lead)
            if not self.grasped:
                continue
            yield from self.place_in_bin(part, b)
            if self.world.in_bin(part, b):
                return

    def _reachable(self, pos: np.ndarray) -> bool:
        return float(np.hypot(pos[0], pos[1])) <= self.reach_radius

    def _clamp_reach(self, pos: np.ndarray) -> np.ndarray:
        r = float(np.hypot(pos[0], pos[1]))
        if r <= self.reach_radius:
            return pos[:2]
        return pos[:2] * (self.reach_radius / r)
