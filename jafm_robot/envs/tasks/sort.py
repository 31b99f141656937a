"""Sort: every part into the bin of its colour (bins are colour-coded)."""

from __future__ import annotations

import numpy as np

from jafm_robot.envs.tasks.base import Task


class Sort(Task):
    name = "Sort"
    default_scene = "factory"
    max_episode_steps = 400
    moves_several_parts = True

    def build(self, rng: np.random.Generator, randomize: bool) -> None:
        w = self.w
        bin_colors = sorted({b.color for b in w.bins.values()})
        if not bin_colors:
            raise ValueError(f"Sort needs colour-coded bins; scene {w.scene.name!r} has none")
        combos = [(c, s) for c in bin_colors for s in w.scene.parts.shapes]
        n = int(rng.integers(2, 4)) if randomize else 3
        n = min(n, len(combos))
        chosen = [combos[i] for i in rng.permutation(len(combos))[:n]]
        pos = w.sample_positions(n)
        parts = [w.spawn_part(c, s, xy, w.random_yaw()) for (c, s), xy in zip(chosen, pos, strict=False)]
        by_color = {b.color: b.name for b in sorted(w.bins.values(), key=lambda b: b.name)}
        self.goal = {
            "parts": [q.name for q in parts],
            "part_ids": [q.body_id for q in parts],
            "assignment": {q.name: by_color[q.color] for q in parts},  # part -> bin
            "part": parts[0].name,
        }

    def slots(self, language: str) -> dict[str, str]:
        return {}

    def remaining(self) -> list[str]:
        """Parts not yet resting in their bin (experts work through this list)."""
        return [n for n, b in self.goal["assignment"].items() if not self.placed_in_bin(self.w.part(n), b)]

    def is_success(self) -> bool:
        return not self.remaining()

    def failure_mode(self) -> str:
        """The worst thing that happened to a part still unsorted: put in a wrong bin, lifted and
        dropped outside every bin, else how many parts are left ("2 of 3 parts left unsorted")."""
        left = self.remaining()
        assignment = self.goal["assignment"]
        placed = {n: self.w.bin_of(self.w.part(n)) for n in left}
        if any(b is not None and b.name != assignment[n] for n, b in placed.items()):
            return "a part in a wrong bin"
        if any(b is None and n in self.lifted() and self.released(self.w.part(n)) for n, b in placed.items()):
            return "a part dropped"
        return f"{len(left)} of {len(assignment)} parts left unsorted"
