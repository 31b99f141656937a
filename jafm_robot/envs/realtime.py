"""One real-time stepper: a :class:`~jafm_robot.envs.core.RobotTaskEnv` advanced on the wall clock.

Both hosts that run the work cell as a robot -- ``jafm-robot run``'s simulator process
(:mod:`jafm_robot.hosts.sim_process`) and ``sim_node`` (:mod:`jafm_robot.ros.sim_node`) -- step physics
through :class:`RealtimeStepper`, so they follow one lag policy and judge an episode by one success
rule, and the same seeds give the same outcomes in ``run`` and through the ROS graph. The reference
they both follow is ``eval``, the gymnasium loop (docs/architecture.md, "Gymnasium environments":
``terminated`` on success, ``truncated`` by the time limit, success from privileged state).

**Success rule** (the same as ``RobotTaskEnv.step``): every ``action_dt`` of *simulated* time -- the
instants at which the gym loop ends a ``step`` -- the task records its step
(``task.track_step()``: which parts were lifted, which the failure mode needs) and is asked
``is_success()``. The first check that reports success decides the episode: it is a success, at that
simulated time, and it stays one (``eval`` terminates there, so a part that bounces out of the bin
afterwards cannot change its result either). If no check has reported success once simulated time
reaches the time limit (the task's ``max_episode_steps * action_dt`` unless told), the episode is a
failure, judged at the last check (``eval`` truncates there). Why not "success must hold for a while"
(``run`` used to ask for 0.3 s): ``eval`` does not, so ``run`` counted fewer successes than ``eval``
on the same seeds; why not "judge at camera ticks" (``sim_node`` did): the wall-clock tick drifted
against the action periods and the lifted-part history was sampled at a different rate than in the
gym loop, which changes failure modes. Checking on simulated time makes the rule independent of the
host's frame rates and of how late physics runs.

**Lag policy** (a real-time host's, bounded): a physics substep of ``sim_dt`` is taken once its end
time has come on the wall clock (``real_time_factor`` x elapsed). When the host falls behind
(rendering, a loaded machine), it catches up with back-to-back substeps, but never more than
``max_lag`` seconds of wall time: debt beyond that is dropped -- the world pauses for that long
instead of being replayed in a burst that would leave the arm's controller commanding a future it
never saw -- and the dropped time and the number of drops are counted and reported. Simulated time
is what the time limit and the success rule count, so a dropped stretch never eats into an episode.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

MAX_LAG_S = 0.25
"""Most wall-clock physics debt caught up with back-to-back substeps; more is dropped (and counted)."""


@dataclass
class StepperReport:
    """What both real-time hosts report about an episode (``run``'s ``RunEpisode.sim``, ``sim_node``'s
    ``~/result``): outcome, simulated and wall time, and how well physics kept up with the clock."""

    success: bool
    outcome: str  # "success", or the task's failure mode (privileged state)
    ended: bool  # decided: success, or the time limit reached without one
    sim_time: float  # simulated seconds stepped
    success_time: float | None  # simulated time of the check that decided success
    wall_time: float  # wall seconds since the episode started
    substeps: int
    checks: int  # success checks (one per action period of simulated time)
    max_lag_ms: float  # how late a substep was taken, worst and mean (after dropping)
    mean_lag_ms: float
    lag_dropped_s: float  # wall time not simulated because physics fell more than max_lag behind
    lag_drops: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RealtimeStepper:
    """Advances ``env`` (a reset ``RobotTaskEnv``) on the wall clock; see the module docstring.

    ``stop_at_end``: ``run`` ends an episode when it is decided, as ``eval`` does (:meth:`advance`
    takes no further substeps); ``sim_node`` is a robot that keeps existing after its episode is judged,
    so it keeps stepping and the decision stays latched until :meth:`reset`.
    """

    def __init__(self, env: Any, *, time_limit: float | None = None, max_lag: float = MAX_LAG_S,
                 real_time_factor: float = 1.0, stop_at_end: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(max_lag) and max_lag >= 0):
            raise ValueError(f"max_lag must be >= 0 s, got {max_lag!r}")
        if not (math.isfinite(real_time_factor) and real_time_factor > 0):
            raise ValueError(f"real_time_factor must be > 0, got {real_time_factor!r}")
        self.env = env
        self.dt = float(env.sim_dt)
        self.check_every = int(env.substeps)  # substeps per action period: where env.step checks success
        self.max_lag = float(max_lag)
        self.rtf = float(real_time_factor)
        self.stop_at_end = stop_at_end
        self.clock = clock
        self._burst = math.ceil(self.max_lag / self.dt)
        self.reset(time_limit)

    # ------------------------------------------------------------------------------------- episode
    def reset(self, time_limit: float | None = None) -> None:
        """Start an episode now (call right after ``env.reset``): simulated time 0 at this wall time.

        ``time_limit`` in simulated seconds; ``None`` = the task's, ``max_episode_steps * action_dt``
        (as ``eval``); ``math.inf`` = none (a live graph: undecided until a success)."""
        limit = float(self.env.max_episode_steps * self.env.action_dt) if time_limit is None else float(time_limit)
        if not limit > 0:  # NaN too
            raise ValueError(f"time_limit must be > 0 s, got {time_limit!r}")
        self.time_limit = limit
        self.limit_substeps = max(1, round(limit / self.dt)) if math.isfinite(limit) else None
        self.wall0 = self.clock()
        self.substeps = 0
        self.checks = 0
        self.success = False
        self.success_time: float | None = None
        self.ended = False
        self.outcome = ""
        self.lag_dropped_s = 0.0
        self.lag_drops = 0
        self._lag_max = 0.0
        self._lag_sum = 0.0

    def reopen(self) -> None:
        """The goal changed mid-episode (a new instruction): judge it afresh from the next check.

        A success latched for the old goal is withdrawn; the episode clock and time limit go on."""
        self.success, self.success_time, self.ended = False, None, False

    @property
    def sim_time(self) -> float:
        return self.substeps * self.dt

    @property
    def done(self) -> bool:
        """Whether a host that stops at the end should stop stepping."""
        return self.ended and self.stop_at_end

    def stamp(self, sim_t: float | None = None) -> float:
        """The wall-clock (``clock``) time that simulated time ``sim_t`` (default: now) stands for."""
        return self.wall0 + (self.sim_time if sim_t is None else sim_t) / self.rtf

    def wait_s(self) -> float:
        """Wall seconds until the next substep is due (0 if it is due now)."""
        return max(0.0, self.stamp(self.sim_time + self.dt) - self.clock())

    # --------------------------------------------------------------------------------------- stepping
    def advance(self, before: Callable[[], None] | None = None,
                after: Callable[[float], None] | None = None) -> int:
        """Take every substep that is due by now; the number taken (0: ahead of the clock, or done).

        ``before()`` runs before each substep (apply the newest command), ``after(sim_t)`` after each
        (publish state, frames). The clock is read before every substep, so time spent in ``after``
        (rendering) is caught up within this call, up to ``max_lag``; beyond it the debt is dropped.
        One call takes at most ``max_lag`` worth of substeps (plus one), so a host whose physics is
        slower than real time still gets back control between calls (to publish, to reset).
        """
        n = 0
        while not self.done and n <= self._burst:
            lag = self.clock() - self.stamp(self.sim_time + self.dt)  # how late the next substep is
            if lag < 0:
                break
            if lag > self.max_lag:
                drop = lag - self.max_lag
                self.wall0 += drop  # the world pauses for the dropped stretch
                self.lag_dropped_s += drop
                self.lag_drops += 1
                lag = self.max_lag
            self._lag_max = max(self._lag_max, lag)
            self._lag_sum += lag
            if before is not None:
                before()
            self.substep()
            n += 1
            if after is not None:
                after(self.sim_time)
        return n

    def substep(self) -> None:
        """One physics substep, and the success rule where an action period ends."""
        self.env.step_physics(1)
        self.substeps += 1
        if self.substeps % self.check_every == 0 and not self.ended:
            self._check()

    def _check(self) -> None:
        task = self.env.task
        task.track_step()  # what env.step does every action period: which parts were lifted
        self.checks += 1
        ok = bool(task.is_success())
        self.outcome = task.outcome(ok)
        if ok:
            self.success, self.success_time, self.ended = True, self.sim_time, True
        elif self.limit_substeps is not None and self.substeps >= self.limit_substeps:
            self.ended = True

    def report(self) -> StepperReport:
        return StepperReport(
            success=self.success, outcome=self.outcome or self.env.task.outcome(self.success),
            ended=self.ended, sim_time=self.sim_time, success_time=self.success_time,
            wall_time=self.clock() - self.wall0 + self.lag_dropped_s, substeps=self.substeps, checks=self.checks,
            max_lag_ms=self._lag_max * 1e3, mean_lag_ms=self._lag_sum / self.substeps * 1e3 if self.substeps else 0.0,
            lag_dropped_s=self.lag_dropped_s, lag_drops=self.lag_drops,
        )
