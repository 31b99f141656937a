"""The task interface: what to build in the cell, what to say, and when it is done.

A task is composed with the robot and the work cell by :class:`~jafm_robot.envs.core.RobotTaskEnv`
(panda-gym style, one file per task), but everything it draws comes from the generator the env
hands it, so a seed fixes the scene, the goal and the instruction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from jafm_robot.envs.instructions import bin_phrase, part_phrase

if TYPE_CHECKING:
    from jafm_robot.robots.bullet_robot import BulletRobot
    from jafm_robot.sim.world import Part, WorkCell


class Task:
    """Base class. Subclasses set ``name``, ``default_scene``, ``max_episode_steps`` and implement
    :meth:`build`, :meth:`slots` and :meth:`is_success` (from privileged simulator state only)."""

    name: ClassVar[str] = ""
    default_scene: ClassVar[str] = "factory"
    max_episode_steps: ClassVar[int] = 100
    rest_speed: ClassVar[float] = 0.05  # m/s: below this a part counts as resting
    lift_height: ClassVar[float] = 0.03  # m above its height at reset: a part higher than this was lifted
    # one part per episode, or several carried one after another (Sort): the trainer's pick/place
    # targets then follow the part carried next (datasets.auxiliary.grasp_place_targets)
    moves_several_parts: ClassVar[bool] = False

    def __init__(self) -> None:
        self.world: WorkCell | None = None
        self.robot: BulletRobot | None = None
        self.goal: dict[str, Any] = {}
        self.instruction_text: str = ""
        self.language: str = "en"
        self.template_index: int = 0
        self._rest_z: dict[str, float] = {}
        self._lifted: set[str] = set()

    def bind(self, world: WorkCell, robot: BulletRobot) -> None:
        self.world, self.robot = world, robot
        self.goal = {}

    # -- to implement ------------------------------------------------------------------------
    def build(self, rng: np.random.Generator, randomize: bool) -> None:
        """Spawn the task's parts into ``self.world`` and fill ``self.goal``."""
        raise NotImplementedError

    def slots(self, language: str) -> dict[str, str]:
        """Slot phrases for the instruction templates in ``language``."""
        raise NotImplementedError

    def is_success(self) -> bool:
        raise NotImplementedError

    def failure_mode(self) -> str:
        """How an episode that has not succeeded stands, in a few words (privileged state).

        ``outcome`` reports it in ``info`` and ``eval`` counts it, so a success rate comes with
        its failures sorted ("never lifted", "dropped", ...) without replaying a single episode.
        Tasks override it; the default says only that the goal is not reached.
        """
        return "not done"

    # -- episode outcome -------------------------------------------------------------------
    def start_tracking(self) -> None:
        """Remember every part's height at reset (the env calls this after :meth:`build`)."""
        self._rest_z = {q.name: float(self.w.part_position(q)[2]) for q in self.w.parts}
        self._lifted = set()

    def track_step(self) -> None:
        """Note which parts have been lifted so far (the env calls this after every step): the
        outcome of a failed pick depends on the episode's history, not just its last state."""
        for q in self.w.parts:
            z = float(self.w.part_position(q)[2])
            if z > self._rest_z.setdefault(q.name, z) + self.lift_height:
                self._lifted.add(q.name)

    def lifted(self) -> frozenset[str]:
        """Names of the parts lifted at some step of this episode."""
        return frozenset(self._lifted)

    def outcome(self, success: bool | None = None) -> str:
        """``"success"``, or :meth:`failure_mode`."""
        return "success" if (self.is_success() if success is None else success) else self.failure_mode()

    def carry_failure(self, part: Part) -> str:
        """Where carrying ``part`` went wrong: never lifted (or another part was), still held at
        the end, or lifted and then let go of somewhere it does not count."""
        if part.name not in self._lifted:
            return "lifted a wrong part" if self._lifted else "never lifted"
        return "held at the end" if not self.released(part) else "dropped"

    # -- shared helpers ----------------------------------------------------------------------
    def reward(self) -> float:
        """Sparse: 1 on success. Hosts that want shaping compute it from ``goal`` themselves."""
        return float(self.is_success())

    def part_slot(self, part_name: str, language: str) -> str:
        q = self.w.part(part_name)
        return part_phrase(q.color, q.shape, language)

    def bin_slot(self, bin_name: str, language: str) -> str:
        return bin_phrase(self.w.bins[bin_name].color, language)

    @property
    def w(self) -> WorkCell:
        if self.world is None:
            raise RuntimeError(f"task {self.name} is not bound to a work cell (call env.reset())")
        return self.world

    def released(self, part: Part) -> bool:
        """The part is not in contact with the robot (the gripper let go)."""
        assert self.robot is not None
        return not self.w.touching(part, self.robot.body_id)

    def placed_in_bin(self, part: Part, bin_name: str) -> bool:
        w = self.w
        return w.in_bin(part, bin_name) and w.is_resting(part, self.rest_speed) and self.released(part)

    def spawn_target_and_distractors(
        self, rng: np.random.Generator, randomize: bool, colors: list[str] | None = None,
        shapes: list[str] | None = None, positions: list[np.ndarray] | None = None,
    ) -> tuple[Part, list[Part]]:
        """A target part plus distractors that share its colour or its shape (never both), so that
        only colour AND shape together name the target."""
        w = self.w
        ps = w.scene.parts
        all_colors = colors or list(ps.colors)
        all_shapes = shapes or list(ps.shapes)
        tc = all_colors[int(rng.integers(len(all_colors)))]
        ts = all_shapes[int(rng.integers(len(all_shapes)))]
        dmin, dmax = ps.distractors
        n = int(rng.integers(dmin, dmax + 1)) if randomize else dmin
        pool = [(c, s) for c in ps.colors for s in ps.shapes if (c, s) != (tc, ts)]
        same_color = [cs for cs in pool if cs[0] == tc]
        same_shape = [cs for cs in pool if cs[1] == ts]
        chosen: list[tuple[str, str]] = []
        for group in (same_color, same_shape):
            if len(chosen) < n and group:
                chosen.append(group[int(rng.integers(len(group)))])
        rest = [cs for cs in pool if cs not in chosen]
        order = rng.permutation(len(rest))
        chosen += [rest[i] for i in order[: max(0, n - len(chosen))]]
        pos = positions if positions is not None else w.sample_positions(1 + len(chosen))
        target = w.spawn_part(tc, ts, pos[0], w.random_yaw())
        distractors = [w.spawn_part(c, s, xy, w.random_yaw()) for (c, s), xy in zip(chosen, pos[1:], strict=False)]
        return target, distractors
