"""ConveyorPick: the named part rides the moving belt; take it off into the named bin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jafm_robot.envs.tasks.pick_place import PickPlace

if TYPE_CHECKING:
    from jafm_robot.sim.world import Part


class ConveyorPick(PickPlace):
    """PickPlace whose parts start on the moving belt (same goal, instruction slots and success)."""

    name = "ConveyorPick"
    default_scene = "factory_conveyor"
    max_episode_steps = 200
    spacing = 0.11  # m between parts along the belt

    def build(self, rng: np.random.Generator, randomize: bool) -> None:
        w = self.w
        conv = w.conveyor
        if conv is None:
            raise ValueError(f"ConveyorPick needs a scene with a conveyor; {w.scene.path} has none")
        if not w.bins:
            raise ValueError(f"ConveyorPick needs at least one bin; scene {w.scene.name!r} has none")
        dmin, dmax = w.scene.parts.distractors
        n_belt = 1 + min(2, int(rng.integers(dmin, dmax + 1)) if randomize else dmin)
        n_belt = max(1, min(n_belt, int((conv.length - 0.1) // self.spacing)))
        s0 = float(rng.uniform(0.03, 0.08)) if randomize else 0.05
        lateral = (lambda: float(rng.uniform(-0.02, 0.02))) if randomize else (lambda: 0.0)
        slots_xy = [conv.point(s0 + i * self.spacing, lateral())[:2] for i in range(n_belt)]
        order = rng.permutation(n_belt)
        # the target is at a random place in the queue of parts on the belt
        positions = [slots_xy[i] for i in order]
        shapes = [s for s in w.scene.parts.shapes if w.scene.parts.shapes[s].type in ("box", "cylinder")]
        target, distractors = self._spawn(rng, randomize, positions, shapes, conv.surface_z)
        self.goal = self.part_to_bin_goal(rng, target, distractors)
        self.goal.update(conveyor_speed=conv.speed, conveyor_direction=conv.direction.copy())

    def failure_mode(self) -> str:
        """PickPlace's classes, except that a target never lifted rode the belt past the hand:
        "missed on the belt" (it starts there, so it can have been nowhere else)."""
        mode = super().failure_mode()
        return "missed on the belt" if mode == "never lifted" else mode

    def _spawn(self, rng: np.random.Generator, randomize: bool, positions: list[np.ndarray], shapes: list[str],
               z: float) -> tuple[Part, list[Part]]:
        w = self.w
        ps = w.scene.parts
        combos = [(c, s) for c in ps.colors for s in shapes]
        idx = rng.permutation(len(combos))[: len(positions)]
        parts = [w.spawn_part(combos[i][0], combos[i][1], xy, w.random_yaw(), z=z) for i, xy in zip(idx, positions, strict=False)]
        return parts[0], parts[1:]
