"""SafetyFilter: limits, velocity and acceleration bounds on any input; watchdog; e-stop; workspace."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jafm_robot.robots.config import load_robot_config
from jafm_robot.runtime.kinematics import panda_fk
from jafm_robot.runtime.safety import SafetyFilter

CFG = load_robot_config("panda")
LOW, HIGH = CFG.action_low.astype(float), CFG.action_high.astype(float)
VMAX, AMAX = CFG.velocity_limit8, CFG.acceleration_limit8
REL = 1e-9  # floating-point slack on the bounds


def check_step(q_prev, v_prev, q, dt):
    """The three guarantees of one command; returns its velocity."""
    assert np.all(np.isfinite(q))
    assert np.all(q >= LOW - 1e-12) and np.all(q <= HIGH + 1e-12), f"outside limits: {q}"
    v = (q - q_prev) / dt
    assert np.all(np.abs(v) <= VMAX * (1 + REL) + 1e-12), f"velocity {v}"
    assert np.all(np.abs(v - v_prev) <= AMAX * dt * (1 + REL) + 1e-9), f"acceleration {(v - v_prev) / dt}"
    return v


finite_target = st.lists(st.floats(-10, 10, allow_nan=False), min_size=8, max_size=8).map(np.array)
special = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 1e9, 0.0])
garbage_target = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), special), min_size=8, max_size=8).map(
    np.array
)
in_range_target = st.lists(st.floats(0, 1), min_size=8, max_size=8).map(lambda u: LOW + np.array(u) * (HIGH - LOW))
event = st.one_of(
    st.tuples(st.just("target"), st.one_of(finite_target, garbage_target, in_range_target), st.integers(1, 400)),
    st.tuples(st.just("estop"), st.none(), st.integers(1, 50)),
    st.tuples(st.just("reset_estop"), st.none(), st.integers(1, 5)),
    st.tuples(st.just("silence"), st.none(), st.integers(1, 300)),  # no fresh chunk: the watchdog
    st.tuples(st.just("bad_shape"), st.none(), st.integers(1, 5)),
)


def _check_event_sequence(events, start, dt, with_vel):
    f = SafetyFilter(CFG, dt, stale_after=0.2)
    f.reset(start)
    q_prev, v_prev, now = f.q.copy(), np.zeros(8), 0.0
    for kind, target, n in events:
        if kind == "estop":
            f.estop()
        elif kind == "reset_estop":
            f.reset_estop()
        for _ in range(n):
            now += dt
            if kind == "target":
                f.feed(now)
                tv = None
                if with_vel and np.all(np.isfinite(target)):
                    tv = np.clip(target, -1e6, 1e6) * 0.1  # an inconsistent, possibly huge, reference velocity
                q = f.step(now, target, tv)
            elif kind == "bad_shape":
                f.feed(now)
                q = f.step(now, np.zeros(5))
            else:
                q = f.step(now, None)
            v_prev = check_step(q_prev, v_prev, q, dt)
            q_prev = q
            if f.estopped:
                assert f.state == "estop"


def _check_run_into_limit(start_frac, joint, upward, dt):
    """Full speed toward a limit from anywhere: stop at or before it without exceeding the deceleration."""
    f = SafetyFilter(CFG, dt)
    start = CFG.home8.astype(float)
    start[joint] = LOW[joint] + start_frac * (HIGH[joint] - LOW[joint])
    f.reset(start)
    f.feed(0.0)
    target = start.copy()
    target[joint] = 1e3 if upward else -1e3  # far beyond the limit: clamped, chased at full speed
    q_prev, v_prev = f.q.copy(), np.zeros(8)
    for k in range(int(3.4 / dt)):  # the longest joint (5.8 rad at 2.175 rad/s) arrives in ~2.9 s
        q = f.step(k * dt * 1e-6, target)  # time hardly moves: the watchdog stays satisfied
        v_prev = check_step(q_prev, v_prev, q, dt)
        q_prev = q
    assert q_prev[joint] == pytest.approx(HIGH[joint] if upward else LOW[joint], abs=1e-9)
    assert np.all(np.abs(v_prev) < 1e-9)


sequences = {
    "events": st.lists(event, min_size=1, max_size=12),
    "start": in_range_target,
    "dt": st.sampled_from([0.001, 0.002, 1 / 240]),
    "with_vel": st.booleans(),
}
limit_runs = {
    "start_frac": st.floats(0.0, 1.0),
    "joint": st.integers(0, 7),
    "upward": st.booleans(),
    "dt": st.sampled_from([0.001, 0.002]),
}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**sequences)
def test_every_command_is_inside_every_bound(events, start, dt, with_vel):
    """ANY sequence of targets (garbage, NaN, Inf, huge, jumps), e-stops and silences: all bounds hold."""
    _check_event_sequence(events, start, dt, with_vel)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**sequences)
def test_every_command_is_inside_every_bound_many(events, start, dt, with_vel):
    _check_event_sequence(events, start, dt, with_vel)


@settings(max_examples=8, deadline=None)
@given(**limit_runs)
def test_running_into_a_position_limit_at_speed_brakes_in_time(start_frac, joint, upward, dt):
    _check_run_into_limit(start_frac, joint, upward, dt)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(**limit_runs)
def test_running_into_a_position_limit_at_speed_brakes_in_time_many(start_frac, joint, upward, dt):
    _check_run_into_limit(start_frac, joint, upward, dt)


def test_braking_velocity_is_the_largest_that_stops_in_time():
    f = SafetyFilter(CFG, 0.001)
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = rng.uniform(0, 0.5, 8) * rng.choice([1e-4, 1e-2, 1.0])
        vb = f.braking_velocity(d)
        assert np.all(vb * f.dt + f.braking_distance(vb) <= d + 1e-12)  # stops within d
        faster = vb * (1 + 1e-6) + 1e-9
        assert np.all(faster * f.dt + f.braking_distance(faster) > d)  # and not a bit faster
    assert np.all(f.braking_velocity(np.zeros(8)) == 0)


def test_reaches_a_reachable_target_exactly_without_overshoot():
    dt = 0.002
    f = SafetyFilter(CFG, dt)
    f.reset(CFG.home8)
    f.feed(0.0)
    target = CFG.home8.astype(float) + np.array([0.5, -0.3, 0.2, 0.4, -0.6, 0.3, 0.1, -0.05])
    qs = np.array([f.step(0.0, target) for _ in range(2000)])
    np.testing.assert_allclose(qs[-1], target, atol=1e-9)
    start = CFG.home8.astype(float)
    for j in range(8):  # monotone approach: never beyond the target
        lo, hi = sorted((start[j], target[j]))
        assert qs[:, j].min() >= lo - 1e-12 and qs[:, j].max() <= hi + 1e-12
    assert f.state == "ok"


def test_tracks_a_moving_reference_without_lag():
    dt = 0.001
    f = SafetyFilter(CFG, dt)
    f.reset(CFG.home8)
    f.feed(0.0)
    home = CFG.home8.astype(float)
    errs = []
    for k in range(1, 3000):
        t = k * dt
        ref = home + 0.3 * np.sin(2 * np.pi * 0.5 * t) * np.array([1, 1, 1, 1, 1, 1, 1, 0.0])
        vel = 0.3 * 2 * np.pi * 0.5 * np.cos(2 * np.pi * 0.5 * t) * np.array([1, 1, 1, 1, 1, 1, 1, 0.0])
        q = f.step(t * 1e-6, ref, vel)
        if k > 500:
            errs.append(np.abs(q - ref).max())
    assert max(errs) < 1e-3  # rad: follows a 1 rad/s reference within a fraction of a tick's motion


def _moving_filter(dt: float = 0.001, stale_after: float = 0.5) -> tuple[SafetyFilter, np.ndarray]:
    """A filter whose arm moves at a good speed (reference at +1 rad on every joint)."""
    f = SafetyFilter(CFG, dt, stale_after=stale_after)
    f.reset(CFG.home8)
    f.feed(0.0)
    target = np.clip(CFG.home8.astype(float) + 1.0, LOW, HIGH)
    for _ in range(150):
        f.step(0.0, target)
    assert np.abs(f.v).max() > 1.0
    return f, target


def test_estop_decelerates_at_the_limit_and_stays_stopped():
    dt = 0.001
    f, target = _moving_filter(dt)
    v0 = f.v.copy()
    f.estop()
    q_prev, v_prev = f.q.copy(), f.v.copy()
    n_stop = int(np.max(np.ceil(np.abs(v0) / (AMAX * dt)))) + 1
    for k in range(n_stop + 200):
        f.feed(0.0)  # fresh chunks keep coming: they must not unlatch the e-stop
        q = f.step(0.0, target)
        v = check_step(q_prev, v_prev, q, dt)
        expected = np.sign(v_prev) * np.maximum(np.abs(v_prev) - AMAX * dt, 0.0)
        if k == 0:  # the very first tick after estop() already brakes at the limit
            np.testing.assert_allclose(v, expected, atol=1e-9)
        assert np.all(np.abs(v) <= np.abs(v_prev) + 1e-12)
        assert f.state == "estop"
        q_prev, v_prev = q, v
        if k >= n_stop:
            assert np.all(v == 0)
    held = f.q.copy()
    f.reset_estop()
    f.feed(0.0)
    for _ in range(50):
        f.step(0.0, target)
    assert f.state == "ok" and np.abs(f.q - held).max() > 1e-4  # moves again only after the reset


def test_watchdog_brakes_within_one_period_of_going_stale():
    dt = 0.002
    f, target = _moving_filter(dt, stale_after=0.1)
    # the last fresh chunk was at t=0; time moves on from here
    period_of_stale = None
    q_prev, v_prev = f.q.copy(), f.v.copy()
    for k in range(1, 400):
        t = k * dt
        q = f.step(t, target)
        v_prev = check_step(q_prev, v_prev, q, dt)
        q_prev = q
        if f.state == "stale" and period_of_stale is None:
            period_of_stale = k
    assert period_of_stale == math.floor(0.1 / dt) + 1  # the first tick past stale_after
    assert np.all(v_prev == 0)  # and stopped (decelerated at the limits) long before 400 ticks
    assert f.counts["stale"] > 0
    f.feed(400 * dt)  # a fresh chunk: follows again
    f.step(400 * dt, target)
    assert f.state == "ok"


def test_nan_reference_is_rejected_and_the_arm_brakes():
    dt = 0.001
    f, target = _moving_filter(dt)
    bad = target.copy()
    bad[3] = np.nan
    speeds = []
    for _ in range(400):
        f.step(0.0, bad)
        speeds.append(np.abs(f.v).max())
    assert f.state == "nan_rejected" and f.counts["nan_rejected"] == 400
    assert speeds[-1] == 0 and bool(np.all(np.diff(speeds) <= 1e-12))
    f.step(0.0, target, np.full(8, np.inf))  # a NaN/Inf velocity is rejected too
    assert f.state == "nan_rejected"


def test_idle_before_any_chunk_holds_still():
    f = SafetyFilter(CFG, 0.001)
    f.reset(CFG.home8)
    q = f.step(0.0, CFG.home8 + 0.5)
    assert f.state == "idle"
    np.testing.assert_array_equal(q, CFG.home8.astype(float))


def test_hold_flag_brakes():
    f, target = _moving_filter()
    for _ in range(300):
        f.step(0.0, target, hold=True)
    assert f.state == "hold" and np.all(f.v == 0)


def test_workspace_box_stops_the_tool_inside():
    dt = 0.002
    home = CFG.home8.astype(float)
    x0 = panda_fk(home[:7])
    box = (x0 - 0.08, x0 + 0.08)
    f = SafetyFilter(CFG, dt, workspace=box)  # built-in Panda FK
    f.reset(home)
    f.feed(0.0)
    target = home.copy()
    target[0] += 1.2  # swings the tool far outside the 16 cm box
    target[1] += 0.6
    q_prev, v_prev = f.q.copy(), np.zeros(8)
    for _ in range(3000):
        q = f.step(0.0, target)
        v_prev = check_step(q_prev, v_prev, q, dt)
        q_prev = q
    x = panda_fk(f.q[:7])
    assert np.all(x >= box[0] - 1e-3) and np.all(x <= box[1] + 1e-3)
    assert np.linalg.norm(x - x0) > 0.03  # it did move toward the target before stopping at the wall
    assert f.counts["workspace"] > 0 and np.all(f.v == 0)


def test_bad_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match="dt"):
        SafetyFilter(CFG, 0.0)
    with pytest.raises(ValueError, match="low < high"):
        SafetyFilter(CFG, 0.001, workspace=(np.ones(3), np.zeros(3)))
    f = SafetyFilter(CFG, 0.001)
    with pytest.raises(RuntimeError, match="reset"):
        f.step(0.0, CFG.home8)
    with pytest.raises(ValueError, match="finite"):
        f.reset(np.full(8, np.nan))
