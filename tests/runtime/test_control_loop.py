"""ControlLoop (deterministic step(t) and the real thread) and AsyncPolicyRunner with a real ONNX engine."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jafm_robot.robots.config import load_robot_config
from jafm_robot.runtime.chunks import ActionChunk
from jafm_robot.runtime.control_loop import ControlLoop
from jafm_robot.runtime.engine import PolicyEngine
from jafm_robot.runtime.inference import AsyncPolicyRunner
from jafm_robot.runtime.safety import SafetyFilter
from jafm_robot.runtime.testing import make_dummy_policy

CFG = load_robot_config("panda")
HOME = CFG.home8.astype(np.float64)
JOINTS = np.r_[np.ones(7), 0.0]


@pytest.fixture(scope="module")
def linear_model(tmp_path_factory):
    return make_dummy_policy(tmp_path_factory.mktemp("m") / "linear.onnx", kind="linear")


def _scripted_run(rate: float = 500.0, seconds: float = 2.0, estop_at: float | None = None):
    """Drive a loop tick by tick with chunks arriving at 10 Hz; return the commands."""
    sent: list[np.ndarray] = []
    loop = ControlLoop(CFG, rate_hz=rate, send_command=sent.append, initial_state=HOME)
    period = 1.0 / rate
    rng = np.random.default_rng(3)
    for k in range(int(seconds * rate)):
        t = 10.0 + k * period
        if k % int(0.1 * rate) == 5:
            stamp = t - 0.01
            pts = HOME + 0.3 * np.sin(stamp + 0.1 * np.arange(1, 11))[:, None] * JOINTS + rng.normal(0, 0.01, (1, 8)) * JOINTS
            loop.submit_chunk(ActionChunk(stamp, 0.1, pts))
        if estop_at is not None and abs(t - 10.0 - estop_at) < period / 2:
            loop.estop()
        loop.step(t)
    return np.array(sent), loop


def test_step_is_deterministic():
    a, loop_a = _scripted_run()
    b, _ = _scripted_run()
    np.testing.assert_array_equal(a, b)
    assert len(a) == 1000 and loop_a.ticks == 1000
    assert loop_a.stats()["chunks_accepted"] == 20
    assert np.abs(a - HOME).max() > 0.05  # it did follow the chunks


def test_commands_follow_the_chunks_within_the_limits():
    cmds, loop = _scripted_run(rate=1000.0, seconds=2.0)
    dt = 1e-3
    v = np.diff(cmds, axis=0) / dt
    assert np.all(np.abs(v) <= CFG.velocity_limit8 * (1 + 1e-9))
    assert np.all(np.abs(np.diff(v, axis=0)) <= CFG.acceleration_limit8 * dt * (1 + 1e-9) + 1e-9)
    # after the first chunk, the reference is tracked closely (the filter does not lag it)
    t_end = 10.0 + 1.999
    ref = loop.blender.sample(t_end)[0]
    assert np.abs(cmds[-1] - ref).max() < 5e-3
    s = loop.stats()
    assert s["safety"]["state"] == "ok" and s["chunk_age_p50_ms"] > 0


def test_estop_acts_on_the_next_tick_and_latches():
    cmds, loop = _scripted_run(rate=500.0, seconds=2.0, estop_at=1.0)
    dt = 1 / 500
    v = np.diff(cmds, axis=0) / dt
    k = 500  # the tick at t=1.0 s, where estop() was called just before step()
    speed = np.abs(v[k - 1 :])
    assert np.all(speed[1:] <= speed[:-1] + 1e-12)  # never speeds up again after the e-stop
    assert np.all(speed[-100:] == 0) and loop.safety.state == "estop"
    before = cmds[-1].copy()
    loop.reset_estop()
    loop.step(12.0)
    assert loop.safety.state == "idle"  # released: holds until a fresh chunk, does not jump back to the old plan
    np.testing.assert_array_equal(loop.last_command, before)


def test_watchdog_holds_within_the_stale_window():
    rate = 500.0
    sf = SafetyFilter(CFG, 1 / rate, stale_after=0.2)
    loop = ControlLoop(CFG, rate_hz=rate, safety=sf, initial_state=HOME)
    loop.submit_chunk(ActionChunk(0.0, 0.1, np.tile(HOME + 0.5 * JOINTS, (10, 1))))
    states = []
    for k in range(400):
        loop.step(k / rate)
        states.append(sf.state)
    first_stale = states.index("stale")
    assert first_stale == int(0.2 * rate) + 1  # counted in loop periods after the last fresh chunk
    assert np.all(sf.v == 0)  # and brought to rest


def test_hold_and_resume():
    loop = ControlLoop(CFG, rate_hz=500.0, initial_state=HOME)
    loop.submit_chunk(ActionChunk(0.0, 0.1, np.tile(HOME + 0.3 * JOINTS, (10, 1))))
    for k in range(100):
        loop.step(k / 500)
    loop.hold()
    for k in range(100, 400):
        loop.step(k / 500)
    assert loop.safety.state == "hold" and np.all(loop.safety.v == 0)
    held = loop.last_command.copy()
    loop.submit_chunk(ActionChunk(0.7, 0.1, np.tile(HOME - 0.3 * JOINTS, (10, 1))))  # dropped while holding
    loop.step(0.8)
    np.testing.assert_array_equal(loop.last_command, held)
    loop.resume()
    loop.submit_chunk(ActionChunk(0.85, 0.1, np.tile(HOME - 0.3 * JOINTS, (10, 1))))
    for k in range(1, 50):
        loop.step(0.8 + k / 500)
    assert loop.safety.state == "ok" and np.abs(loop.last_command - held).max() > 1e-3


def test_loop_config_errors():
    with pytest.raises(ValueError, match="rate_hz"):
        ControlLoop(CFG, rate_hz=0)
    with pytest.raises(ValueError, match="dt"):
        ControlLoop(CFG, rate_hz=500, safety=SafetyFilter(CFG, 0.01))


def test_threaded_loop_runs_at_about_its_rate():
    sent: list[np.ndarray] = []
    state_reads = []

    def read_state() -> np.ndarray:
        state_reads.append(1)
        return HOME.copy()

    before = sys.getswitchinterval()
    loop = ControlLoop(CFG, rate_hz=500.0, read_state=read_state, send_command=sent.append)
    loop.start()
    try:
        t0 = time.monotonic()
        loop.submit_chunk(ActionChunk(t0, 0.1, np.tile(HOME + 0.1 * JOINTS, (10, 1))))
        time.sleep(0.6)
    finally:
        loop.stop()
    elapsed = time.monotonic() - t0
    assert not loop.running and loop.error is None
    assert sys.getswitchinterval() == before  # the GIL settings are the process's again
    assert len(state_reads) == 1  # the measured state seeds the loop once
    assert len(sent) >= 0.1 * 500 * elapsed  # it ran (a loose bound: the CI machine is shared)
    s = loop.stats()
    assert s["ticks"] == len(sent) and s["chunks_accepted"] == 1
    for key in ("period_error_p50_us", "period_error_p99_us", "period_error_max_us", "jitter_us", "misses"):
        assert key in s
    assert loop.period_errors().size == len(sent) - 1


def test_send_command_failure_is_reported():
    def boom(_cmd: np.ndarray) -> None:
        raise OSError("robot link down")

    loop = ControlLoop(CFG, rate_hz=200.0, send_command=boom, initial_state=HOME)
    loop.start()
    deadline = time.monotonic() + 5
    while loop.running and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    assert isinstance(loop.error, OSError)


# ------------------------------------------------------------------------------------ policy runner
def _obs(state: np.ndarray, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, (128, 128, 3), dtype=np.uint8),
        "state": state.astype(np.float32),
        "instruction": "赤い箱を青いトレイに置いて",
    }


def test_runner_stamps_skips_and_drops(linear_model):
    eng = PolicyEngine(linear_model, intra_op_threads=1)
    now = [100.0]
    feed: list = []
    got: list[ActionChunk] = []
    runner = AsyncPolicyRunner(eng, lambda: feed[-1] if feed else None, got.append, max_obs_age=0.3, clock=lambda: now[0])
    assert runner.step() is None  # no observation yet
    feed.append((99.95, _obs(HOME)))
    chunk = runner.step()
    assert chunk is not None and chunk.stamp == 99.95 and chunk.dt == pytest.approx(0.1)
    assert chunk.points.shape == (10, 8) and got == [chunk]
    assert runner.step() is None  # the same frame again: skipped
    feed.append((99.5, _obs(HOME)))  # older than max_obs_age when it arrives: dropped
    now[0] = 100.0
    feed[-1] = (99.96 - 0.5, _obs(HOME))
    assert runner.step() is None
    bad = _obs(HOME)
    bad["image"] = np.zeros((64, 64, 3), np.uint8)
    feed.append((99.99, bad))
    assert runner.step() is None  # a bad observation is counted, not raised
    s = runner.stats()
    assert s["chunks"] == 1 and s["skipped_repeat"] >= 1 and s["bad_observation"] == 1 and s["no_observation"] == 1
    assert "uint8[128,128,3]" in s["last_error"] and s["latency_p50_ms"] > 0


def test_policy_and_loop_run_concurrently(linear_model):
    """The real pipeline: camera-ish observations -> ONNX policy thread -> loop thread -> commands."""
    eng = PolicyEngine(linear_model, intra_op_threads=1, allow_spinning=False)
    sent: list[np.ndarray] = []
    loop = ControlLoop(CFG, rate_hz=500.0, send_command=sent.append, initial_state=HOME)
    lock = threading.Lock()

    def get_obs():
        with lock:
            q = HOME if loop.last_command is None else loop.last_command
        return time.monotonic(), _obs(q)

    runner = AsyncPolicyRunner(eng, get_obs, loop.submit_chunk, rate_hz=20.0)
    loop.start()
    runner.start()
    try:
        time.sleep(1.0)
    finally:
        runner.stop()
        loop.stop()
    assert loop.error is None
    rs, ls = runner.stats(), loop.stats()
    assert rs["chunks"] >= 3 and ls["chunks_accepted"] >= 3
    assert ls["safety"]["counts"]["ok"] > 0
    cmds = np.array(sent)
    assert np.all(cmds >= CFG.action_low - 1e-9) and np.all(cmds <= CFG.action_high + 1e-9)


# ------------------------------------------------------------- property: any chunk stream, bounded commands

_value = st.one_of(
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e12, -1e12, 0.0]),
)
_chunk = st.tuples(
    st.floats(-0.5, 0.2),  # stamp offset from now: late, on time or from the future
    st.sampled_from([0.02, 0.1, 0.5]),  # dt
    st.lists(st.lists(_value, min_size=8, max_size=8), min_size=1, max_size=12),  # points
    st.booleans(),  # relative to home (plausible) or absolute (garbage)
)
_event = st.one_of(
    st.tuples(st.just("chunk"), _chunk, st.integers(1, 150)),
    st.tuples(st.just("estop"), st.none(), st.integers(1, 30)),
    st.tuples(st.just("reset_estop"), st.none(), st.integers(1, 30)),
    st.tuples(st.just("hold"), st.none(), st.integers(1, 30)),
    st.tuples(st.just("resume"), st.none(), st.integers(1, 30)),
    st.tuples(st.just("nothing"), st.none(), st.integers(1, 200)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(_event, min_size=1, max_size=10), rate=st.sampled_from([250.0, 500.0, 1000.0]))
def test_any_chunk_stream_gives_commands_within_every_bound(events, rate):
    """Garbage, NaN/Inf, huge, out-of-order and late chunks, e-stops and holds: every command is safe."""
    sent: list[np.ndarray] = []
    loop = ControlLoop(CFG, rate_hz=rate, send_command=sent.append, initial_state=HOME)
    dt = 1.0 / rate
    t = 0.0
    for kind, arg, n in events:
        if kind == "chunk":
            offset, cdt, pts, relative = arg
            pts = np.array(pts, dtype=np.float64)
            if relative:
                pts = HOME + 0.1 * pts
            loop.submit_chunk(ActionChunk(t + offset, cdt, pts))
        elif kind != "nothing":
            getattr(loop, kind)()
        for _ in range(n):
            loop.step(t)
            t += dt
    cmds = np.array(sent)
    assert np.all(np.isfinite(cmds))
    assert np.all(cmds >= CFG.action_low - 1e-9) and np.all(cmds <= CFG.action_high + 1e-9)
    v = np.diff(np.vstack([HOME[None], cmds]), axis=0) / dt
    assert np.all(np.abs(v) <= CFG.velocity_limit8 * (1 + 1e-9) + 1e-9)
    assert np.all(np.abs(np.diff(v, axis=0)) <= CFG.acceleration_limit8 * dt * (1 + 1e-9) + 1e-9)
