"""The scripted-expert machinery shared by every task: smooth Cartesian moves via iterated IK,
friction grasps with a check-and-retry, placing, and a per-step action stream.

An expert is a *script*: a Python generator that yields one action point (float32[8]) per env
step. Writing each task as straight-line code (``yield from self.move_to(...)``) keeps the waypoint
state machine readable, and because the generator runs lazily every segment reads the privileged
simulator state at the moment it starts: a part that rolled, or a part riding a conveyor, is
grasped where it *is*, not where it was at reset.

Smoothness matters twice: the arm's motors can only follow ``velocity_limit * action_dt`` per
step, and a policy trained on these demonstrations imitates their jerkiness. Cartesian moves
therefore follow a minimum-jerk profile at a bounded speed, and every joint step is additionally
capped at a fraction of the velocity limit (the gripper width too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pybullet as p

from jafm_robot.experts.ik import IKSolver, top_down_quat, wrap_yaw_symmetric

Action = np.ndarray
Script = Iterator[np.ndarray]

_SOLVERS: dict[tuple, IKSolver] = {}


def solver_for(robot: Any) -> IKSolver:
    """One private IK client per (robot config, base position) per process: loading a URDF costs
    milliseconds, and 200 episodes must not open 200 physics servers."""
    # PyBullet reports the base's centre of mass; the URDF root frame is offset from it by the
    # base link's inertial origin, which the IK copy must not count twice.
    com, orn = p.getBasePositionAndOrientation(robot.body_id, physicsClientId=robot.client)
    local = p.getDynamicsInfo(robot.body_id, -1, physicsClientId=robot.client)[3]
    inv_pos, inv_orn = p.invertTransform(local, [0, 0, 0, 1])
    base, _ = p.multiplyTransforms(com, orn, inv_pos, inv_orn)
    key = (robot.cfg.name, robot.cfg.urdf, tuple(round(float(b), 6) for b in base))
    s = _SOLVERS.get(key)
    if s is None or s.client is None:
        urdf = None
        try:  # the work cell resolves URDFs against pybullet_data and sim/; use the same lookup
            from jafm_robot.sim.assets import resolve_urdf

            urdf = str(resolve_urdf(robot.cfg.urdf))
        except Exception:
            urdf = None
        s = IKSolver(robot.cfg, urdf_path=urdf, base_position=tuple(float(b) for b in base))
        _SOLVERS[key] = s
    return s


def part_yaw(quat: np.ndarray) -> float:
    """Yaw (rad) of a part resting upright (rotation about world z)."""
    return float(p.getEulerFromQuaternion(list(quat))[2])


class Expert:
    """Base class: subclasses implement :meth:`script` (a generator of action points).

    ``reset()`` after ``env.reset()``; ``act(obs=None)`` returns the next float32[8] action point
    (the expert reads privileged state, so ``obs`` is accepted and ignored). When the script is
    exhausted the expert holds its last target. ``act`` also notices an env reset it was not told
    about (the world object changes) and restarts itself.
    """

    #: Cartesian speed of free moves and of slow approach/lift moves (m/s)
    speed = 0.5
    slow_speed = 0.2
    #: EE height above the table for carrying (clears bin walls and a stacked part)
    carry_height = 0.16
    #: height above a part's top from which the gripper descends vertically
    approach_height = 0.08
    #: fraction of the joint velocity limit one step may use
    velocity_fraction = 0.8
    max_grasp_attempts = 3
    #: opening beyond the part's width on approach, capped at the gripper's full width. 5 cm opens
    #: the shipped parts fully (8 cm): a cube approached up to 45 deg off its faces (5.7 cm across
    #: the diagonal) still passes between the fingers. With 3 cm the fingers opened to 7 cm, and
    #: a student that misjudged a cube's yaw landed a finger on a corner (the v0 model's cube
    #: failures: never lifted, the part 5.5-5.7 cm across the fingers)
    open_margin = 0.05
    #: extra gripper yaw (rad) when grasping a part with a square footprint (a cube). 0 grasps
    #: across its faces; pi/4 across its diagonal: the fingers stall at ~1.41x the side and the
    #: cube is lifted held by its edges. Demonstrations of that (``record --cube-grasp-offset 45``)
    #: show a student that cannot see a cube's yaw what to do when its fingers stall on the
    #: edges: lift. Without them it waits for the fingers to reach the side, forever.
    square_grasp_offset = 0.0
    #: extra steps the closed hand stays still before lifting. 0 lifts as soon as the fingers'
    #: travel is done. A cube gripped off its faces turns between the fingers while they squeeze
    #: and the fingers stop later; a student that lifts on the expert's schedule lifts it
    #: mid-turn and it slips. Demonstrations with a pause (``record --grasp-hold N``) teach it
    #: to let the grip settle before lifting.
    grasp_hold_steps = 0
    #: turn the wrist to a square-footprint part's faces only once the hand hovers over it,
    #: instead of on the way there. From the scene camera a 4 cm cube is ~5 px and its yaw cannot
    #: be seen; a student cloned from an expert that turns early learns "keep the wrist about
    #: where it is" and closes across the cube's diagonal (session 8: cube failures rise from 3 %
    #: at 0-10 deg to 58 % at 40-45 deg of needed turn). Turning over the part puts the turn where
    #: the wrist camera shows the cube large (``record --align-above``).
    align_above_square = False
    #: aim the first grasp of an episode this far off the part (metres, drawn in ``(min, max)``,
    #: across the fingers' closing line, side and +-20 deg drawn at random; None = never).
    #: Cloned policies fail by closing 2-3 cm off a part and then do not know what to do,
    #: because no demonstration shows a grasp that missed.
    #: With this the expert misses, lifts, sees an empty hand, opens and grasps again: a
    #: demonstration of the recovery. Its deliberately wrong actions (the first approach, descent
    #: and close) are reported in :attr:`unimitated` so training can leave them out
    #: (``record --miss-first-grasp``).
    first_grasp_miss: tuple[float, float] | None = None
    #: turn the first grasp of an episode this far off the part's grasp yaw (radians, drawn in
    #: ``(min, max)``, either sign; parts with a yaw only, not cylinders). The fingers then stall
    #: on the part's corners at a width no aligned grasp shows, which is where cloned policies
    #: wait forever instead of lifting; the demonstration lifts anyway (and, if the part slips,
    #: recovers). The turned approach and close are reported in :attr:`unimitated` like a miss
    #: (``record --turn-first-grasp``).
    first_grasp_turn: tuple[float, float] | None = None
    #: a script started mid-episode with an open hand low near the part (within 8 cm across)
    #: re-centres over the part at that height and descends, instead of first lifting to carry
    #: height: it slides across while the part lies between the open fingers (within 1 cm it
    #: only descends), and otherwise first rises just clear of the part's top. This is the correction a policy that closed
    #: 2-9 cm off a part never saw: ``record --student`` hands an episode over to the expert
    #: where the policy was about to grasp, and a demonstration that goes up to 16 cm from there
    #: would teach the policy to back off from every grasp it lines up. Off by default, so the
    #: experts' own episodes (which start at home) are unchanged.
    resume_over_part = False

    def __init__(self, env: Any) -> None:
        self.env = env
        self.u = env.unwrapped
        self.dt = float(getattr(self.u, "action_dt", 0.1))
        self._world = None
        self._gen: Script | None = None
        self.q = np.zeros(7)
        self.width = 0.08
        self.steps = 0
        self.phase = "idle"
        self.attempts = 0
        self._rng = np.random.default_rng(0)
        self._miss_pending = False
        self.unimitated: tuple[int, int] | None = None

    # -- public API ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Start the script from the arm's current state (call after ``env.reset``). ``seed`` (the
        episode's) seeds the expert's own random choices (:attr:`first_grasp_miss`)."""
        self.robot = self.u.robot
        self.world = self.u.world
        self.task = self.u.task
        self._world = self.world
        self.ik = solver_for(self.robot)
        self.cfg = self.robot.cfg
        # Continue from the motor target the env last applied (where the arm is heading), so an
        # expert started mid-episode (a DAgger teacher labelling a student's state) emits a
        # continuous action stream and keeps squeezing a part the fingers hold.
        tgt = getattr(self.u, "target", None)
        st = np.asarray(tgt if tgt is not None else self.robot.state(), dtype=np.float64)
        self.q = np.clip(st[:7].copy(), self.ik.lower, self.ik.upper)
        self.width = float(st[7])
        self.steps = 0
        self.attempts = 0
        self.phase = "start"
        self._rng = np.random.default_rng([0 if seed is None else int(seed), 0x3155])
        self._miss_pending = self.first_grasp_miss is not None or self.first_grasp_turn is not None
        self.unimitated = None  # [from, to) action indices not to imitate (see first_grasp_miss)
        self.table_z = float(getattr(self.world, "table_height", 0.0))
        self._max_dq = self.cfg.velocity_limit * self.dt * self.velocity_fraction
        self._max_dw = self.cfg.gripper_velocity_limit * self.dt
        self._gen = self.script()

    def act(self, obs: Any = None) -> np.ndarray:
        """The next action point, float32[8] (7 joint targets + gripper width)."""
        if self._gen is None or self.u.world is not self._world:
            self.reset()
        assert self._gen is not None
        try:
            a = next(self._gen)
        except StopIteration:
            self.phase = "done"
            a = self.action()
        self.steps += 1
        return np.asarray(a, dtype=np.float32)

    __call__ = act

    def script(self) -> Script:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------
    def action(self) -> np.ndarray:
        lo, hi = self.cfg.action_low, self.cfg.action_high
        return np.clip(np.append(self.q, self.width), lo, hi).astype(np.float32)

    def ee(self) -> tuple[np.ndarray, np.ndarray]:
        """The pose the *commanded* joints reach (the plan's own notion of where the hand is)."""
        return self.ik.fk(self.q)

    def pose(self, part: Any) -> tuple[np.ndarray, np.ndarray]:
        pos, orn = p.getBasePositionAndOrientation(part.body_id, physicsClientId=self.u.client)
        return np.asarray(pos), np.asarray(orn)

    def grasp_yaw_candidates(self, part: Any) -> list[float]:
        """Gripper yaws that close across a narrow side of the part, one per distinct finger
        axis (a parallel gripper is symmetric under 180 deg), each wrapped closest to the hand's
        current yaw so joint 7 turns as little as possible."""
        _, orn = self.pose(part)
        yaw = part_yaw(orn)
        ref = float(np.clip(self.ee_yaw_unwrapped(), -1.6, 1.6))
        if part.shape == "cylinder":
            axes = [ref + k * np.pi / 4 for k in (0, 2, 1, 3)]
        else:
            sx, sy = float(part.size[0]), float(part.size[1])
            # fingers open along the hand's y axis, which is world y at gripper yaw 0
            if self.is_square(part):  # either pair of faces, or their diagonals
                axes = [yaw + self.square_grasp_offset, yaw + self.square_grasp_offset + np.pi / 2]
            else:
                axes = [yaw + np.pi / 2 if sx < sy else yaw]
        return [wrap_yaw_symmetric(a, np.pi, ref) for a in axes]

    @staticmethod
    def is_square(part: Any) -> bool:
        """A part with a square footprint (a cube): four faces to grasp across, a 90 deg yaw period."""
        return part.shape != "cylinder" and abs(float(part.size[0]) - float(part.size[1])) < 1e-4

    def finger_clearance(self, part: Any, yaw: float, open_w: float, grasp_z: float) -> int:
        """How many of the probe rays where the open fingers will descend hit something other
        than the part (a neighbour part, a bin wall). Rays run downwards from just above the
        tallest obstacle to the fingertips, so the arm itself (hovering higher) is never hit."""
        c, _ = self.pose(part)
        a = np.array([np.sin(yaw), -np.cos(yaw), 0.0])  # finger axis (hand y)
        b = np.array([np.cos(yaw), np.sin(yaw), 0.0])
        z_top, z_tip = grasp_z + 0.075, grasp_z - 0.013
        starts, ends = [], []
        for side in (-1.0, 1.0):
            for out in (0.004, 0.014):
                for lat in (-0.011, 0.0, 0.011):
                    xy = c + a * side * (open_w / 2 + out) + b * lat
                    starts.append([xy[0], xy[1], z_top])
                    ends.append([xy[0], xy[1], z_tip])
        hits = p.rayTestBatch(starts, ends, physicsClientId=self.u.client)
        return sum(1 for h in hits if h[0] >= 0 and h[0] != part.body_id)

    def grasp_yaw(self, part: Any, open_w: float | None = None, grasp_z: float | None = None) -> float:
        """The candidate yaw whose fingers descend through the most free space (ties: the one
        closest to the hand's current yaw)."""
        cands = self.grasp_yaw_candidates(part)
        if len(cands) == 1 or open_w is None or grasp_z is None:
            return cands[0]
        ref = self.ee_yaw_unwrapped()
        scores = [(self.finger_clearance(part, y, open_w, grasp_z), abs(y - ref), i) for i, y in enumerate(cands)]
        return cands[min(scores)[2]]

    def yaw_follower(self, part: Any, yaw: float, lead_t: float = 0.0) -> Callable[[], float]:
        """A yaw goal that turns with the part (parts on a belt spin slowly as they ride), so
        the fingers meet the faces they were aimed at."""
        _, orn = self.pose(part)
        yaw_part0 = part_yaw(orn)

        def goal() -> float:
            _, o = self.pose(part)
            _, ang = p.getBaseVelocity(part.body_id, physicsClientId=self.u.client)
            d = part_yaw(o) + float(ang[2]) * lead_t - yaw_part0
            return yaw + float((d + np.pi) % (2 * np.pi) - np.pi)

        if part.shape == "cylinder":
            return lambda: yaw
        return goal

    def ee_yaw_unwrapped(self) -> float:
        _, quat = self.ee()
        m = np.asarray(p.getMatrixFromQuaternion(list(quat))).reshape(3, 3)
        return float(np.arctan2(m[1, 0], m[0, 0]))

    def grasp_width(self, part: Any, yaw: float) -> float:
        """Extent of the part along the finger axis at gripper yaw ``yaw``."""
        if part.shape == "cylinder":
            return float(part.size[0])
        return float(min(part.size[0], part.size[1]))

    # -- motion primitives (generators of action points) ---------------------------------------
    def _step_to(self, q_target: np.ndarray, width: float | None = None) -> Script:
        """Reach ``q_target`` (and ``width``) in as many steps as the rate caps need."""
        q_target = np.clip(q_target, self.ik.lower, self.ik.upper)
        w_target = self.width if width is None else float(np.clip(width, 0.0, self.cfg.gripper_width_limit[1]))
        while True:
            dq = q_target - self.q
            n = max(1, int(np.ceil(np.max(np.abs(dq) / self._max_dq))))
            self.q = self.q + dq / n
            dw = w_target - self.width
            self.width += float(np.clip(dw, -self._max_dw, self._max_dw))
            yield self.action()
            if n == 1:
                break

    def move_to(
        self,
        pos: np.ndarray | Callable[[], np.ndarray],
        yaw: float | Callable[[], float],
        speed: float | None = None,
        width: float | None = None,
    ) -> Script:
        """Straight Cartesian line to ``pos`` (top-down gripper at ``yaw``) on a min-jerk profile.

        ``pos`` and ``yaw`` may be callables returning the *current* goal; the line then bends
        towards a moving (or turning) target each step (conveyor tracking).
        """
        speed = self.speed if speed is None else speed
        start, _ = self.ee()
        yaw0 = self.ee_yaw_unwrapped()

        def yaw_delta() -> float:
            y = yaw() if callable(yaw) else yaw
            return float((y - yaw0 + np.pi) % (2 * np.pi) - np.pi)

        dyaw = yaw_delta()
        goal = np.asarray(pos() if callable(pos) else pos, dtype=np.float64)
        dist = float(np.linalg.norm(goal - start))
        # min-jerk peak speed is 1.875x the mean: size the duration so the peak stays at `speed`
        n = max(2, int(np.ceil(1.875 * dist / (speed * self.dt))), int(np.ceil(abs(dyaw) / 0.25)))
        w0 = self.width
        for k in range(1, n + 1):
            s = k / n
            s = s * s * s * (10 - 15 * s + 6 * s * s)
            if callable(pos):
                goal = np.asarray(pos(), dtype=np.float64)
            if callable(yaw):
                dyaw = yaw_delta()
            target = start + (goal - start) * s
            res = self.ik.solve(target, top_down_quat(yaw0 + dyaw * s), self.q)
            w = None if width is None else w0 + (width - w0) * s
            yield from self._step_to(res.q, w)

    def gripper(self, width: float, settle_steps: int = 2, max_rate: float | None = None) -> Script:
        """Move the fingers to ``width`` at the gripper's rate limit, then hold ``settle_steps``."""
        rate = self._max_dw if max_rate is None else max_rate
        while abs(self.width - width) > 1e-6:
            self.width += float(np.clip(width - self.width, -rate, rate))
            yield self.action()
        for _ in range(settle_steps):
            yield self.action()

    def hold(self, steps: int) -> Script:
        for _ in range(steps):
            yield self.action()

    # -- grasp checks -------------------------------------------------------------------------
    def finger_contacts(self, part: Any) -> int:
        """How many fingers touch the part (0..2)."""
        n = 0
        for j in self.robot.finger_indices:
            if p.getContactPoints(
                bodyA=self.robot.body_id, bodyB=part.body_id, linkIndexA=j, physicsClientId=self.u.client
            ):
                n += 1
        return n

    def holding(self, part: Any) -> bool:
        """Both fingers touch the part and it is off the table, near the hand."""
        pos, _ = self.pose(part)
        ee, _ = self.robot.ee_pose()
        near = np.linalg.norm(pos[:2] - ee[:2]) < 0.04 and abs(pos[2] - ee[2]) < 0.05
        return self.finger_contacts(part) == 2 and near

    # -- composite skills ---------------------------------------------------------------------
    def pick(self, part: Any, lead: Callable[[float], np.ndarray] | None = None) -> Script:
        """Grasp ``part`` by friction and lift it to carry height; retries a missed grasp.

        ``lead(t)`` (optional) returns where the part will be ``t`` seconds from now; the
        conveyor expert passes its belt prediction so the hand meets the part instead of chasing
        it. On return ``self.grasped`` tells whether the part is in the hand.
        """
        self.grasped = False
        if self.holding(part):  # started mid-task with the part already in the hand
            self.width = 0.0
            self.grasped = True
            return
        for _attempt in range(self.max_grasp_attempts):
            self.attempts += 1
            self.phase = "approach"

            # lift first if we are low (never drag across the table); from up there the probe
            # rays of grasp_yaw cannot hit the arm itself
            ee, _ = self.ee()
            hover_z: float | None = None  # None: descend from the usual approach height
            lined_up = False  # resumed with the hand already over the part: only the descent is left
            slide_yaw: float | None = None  # resumed with the part between the fingers: keep this grasp yaw
            if ee[2] < self.table_z + self.carry_height - 0.03 and self._open_over(part, ee):
                fit = self._fit_between_fingers(part, ee)
                if fit is None:  # a finger over the part: rise just clear of its top, then re-centre
                    ppos, _ = self.pose(part)
                    clear = float(ppos[2]) + float(part.half_height) + 0.02
                    if ee[2] < clear:
                        yield from self.move_to(np.array([ee[0], ee[1], clear]), self.ee_yaw_unwrapped(),
                                                speed=self.slow_speed)
                        ee, _ = self.ee()
                else:
                    lined_up, slide_yaw = fit[0] <= 0.01, fit[1]
                hover_z = float(ee[2])
            elif ee[2] < self.table_z + self.carry_height - 0.03:
                yield from self.move_to(np.array([ee[0], ee[1], self.table_z + self.carry_height]), self.ee_yaw_unwrapped())
            miss, miss_from = np.zeros(3), self.steps  # where() reads it: filled in place below

            def where(t: float = 0.0, miss: np.ndarray = miss) -> np.ndarray:
                return (lead(t) if lead is not None else self.pose(part)[0]) + miss

            cands = self.grasp_yaw_candidates(part)
            open_w = min(self.cfg.gripper_width_limit[1], self.grasp_width(part, cands[0]) + self.open_margin)
            grasp_z = max(float(where()[2]), self.table_z + 0.015)
            yaw0 = self.grasp_yaw(part, open_w, grasp_z)
            if slide_yaw is not None:  # the fingers already straddle the part: no turn around it at this depth
                yaw0 = slide_yaw
            if self._miss_pending and self.first_grasp_turn is not None:
                if part.shape == "cylinder":  # no yaw to get wrong: a plain grasp
                    self._miss_pending = self.first_grasp_miss is not None
                else:
                    lo, hi = self.first_grasp_turn
                    yaw0 += self._rng.choice([-1.0, 1.0]) * self._rng.uniform(lo, hi)
            if self._miss_pending and self.first_grasp_miss is not None:
                # off along the hand's x axis (+-20 deg), across the fingers' closing line (the
                # hand's y at ``yaw0``): the fingers close beside the part. Off along the closing
                # line they would push it between them and still grasp it.
                lo, hi = self.first_grasp_miss
                ang = yaw0 + self._rng.choice([0.0, np.pi]) + self._rng.uniform(-1.0, 1.0) * np.radians(20.0)
                r = self._rng.uniform(lo, hi)
                miss[:2] = r * np.cos(ang), r * np.sin(ang)
            yaw = self.yaw_follower(part, yaw0, lead_t=2 * self.dt)
            top = float(where()[2]) + float(part.half_height)

            def above(top: float = top, hover_z: float | None = hover_z) -> np.ndarray:
                c = where(self.dt * 2)
                z = max(top + self.approach_height, self.table_z + 0.08)
                if hover_z is not None:  # resumed low over the part: re-centre at that height
                    z = min(hover_z, z)
                return np.array([c[0], c[1], z])

            if self.align_above_square and self.is_square(part):
                yield from self.move_to(above, self.ee_yaw_unwrapped(), width=open_w)
                self.phase = "align"
            if not lined_up:
                yield from self.move_to(above, yaw, width=open_w)
            yield from self.gripper(open_w, settle_steps=0)
            self.phase = "descend"

            def grasp_point() -> np.ndarray:
                c = where(self.dt * 2)
                z = max(float(c[2]), self.table_z + 0.015)
                return np.array([c[0], c[1], z])

            yield from self.move_to(grasp_point, yaw, speed=self.slow_speed)
            if lead is not None:  # keep pace with the belt while the fingers close
                self.phase = "close"
                yield from self._close_tracking(grasp_point, yaw, self.grasp_width(part, yaw0))
            else:
                self.phase = "close"
                # command closed in one step and hold the pose while the fingers travel (the
                # finger motors' velocity limit paces them, as a ramp would). Every point of the
                # close then says 0, whatever width the fingers have reached: a policy that
                # re-plans while the fingers rest on a part's corners still squeezes, instead of
                # restarting a ramp from the width it sees (the shipped v0 model's cube failures)
                travel = max(0.0, self.width - self.grasp_width(part, yaw0) + 0.01)
                settle = int(np.ceil(travel / self._max_dw)) + 1 + int(self.grasp_hold_steps)
                yield from self.gripper(0.0, settle_steps=settle, max_rate=1.0)
            if self._miss_pending:  # the deliberate miss ends with its close
                self._miss_pending = False
                self.unimitated = (miss_from, self.steps)
            self.phase = "lift"
            ee, _ = self.ee()
            held_yaw = self.ee_yaw_unwrapped()  # from here on the part turns with the hand: fixed yaw
            yield from self.move_to(ee + np.array([0, 0, 0.05]), held_yaw, speed=self.slow_speed)
            if self.holding(part):
                ee, _ = self.ee()
                yield from self.move_to(
                    np.array([ee[0], ee[1], self.table_z + self.carry_height]), held_yaw, speed=self.speed
                )
                if self.holding(part):
                    self.grasped = True
                    return
            # missed: back off upwards with the (empty) hand still closed, open up there, and
            # try again from the part's new pose. Opening first, low beside the part, would put
            # an open hand just above a part (where every approach descends) into a
            # demonstration that goes up: a policy cloned from both hovers there.
            self.phase = "retry"
            ee, _ = self.ee()
            yield from self.move_to(np.array([ee[0], ee[1], self.table_z + self.carry_height]), held_yaw)
            yield from self.gripper(self.cfg.gripper_width_limit[1], settle_steps=1)

    def _open_over(self, part: Any, ee: np.ndarray) -> bool:
        """:attr:`resume_over_part` applies: the first attempt of this script, the hand open wider
        than the part and within 8 cm of it across."""
        if not self.resume_over_part or self.attempts != 1:
            return False
        pos, _ = self.pose(part)
        wide = self.width >= self.grasp_width(part, 0.0) + 0.01
        return bool(wide and np.linalg.norm(ee[:2] - pos[:2]) <= 0.08)

    def _fit_between_fingers(self, part: Any, ee: np.ndarray) -> tuple[float, float] | None:
        """With :attr:`resume_over_part`: how far (m, across) the hand is from the part, and the
        grasp yaw nearest the wrist's, when the part already lies between the open fingers' planes
        with a 5 mm margin and the wrist is within 0.2 rad of that yaw, so the hand can slide over
        it at this height; None when a finger would run into it (or the wrist must turn) and the
        hand must rise first."""
        pos, _ = self.pose(part)
        ref = self.ee_yaw_unwrapped()
        nearest = min(self.grasp_yaw_candidates(part), key=lambda y: abs(y - ref))
        if abs(nearest - ref) > 0.2:
            return None
        d = np.asarray(pos[:2], dtype=np.float64) - np.asarray(ee[:2], dtype=np.float64)
        along = abs(float(d @ np.array([np.sin(ref), -np.cos(ref)])))  # the fingers' closing line
        if along > (self.width - self.grasp_width(part, ref)) / 2 - 0.005:
            return None
        return float(np.linalg.norm(d)), float(nearest)

    def _close_tracking(
        self, target: Callable[[], np.ndarray], yaw: Callable[[], float], part_width: float
    ) -> Script:
        """Close on a moving part: same width schedule as a static grasp, the hand following
        ``target`` and, until the fingers reach the part, its yaw."""
        inside = max(0.0, part_width - 0.01)
        y = yaw()
        while self.width > inside + 1e-6:
            if self.width > part_width:
                y = yaw()
            self.width = max(inside, self.width - self._max_dw)
            res = self.ik.solve(target(), top_down_quat(y), self.q)
            yield from self._step_to(res.q)
        self.width = 0.0
        for _ in range(2):
            res = self.ik.solve(target(), top_down_quat(y), self.q)
            yield from self._step_to(res.q)

    def place(self, part: Any, xy: np.ndarray, surface_z: float, release_clearance: float = 0.01) -> Script:
        """Carry the held part over ``xy``, lower it until its bottom is ``release_clearance``
        above ``surface_z``, open, and retreat upwards."""
        self.phase = "carry"
        yaw = self.ee_yaw_unwrapped()
        pos, _ = self.pose(part)
        ee, _ = self.robot.ee_pose()
        # the part may sit a little off-centre in the hand: aim the part, not the hand
        offset = pos - ee
        offset[2] = 0.0 if np.linalg.norm(offset[:2]) > 0.03 else offset[2]
        carry_z = max(self.table_z + self.carry_height, surface_z + 2 * part.half_height + 0.08)
        goal_xy = np.asarray(xy[:2], dtype=np.float64) - offset[:2]
        here, _ = self.ee()
        if here[2] < carry_z - 0.05:  # held but low (e.g. started mid-task): go up before across
            yield from self.move_to(np.array([here[0], here[1], carry_z]), yaw, speed=self.slow_speed)
        yield from self.move_to(np.array([goal_xy[0], goal_xy[1], carry_z]), yaw)
        self.phase = "lower"
        bottom_to_ee = float(part.half_height) - float(offset[2])
        z = surface_z + release_clearance + bottom_to_ee
        yield from self.move_to(np.array([goal_xy[0], goal_xy[1], z]), yaw, speed=self.slow_speed)
        self.phase = "release"
        # The commanded width is 0 (squeezing); start opening from the fingers' actual width so the
        # first steps already release instead of unwinding the squeeze.
        self.width = float(self.robot.state()[7])
        yield from self.gripper(self.cfg.gripper_width_limit[1], settle_steps=0)
        self.phase = "retreat"
        ee, _ = self.ee()
        yield from self.move_to(np.array([ee[0], ee[1], carry_z]), yaw, speed=self.speed)

    def place_in_bin(self, part: Any, bin_: Any) -> Script:
        """Lower the held part into the bin and let go a little above its floor, at the spot
        farthest from parts already lying in the bin (Sort drops up to three parts into one bin;
        landing on the pile tips the part over the wall)."""
        floor = float(bin_.position[2]) - float(bin_.half_extents[2])
        yield from self.place(part, self.free_spot_in_bin(part, bin_), floor, release_clearance=0.015)

    def free_spot_in_bin(self, part: Any, bin_: Any) -> np.ndarray:
        centre = np.asarray(bin_.position[:2], dtype=np.float64)
        others = []
        for q in self.world.parts:
            if q.body_id == part.body_id:
                continue
            pos, _ = self.pose(q)
            if bin_.contains(pos):
                others.append(pos[:2])
        if not others:
            return centre
        half = float(np.max(part.size[:2])) / 2
        room = max(0.0, float(np.min(bin_.half_extents[:2])) - half - 0.008)
        cands = [centre] + [centre + room * np.array([sx, sy]) for sx in (-1, 1) for sy in (-1, 1)]
        cands += [centre + room * np.array(d) for d in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        return max(cands, key=lambda c: min(float(np.linalg.norm(c - o)) for o in others))
