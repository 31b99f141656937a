"""Stack: put part A (``top``) on part B (``base``)."""

from __future__ import annotations

import numpy as np

from jafm_robot.envs.tasks.base import Task


class Stack(Task):
    name = "Stack"
    default_scene = "factory"
    max_episode_steps = 150
    xy_tolerance = 0.02  # m: centre of the top part over the base part
    z_tolerance = 0.012  # m: resting on the base's top face

    def build(self, rng: np.random.Generator, randomize: bool) -> None:
        w = self.w
        ps = w.scene.parts
        flat = [s for s, spec in ps.shapes.items() if spec.type == "box"] or list(ps.shapes)
        combos = [(c, s) for c in ps.colors for s in ps.shapes]
        base_choices = [cs for cs in combos if cs[1] in flat]
        base = base_choices[int(rng.integers(len(base_choices)))]
        top_choices = [cs for cs in combos if cs != base]
        top = top_choices[int(rng.integers(len(top_choices)))]
        dmin, dmax = ps.distractors
        n = int(rng.integers(dmin, dmax + 1)) if randomize else dmin
        rest = [cs for cs in combos if cs not in (base, top)]
        chosen = [rest[i] for i in rng.permutation(len(rest))[:n]]
        pos = w.sample_positions(2 + len(chosen))
        tp = w.spawn_part(*top, pos[0], w.random_yaw())
        bp = w.spawn_part(*base, pos[1], w.random_yaw())
        ds = [w.spawn_part(c, s, xy, w.random_yaw()) for (c, s), xy in zip(chosen, pos[2:], strict=False)]
        self.goal = {
            "part": tp.name,  # the part to move (experts read goal["part"] for every pick task)
            "part_id": tp.body_id,
            "top": tp.name,
            "top_id": tp.body_id,
            "base": bp.name,
            "base_id": bp.body_id,
            "distractors": [d.name for d in ds],
        }

    def slots(self, language: str) -> dict[str, str]:
        return {"top": self.part_slot(self.goal["top"], language), "base": self.part_slot(self.goal["base"], language)}

    def is_success(self) -> bool:
        w = self.w
        top, base = w.part(self.goal["top"]), w.part(self.goal["base"])
        pt, pb = w.part_position(top), w.part_position(base)
        if np.linalg.norm(pt[:2] - pb[:2]) > self.xy_tolerance:
            return False
        if abs(pb[2] - (w.table_height + base.half_height)) > self.z_tolerance:  # base still on the table
            return False
        if abs(pt[2] - (pb[2] + base.half_height + top.half_height)) > self.z_tolerance:
            return False
        return w.is_resting(top, self.rest_speed) and w.is_resting(base, self.rest_speed) and self.released(top)

    def failure_mode(self) -> str:
        w = self.w
        top, base = w.part(self.goal["top"]), w.part(self.goal["base"])
        if np.linalg.norm(w.part_position(top)[:2] - w.part_position(base)[:2]) <= self.xy_tolerance:
            return "on the base, not settled or still touching the hand"
        failure = self.carry_failure(top)
        return "released off the base" if failure == "dropped" else failure
