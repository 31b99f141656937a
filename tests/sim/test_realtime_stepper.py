"""The one real-time stepper (envs.realtime.RealtimeStepper) that ``run``'s simulator process and
``sim_node`` share: its lag policy and its success rule, on a real env and the real wall clock.

Assertions are on counts and state (substeps, checks, drops, the latched outcome), never on how long
anything took.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from jafm_robot.envs.core import RobotTaskEnv
from jafm_robot.envs.realtime import RealtimeStepper

from .helpers import teleport


@pytest.fixture
def env():
    e = RobotTaskEnv(task="PickPlace", image_size=32)
    e.reset(seed=1)
    yield e
    e.close()


def _run_until(stepper: RealtimeStepper, cond, limit_s: float = 20.0) -> None:
    """Advance on the wall clock until ``cond()`` (a safety cap on the wall time, not an assertion)."""
    end = time.monotonic() + limit_s
    while not cond() and time.monotonic() < end:
        if stepper.advance() == 0:
            time.sleep(min(stepper.wait_s(), 0.002))


def _into_goal_bin(env: RobotTaskEnv) -> None:
    g = env.task.goal
    part = env.world.part(g["part"])
    xyz = np.array(g["bin_position"], np.float64)
    xyz[2] = env.world.table_height + part.half_height + 0.03
    teleport(env, part, xyz, settle_steps=0)  # the stepper steps it down into the bin


def test_lag_beyond_the_bound_is_dropped_and_counted(env):
    stepper = RealtimeStepper(env, max_lag=0.05, time_limit=5.0)
    burst = int(np.ceil(0.05 / stepper.dt))
    _run_until(stepper, lambda: stepper.substeps >= 24)
    drops, dropped = stepper.lag_drops, stepper.lag_dropped_s
    time.sleep(0.3)  # the host stalls (rendering, a loaded machine) far beyond the bound
    before = stepper.substeps
    n = stepper.advance()
    # caught up with at most the bound's worth of back-to-back substeps; the rest was dropped and counted
    assert 1 <= n <= burst + 1 and stepper.substeps == before + n
    assert stepper.lag_drops >= drops + 1 and stepper.lag_dropped_s > dropped
    rep = stepper.report()
    assert rep.lag_drops == stepper.lag_drops and rep.max_lag_ms <= 50.0 + 1e-6  # never later than the bound
    assert rep.sim_time == pytest.approx(stepper.substeps * stepper.dt) and not rep.ended


def test_success_is_decided_at_the_first_check_that_reports_it(env):
    """As in eval: checked every action period of simulated time, the first success ends the episode."""
    stepper = RealtimeStepper(env, time_limit=5.0)
    _into_goal_bin(env)
    _run_until(stepper, lambda: stepper.done)
    rep = stepper.report()
    assert rep.success and rep.ended and rep.outcome == "success"
    # decided on a check, at an action-period boundary of simulated time, and stepping stopped there
    assert rep.substeps == rep.checks * env.substeps
    assert rep.success_time == pytest.approx(rep.checks * env.action_dt)
    assert stepper.advance() == 0 and stepper.substeps == rep.substeps


def test_a_decided_success_stays_latched_while_the_world_goes_on(env):
    """sim_node keeps stepping after the episode is judged; the part leaving the bin does not undo it,
    a new goal (reopen) is judged afresh."""
    stepper = RealtimeStepper(env, time_limit=5.0, stop_at_end=False)
    _into_goal_bin(env)
    _run_until(stepper, lambda: stepper.ended)
    assert stepper.success
    decided_at, checks = stepper.success_time, stepper.checks
    part = env.world.part(env.task.goal["part"])
    teleport(env, part, [0.45, 0.3, env.world.table_height + part.half_height + 0.002], settle_steps=0)
    target = stepper.substeps + 3 * env.substeps
    _run_until(stepper, lambda: stepper.substeps >= target)
    assert stepper.success and stepper.success_time == decided_at and stepper.checks == checks  # no more checks
    assert not env.task.is_success()  # the world did change
    stepper.reopen()
    target = stepper.substeps + 2 * env.substeps
    _run_until(stepper, lambda: stepper.substeps >= target)
    assert not stepper.success and stepper.checks >= checks + 1


def test_the_time_limit_ends_a_failed_episode_on_its_last_check(env):
    stepper = RealtimeStepper(env, time_limit=0.5)
    _run_until(stepper, lambda: stepper.done)
    rep = stepper.report()
    assert rep.ended and not rep.success and rep.success_time is None
    assert rep.checks == 5 and rep.substeps == 5 * env.substeps  # 0.5 s of simulated time, 5 action periods
    assert rep.outcome == "never lifted"
    # a fresh episode on the same stepper starts from zero
    env.reset(seed=2)
    stepper.reset()
    assert (stepper.substeps, stepper.checks, stepper.ended, stepper.lag_drops) == (0, 0, False, 0)
    assert stepper.time_limit == pytest.approx(env.max_episode_steps * env.action_dt)  # the task's, as eval
