"""Action chunks and the trajectory that the control loop samples between them.

A policy emits a chunk of ``K`` absolute action points ``dt`` apart (10 Hz) from one observation; the
control loop runs at 500-1000 Hz. :class:`ChunkBlender` turns the stream of chunks into a smooth
position/velocity reference:

* **Timing.** Point ``i`` of a chunk stamped ``stamp`` (the *observation* time, on the loop's clock)
  is the target for ``stamp + (i + lead) * dt`` with ``lead = 1``: the first point is where the arm
  should be one action period after the camera frame it was computed from. Hosts that train
  differently set ``lead`` (0 = the first point is due at the observation time).
* **Interpolation.** A cubic Hermite spline through the points with Catmull-Rom tangents, so
  velocity is continuous and every action point is hit exactly at its time. The spline starts at the
  *commanded* position and velocity at the moment the chunk is taken in (knot 0), which keeps the
  reference continuous in position and velocity whatever the new chunk says; it ends with zero
  velocity at the last point and then holds it (a policy that stops sending chunks stops the arm
  smoothly at the last target even before the watchdog acts).
* **Blending.** A new chunk does not replace the old plan at once: over ``blend_time`` the reference
  crossfades from the old trajectory to the new one with a smoothstep weight (zero slope at both
  ends), in the manner of real-time chunking's overlap blending. Both trajectories and the weight
  are C1, so the blend is C1: no jump in position or velocity at a chunk boundary.
* **Averaging overlaps.** Where a new chunk's points fall inside the time span of the chunk in force,
  each is averaged with that chunk's plan at the same time (linear between its points):
  ``overlap_weight * new + (1 - overlap_weight) * old``, the rest of the new chunk is taken as it is.
  This is ACT's temporal ensembling at the re-planning rhythm: with a chunk re-planned every half
  chunk, the first half of each new chunk is the mean of two predictions made half a chunk apart,
  so one frame's misjudgement of a grasp moves the hand half as far. The chunk in force is itself
  the averaged one, so at faster re-planning older plans weigh in with geometrically falling
  weights. ``overlap_weight = 1`` switches it off (each chunk replaces the plan). PickPlace
  figures: ``docs/results.md``.
* **Dropping.** A chunk stamped at or before the newest one already taken in is dropped (it comes
  from an older observation: out of order or a duplicate), as is one whose points all lie in the
  past. Points that are already due (closer than ``min_lead`` ahead) are skipped: the arm cannot
  reach them without a jump.

Pure NumPy and single-threaded: the control loop's thread owns a blender; other threads hand chunks
to the loop, never to the blender directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jafm_robot.contract import ACTION_DIM

DEFAULT_OVERLAP_WEIGHT = 0.5
"""The newer chunk's weight where two chunks overlap, for every host unless told (see the module
docstring): the plain mean of the two predictions."""


def default_replan_every(chunk_len: int) -> int:
    """Action points executed per inference when a host is not told: half a chunk.

    Every host uses this one rule (``eval``'s ChunkExecutor, ``run``/``demo``'s real-time runner,
    ``policy_node``), so a policy meets the same re-planning rhythm in the gym loop, the runtime
    and ROS, and ``run`` reproduces ``eval``. Re-planning every point is not just "more reactive":
    a chunk policy trained on demonstrations that start from rest can stall at the start, because
    at rest its first point is a tiny step and the state carries no velocity to say it has begun.
    """
    return max(1, int(chunk_len) // 2)


def replan_rate_hz(action_dt: float, chunk_len: int, replan_every: int | None = None) -> float:
    """Inferences per second for a policy re-planned every ``replan_every`` action points
    (:func:`default_replan_every` when not told): the rate the runtime and ``policy_node`` pace at."""
    k = int(replan_every or default_replan_every(chunk_len))
    if k < 1:
        raise ValueError(f"replan_every must be >= 1, got {k}")
    return 1.0 / (float(action_dt) * k)


def check_overlap_weight(w: float) -> float:
    """``w`` if it is a valid overlap weight (0 < w <= 1), else a ValueError that names it.

    Called in two places only: :class:`jafm_robot.runtime.assembly.RuntimeParams` (every host's
    parameters, validated once) and the CLI's ``--overlap-weight`` argparse type (a usage error before
    anything loads)."""
    if not (isinstance(w, (int, float)) and np.isfinite(w) and 0.0 < w <= 1.0):
        raise ValueError(f"overlap_weight must be in (0, 1] (1 = no averaging), got {w!r}")
    return float(w)


@dataclass(frozen=True)
class ActionChunk:
    """``points[i]`` is due at ``stamp + (i + lead) * dt`` (seconds on the control loop's clock)."""

    stamp: float
    dt: float
    points: np.ndarray
    lead: int = 1

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != ACTION_DIM or pts.shape[0] < 1:
            raise ValueError(f"chunk points must be float[K>=1, {ACTION_DIM}], got shape {list(pts.shape)}")
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"chunk dt must be > 0, got {self.dt}")
        if not np.isfinite(self.stamp):
            raise ValueError(f"chunk stamp must be finite, got {self.stamp}")
        object.__setattr__(self, "points", pts)

    @property
    def times(self) -> np.ndarray:
        return self.stamp + (np.arange(len(self.points)) + self.lead) * self.dt

    @property
    def end_time(self) -> float:
        return float(self.stamp + (len(self.points) - 1 + self.lead) * self.dt)

    @property
    def finite(self) -> bool:
        return bool(np.all(np.isfinite(self.points)))


class HermiteTrajectory:
    """Cubic Hermite spline through (t_i, p_i) with Catmull-Rom tangents, C1, held after the end.

    ``v0`` is the velocity at the first knot (the commanded velocity when the chunk was taken in),
    the last knot has zero velocity.
    """

    def __init__(self, times: np.ndarray, points: np.ndarray, v0: np.ndarray | None = None) -> None:
        t = np.asarray(times, dtype=np.float64)
        p = np.asarray(points, dtype=np.float64)
        if t.ndim != 1 or p.shape[0] != t.shape[0] or np.any(np.diff(t) <= 0):
            raise ValueError("knot times must be strictly increasing and match the points")
        self.t = t
        self.p = p
        m = np.zeros_like(p)
        if len(t) > 2:
            m[1:-1] = (p[2:] - p[:-2]) / (t[2:] - t[:-2])[:, None]
        if v0 is not None:
            m[0] = v0
        self.m = m

    @property
    def start(self) -> float:
        return float(self.t[0])

    @property
    def end(self) -> float:
        return float(self.t[-1])

    def __call__(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Position and velocity at ``t`` (held at the first/last knot outside the knots)."""
        if len(self.t) == 1 or t >= self.t[-1]:
            return self.p[-1].copy(), np.zeros(self.p.shape[1])
        if t <= self.t[0]:
            return self.p[0].copy(), self.m[0].copy() if t == self.t[0] else np.zeros(self.p.shape[1])
        i = int(np.searchsorted(self.t, t, side="right") - 1)
        h = self.t[i + 1] - self.t[i]
        s = (t - self.t[i]) / h
        p0, p1, m0, m1 = self.p[i], self.p[i + 1], self.m[i] * h, self.m[i + 1] * h
        s2, s3 = s * s, s * s * s
        pos = (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * m0 + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * m1
        vel = ((6 * s2 - 6 * s) * p0 + (3 * s2 - 4 * s + 1) * m0 + (-6 * s2 + 6 * s) * p1 + (3 * s2 - 2 * s) * m1) / h
        return pos, vel


class _Hold:
    """A constant reference (before any chunk, after a reset)."""

    def __init__(self, q: np.ndarray) -> None:
        self.q = np.asarray(q, dtype=np.float64).copy()
        self.end = -np.inf

    def __call__(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        return self.q.copy(), np.zeros_like(self.q)


class _Crossfade:
    """``old`` -> ``new`` over [t0, t1] with a smoothstep weight; exactly ``new`` after t1."""

    def __init__(self, old, new, t0: float, t1: float) -> None:
        self.old, self.new, self.t0, self.t1 = old, new, t0, t1

    @property
    def end(self) -> float:
        return max(self.new.end, self.t1)

    def __call__(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        if t >= self.t1:
            return self.new(t)
        pn, vn = self.new(t)
        po, vo = self.old(t)
        s = min(max((t - self.t0) / (self.t1 - self.t0), 0.0), 1.0)
        w = s * s * (3 - 2 * s)
        dw = 6 * s * (1 - s) / (self.t1 - self.t0)
        return (1 - w) * po + w * pn, (1 - w) * vo + w * vn + dw * (pn - po)


class ChunkBlender:
    """Chunks in, a C1 position/velocity reference out (see the module docstring for the rules)."""

    def __init__(self, blend_time: float = 0.1, min_lead: float | None = None,
                 overlap_weight: float = DEFAULT_OVERLAP_WEIGHT) -> None:
        """``overlap_weight`` is taken as given: hosts validate it once, in
        :class:`jafm_robot.runtime.assembly.RuntimeParams` (which builds their blender)."""
        if blend_time < 0:
            raise ValueError(f"blend_time must be >= 0, got {blend_time}")
        self.blend_time = float(blend_time)
        self.overlap_weight = float(overlap_weight)
        self.min_lead = min_lead
        self._traj = None
        self._chunk: ActionChunk | None = None
        self.last_stamp = -np.inf
        self.n_accepted = 0
        self.n_dropped_old = 0
        self.n_dropped_expired = 0
        self.n_rejected_invalid = 0

    def reset(self, q: np.ndarray) -> None:
        """Forget every chunk and hold ``q`` (the loop calls it at start, after an e-stop, on hold)."""
        self._traj = _Hold(q)
        self._chunk = None

    @property
    def active(self) -> bool:
        """Whether a chunk currently drives the reference."""
        return self._chunk is not None

    def add(self, chunk: ActionChunk, t: float, q_now: np.ndarray, v_now: np.ndarray) -> bool:
        """Take in ``chunk``, starting from ``q_now``/``v_now``, the command for time ``t``; False if dropped.

        ``t`` must be the time the command was *for* (the control loop passes its previous tick), not
        the time of the call: anchoring a one-tick-old command at "now" would put a kink of one
        tick's motion into the reference.
        """
        if not chunk.finite:
            # NaN/Inf points: the safety filter would hold anyway; keep following the old plan instead.
            self.n_rejected_invalid += 1
            return False
        if chunk.stamp <= self.last_stamp:
            self.n_dropped_old += 1
            return False
        chunk = self._average_overlap(chunk)
        min_lead = 0.5 * chunk.dt if self.min_lead is None else self.min_lead
        times = chunk.times
        keep = times >= t + min_lead
        if not np.any(keep):
            self.n_dropped_expired += 1
            return False
        q_now = np.asarray(q_now, dtype=np.float64)
        v_now = np.asarray(v_now, dtype=np.float64)
        knots_t = np.concatenate([[t], times[keep]])
        knots_p = np.vstack([q_now[None], chunk.points[keep]])
        new = HermiteTrajectory(knots_t, knots_p, v0=v_now)
        old = self._traj if self._traj is not None else _Hold(q_now)
        if self.blend_time > 0 and not isinstance(old, _Hold):
            self._traj = _Crossfade(old, new, t, t + self.blend_time)
        else:
            self._traj = new
        self._chunk = chunk
        self.last_stamp = chunk.stamp
        self.n_accepted += 1
        return True

    def _average_overlap(self, chunk: ActionChunk) -> ActionChunk:
        """``chunk`` with each point inside the span of the chunk in force averaged with that
        chunk's plan at the point's time (see the module docstring); as it is when nothing overlaps."""
        old = self._chunk
        if old is None or self.overlap_weight >= 1.0:
            return chunk
        t_old, t_new = old.times, chunk.times
        eps = 1e-9 * max(1.0, abs(float(t_old[-1])))  # points due at the same step, up to rounding
        inside = (t_new >= t_old[0] - eps) & (t_new <= t_old[-1] + eps)
        if not np.any(inside):
            return chunk
        at = np.clip(t_new[inside], t_old[0], t_old[-1])
        old_pts = np.stack([np.interp(at, t_old, old.points[:, d]) for d in range(old.points.shape[1])], axis=1)
        pts = chunk.points.copy()
        pts[inside] = self.overlap_weight * pts[inside] + (1.0 - self.overlap_weight) * old_pts
        return ActionChunk(stamp=chunk.stamp, dt=chunk.dt, points=pts, lead=chunk.lead)

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Reference position and velocity at ``t``; None before any reset/chunk."""
        if self._traj is None:
            return None
        if isinstance(self._traj, _Crossfade) and t >= self._traj.t1:
            self._traj = self._traj.new  # the blend is over: drop the old plan (keeps nesting shallow)
        return self._traj(t)

    def chunk_age(self, t: float) -> float:
        """Seconds since the observation behind the current chunk (NaN when no chunk drives the reference)."""
        return float(t - self._chunk.stamp) if self._chunk is not None else float("nan")

    def stats(self) -> dict[str, int]:
        return {
            "chunks_accepted": self.n_accepted,
            "chunks_dropped_old": self.n_dropped_old,
            "chunks_dropped_expired": self.n_dropped_expired,
            "chunks_rejected_invalid": self.n_rejected_invalid,
        }
