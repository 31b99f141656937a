"""The last line before the robot: every joint command satisfies the limits, whatever comes in.

:class:`SafetyFilter` keeps the last commanded position ``q`` and velocity ``v`` (8-vectors: 7 joints
+ gripper width) and turns each reference into a command such that, for every axis,

* ``low <= q_new <= high``                        (position limits, ``RobotConfig.action_low/high``)
* ``|q_new - q| <= v_max * dt``                     (velocity limits, ``velocity_limit8``)
* ``|v_new - v| <= a_max * dt``, ``v_new = (q_new - q) / dt``   (acceleration, ``acceleration_limit8``)

**Feasibility.** Clamping the position alone would break the acceleration bound when the arm runs
into a limit at speed. So the velocity is also bounded by the *discrete braking velocity*
``vb(d)``: the largest velocity from which the arm, braking at ``a_max`` one tick after another,
stops within the distance ``d`` left to the limit. If that bound holds at one tick it holds at the
next (braking by ``a_max*dt`` is always admissible), so the three bounds above can always be met
together; the property tests check it on arbitrary input.

**What makes it hold instead of follow** (``state``):

* ``nan_rejected`` -- a reference with NaN/Inf (or the wrong shape): brake to a stop.
* ``stale``  -- the watchdog: no fresh chunk for ``stale_after`` s (``feed()`` marks one): brake to
  a stop and stay there until a fresh chunk arrives.
* ``estop``  -- latched by ``estop()``: **decelerate at the acceleration limit** (the quickest stop
  the limits allow; an instant hold would ask the drives for unbounded deceleration, which a real
  controller turns into a fault and the simulator into a jerk). The velocity falls by
  ``a_max*dt`` every tick from the first tick after the call, reaches zero in ``ceil(|v|/(a_max dt))``
  ticks and stays zero until ``reset_estop()``; fresh chunks do not unlatch it.
* ``hold``   -- the host asked to hold (same braking).
* ``idle``   -- no chunk yet: hold where the arm is.
* ``workspace`` -- optional Cartesian box for the tool point (needs ``fk(q7)->xyz``; the Panda's is
  built in, :mod:`jafm_robot.runtime.kinematics`): a step is taken only if the point where the arm
  would *stop* after it (braking at the limit) is inside the box; otherwise the filter brakes. The
  stopping point of braking equals the one checked on the previous tick, so the arm always comes to
  rest inside the box (the joint-space braking path in between is not checked).

Braking means the velocity reference 0, taken through the same limits, so every mode obeys the
acceleration bound. Pure NumPy; one filter per control loop, used from the loop's thread only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jafm_robot.contract import ACTION_DIM
from jafm_robot.robots.config import RobotConfig
from jafm_robot.runtime.kinematics import fk_for

STATES = ("idle", "ok", "stale", "estop", "hold", "nan_rejected", "workspace")


class SafetyFilter:
    """Limit every command in position, velocity and acceleration; hold on bad input, stale data, e-stop."""

    def __init__(
        self,
        robot_cfg: RobotConfig,
        dt: float,
        workspace: tuple[np.ndarray, np.ndarray] | None = None,
        stale_after: float = 0.5,
        fk: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be > 0, got {dt}")
        if not stale_after > 0:
            raise ValueError(f"stale_after must be > 0, got {stale_after}")
        self.cfg = robot_cfg
        self.dt = float(dt)
        self.low = robot_cfg.action_low.astype(np.float64)
        self.high = robot_cfg.action_high.astype(np.float64)
        self.vmax = robot_cfg.velocity_limit8.astype(np.float64)
        self.amax = robot_cfg.acceleration_limit8.astype(np.float64)
        self.dv = self.amax * self.dt  # the most the velocity may change in one tick
        self._adt2 = self.amax * self.dt * self.dt
        self._8_adt2 = 8.0 / self._adt2
        self._inv_dt = 1.0 / self.dt
        self._d = np.empty((3, ACTION_DIM))  # distances to the limits and to the target, one vb call
        self.stale_after = float(stale_after)
        self.workspace = None
        self.fk = fk
        if workspace is not None:
            lo, hi = (np.asarray(w, dtype=np.float64).reshape(3) for w in workspace)
            if np.any(lo >= hi):
                raise ValueError(f"workspace box must have low < high, got {lo} / {hi}")
            self.workspace = (lo, hi)
            if self.fk is None:
                self.fk = fk_for(robot_cfg.name, robot_cfg.base_position)
            if self.fk is None:
                raise ValueError(f"a workspace box needs an fk callable: none built in for robot {robot_cfg.name!r}")
        self.q: np.ndarray | None = None
        self.v = np.zeros(ACTION_DIM)
        self.state = "idle"
        self.estopped = False
        self.last_fresh: float | None = None
        self._prev_target: np.ndarray | None = None
        self.counts = dict.fromkeys(STATES, 0)
        self.n_clamped = 0

    # ------------------------------------------------------------------------------------ host calls
    def reset(self, q0: np.ndarray) -> None:
        """Start from the measured position ``q0`` at rest (clipped into the limits)."""
        q0 = np.asarray(q0, dtype=np.float64).reshape(-1)
        if q0.shape != (ACTION_DIM,) or not np.all(np.isfinite(q0)):
            raise ValueError(f"initial state must be {ACTION_DIM} finite numbers, got {q0}")
        self.q = np.minimum(np.maximum(q0, self.low), self.high)
        self.v = np.zeros(ACTION_DIM)
        self._prev_target = None

    def feed(self, now: float) -> None:
        """A fresh chunk arrived at ``now``: the watchdog is satisfied until ``now + stale_after``."""
        self.last_fresh = float(now)

    def estop(self) -> None:
        self.estopped = True

    def reset_estop(self) -> None:
        self.estopped = False
        self._prev_target = None

    # ---------------------------------------------------------------------------------------- limits
    def braking_velocity(self, d: np.ndarray) -> np.ndarray:
        """Largest next-tick velocity from which braking at ``a_max`` stops within distance ``d`` (>= 0).

        Braking from v takes the velocities v - a dt, v - 2 a dt, ... and travels
        S(v) = dt * (v + sum_j max(0, v - j a dt)), piecewise linear and increasing in v. With n the
        number of full braking ticks, S(n a dt) = a dt^2 n(n+1)/2; solve for the largest n that fits
        in d, then for v on that linear piece. ``d`` is (..., 8): one call serves several bounds.
        """
        d = np.maximum(d, 0.0)
        n = np.floor((np.sqrt(1.0 + d * self._8_adt2) - 1.0) * 0.5)
        tri = n * (n + 1) * 0.5
        over = self._adt2 * tri > d  # guard the rounding of sqrt
        if over.any():
            n = np.where(over, n - 1, n)
            tri = n * (n + 1) * 0.5
        return (d * self._inv_dt + self.dv * tri) / (n + 1)

    def braking_distance(self, v: np.ndarray) -> np.ndarray:
        """Signed distance travelled after a tick at velocity ``v`` while braking at ``a_max`` to rest."""
        s = np.abs(v)
        n = np.floor(s / self.dv)
        return np.sign(v) * self.dt * (n * s - self.dv * n * (n + 1) / 2)

    def _window(self, e: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The admissible velocities of the next tick, [lo, hi] per axis (and vb(|e|) when ``e`` is given).

        In exact arithmetic lo <= hi always (braking by ``a_max*dt`` stays admissible). Rounding can
        make the braking bound undercut the acceleration bound by ~1e-13; then the position side
        wins (both ends set to the braking bound), so the limit is never crossed and the excess
        deceleration stays at rounding level instead of compounding tick after tick.
        """
        d = self._d
        np.subtract(self.q, self.low, out=d[0])
        np.subtract(self.high, self.q, out=d[1])
        if e is not None:
            np.abs(e, out=d[2])
        else:
            d[2] = 0.0
        vb = self.braking_velocity(d)
        pos_lo, pos_hi = -vb[0], vb[1]
        lo = np.maximum(np.maximum(self.v - self.dv, -self.vmax), pos_lo)
        hi = np.minimum(np.minimum(self.v + self.dv, self.vmax), pos_hi)
        bad = lo > hi
        if bad.any():
            fix = np.where(pos_lo > hi, pos_lo, pos_hi)
            lo = np.where(bad, fix, lo)
            hi = np.where(bad, fix, hi)
        return lo, hi, (vb[2] if e is not None else None)

    def _outside(self, q: np.ndarray) -> float:
        """Distance (m) of the tool point at ``q`` outside the workspace box (0 inside)."""
        lo, hi = self.workspace
        x = np.asarray(self.fk(q[:7]), dtype=np.float64)
        return float(np.linalg.norm(np.maximum(np.maximum(lo - x, x - hi), 0.0)))

    # ------------------------------------------------------------------------------------------ tick
    def step(
        self,
        now: float,
        target: np.ndarray | None,
        target_vel: np.ndarray | None = None,
        hold: bool = False,
    ) -> np.ndarray:
        """One tick: the next command (float64[8]) toward ``target`` within every limit.

        ``target_vel`` is the reference velocity (the blender's); without it, it is estimated from the
        previous target. It lets the filter track a moving reference without lag while still
        approaching a *stationary* target without overshoot (braking-velocity bound on the error).
        """
        if self.q is None:
            raise RuntimeError("SafetyFilter.step before reset(q0)")
        mode = "ok"
        tgt = vt = None
        if self.estopped:
            mode = "estop"
        elif hold:
            mode = "hold"
        elif self.last_fresh is None:
            mode = "idle"
        elif now - self.last_fresh > self.stale_after:
            mode = "stale"
        elif target is None:
            mode = "idle"
        else:
            try:
                tgt = np.asarray(target, dtype=np.float64).reshape(-1)
                vt = None if target_vel is None else np.asarray(target_vel, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                tgt = None
            if (
                tgt is None
                or tgt.shape != (ACTION_DIM,)
                or not np.isfinite(tgt).all()
                or (vt is not None and (vt.shape != (ACTION_DIM,) or not np.isfinite(vt).all()))
            ):
                mode = "nan_rejected"

        if mode == "ok":
            # np.minimum/np.maximum, not np.clip: the wrapper costs 5 us a call, and this runs at 1 kHz
            clipped = np.minimum(np.maximum(tgt, self.low), self.high)
            if (clipped != tgt).any():
                self.n_clamped += 1
            if vt is None:
                vt = np.zeros(ACTION_DIM) if self._prev_target is None else (clipped - self._prev_target) * self._inv_dt
            vt = np.minimum(np.maximum(vt, -self.vmax), self.vmax)
            self._prev_target = clipped
            e = clipped - self.q - vt * self.dt  # error relative to where the reference is heading
            lo, hi, vb_e = self._window(e)
            v_des = vt + np.sign(e) * np.minimum(np.abs(e) * self._inv_dt, vb_e)
        else:
            self._prev_target = None
            lo, hi, _ = self._window()
            v_des = np.zeros(ACTION_DIM)
        v_new = np.minimum(np.maximum(v_des, lo), hi)

        if self.workspace is not None and mode == "ok":
            v_brake = np.minimum(np.maximum(0.0, lo), hi)
            q_c = self.q + v_new * self.dt
            out_c = self._outside(q_c + self.braking_distance(v_new))
            if out_c > 1e-9:
                q_b = self.q + v_brake * self.dt
                if out_c >= self._outside(q_b + self.braking_distance(v_brake)) - 1e-12:
                    v_new = v_brake
                    mode = "workspace"

        q_new = np.minimum(np.maximum(self.q + v_new * self.dt, self.low), self.high)
        self.v = (q_new - self.q) * self._inv_dt
        self.q = q_new
        self.state = mode
        self.counts[mode] += 1
        return q_new.copy()

    def status(self, now: float | None = None) -> dict:
        """Diagnostics for ``/diagnostics`` and the CLI: state, counts, last command."""
        age = None if (now is None or self.last_fresh is None) else float(now - self.last_fresh)
        return {
            "state": self.state,
            "estop_latched": self.estopped,
            "counts": dict(self.counts),
            "targets_clamped": self.n_clamped,
            "since_fresh_chunk_s": age,
            "q": None if self.q is None else self.q.tolist(),
            "v": self.v.tolist(),
        }
