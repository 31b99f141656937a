"""ControlLoop.step_early: a chunk applied the moment it arrives stays on the fixed-rate loop's path."""

from __future__ import annotations

import time

import numpy as np

from jafm_robot.robots.config import load_robot_config
from jafm_robot.runtime.assembly import RuntimeParams, build_control_loop
from jafm_robot.runtime.chunks import ActionChunk
from jafm_robot.runtime.control_loop import ControlLoop

CFG = load_robot_config("panda")
HOME = CFG.home8.astype(np.float64)
JOINTS = np.r_[np.ones(7), 1.0]
RATE = 250.0
P = 1.0 / RATE


def _chunk(stamp: float, amp: float) -> ActionChunk:
    pts = HOME + amp * np.sin(stamp + 0.1 * np.arange(1, 11))[:, None] * JOINTS * np.r_[np.ones(7), 0.05]
    return ActionChunk(stamp, 0.1, pts)


def _run(early: bool, frac: float = 0.37) -> tuple[list[np.ndarray], list[np.ndarray], ControlLoop]:
    """Ticks at 10 + k*P; a chunk arrives every 25 ticks, ``frac`` of a period after a tick; with
    ``early`` the loop applies it then (step_early), else at the next tick."""
    ticks: list[np.ndarray] = []
    extra: list[np.ndarray] = []
    loop = ControlLoop(CFG, rate_hz=RATE, initial_state=HOME)
    for k in range(500):
        t = 10.0 + k * P
        ticks.append(loop.step(t))
        if k % 25 == 3:
            loop.submit_chunk(_chunk(t - 0.005, 0.2 + 0.01 * k / 25))
            if early:
                e = loop.step_early(t + frac * P, 10.0 + (k + 1) * P)  # the next tick's own time
                assert e is not None
                extra.append(e)
    return ticks, extra, loop


def test_early_commands_leave_the_tick_path_unchanged() -> None:
    base, none, _ = _run(early=False)
    ticks, extra, loop = _run(early=True)
    assert none == [] and len(extra) == 20 and loop.early_commands == 20
    np.testing.assert_array_equal(np.array(ticks), np.array(base))
    assert np.abs(np.array(ticks) - HOME).max() > 0.02  # it did follow the chunks


def test_an_early_command_lies_on_the_segment_to_the_next_tick() -> None:
    ticks, extra, _ = _run(early=True, frac=0.37)
    for j, e in enumerate(extra):
        k = 25 * j + 3
        a, b = ticks[k], ticks[k + 1]
        np.testing.assert_allclose(e, a + 0.37 * (b - a), rtol=0, atol=1e-12)
    # and it already reflects the chunk: the path bends at the tick the chunk was anchored at
    k = 25 * 5 + 3
    assert np.abs(extra[5] - ticks[k]).max() > 0


def test_the_sampled_command_stream_stays_within_the_limits_in_time() -> None:
    """Early samples included, velocities over the real time between commands stay within limits."""
    ticks, extra, _ = _run(early=True, frac=0.5)
    times, cmds = [], []
    for k, c in enumerate(ticks):
        times.append(10.0 + k * P)
        cmds.append(c)
        if k % 25 == 3:
            times.append(10.0 + (k + 0.5) * P)
            cmds.append(extra[(k - 3) // 25])
    v = np.diff(np.array(cmds), axis=0) / np.diff(times)[:, None]
    assert np.all(np.abs(v) <= CFG.velocity_limit8 * (1 + 1e-9))


def test_no_early_command_without_a_chunk_or_with_a_flag_pending() -> None:
    loop = ControlLoop(CFG, rate_hz=RATE, initial_state=HOME)
    assert loop.step_early(10.0, 10.0 + P) is None  # not started: no last tick to start from
    loop.step(10.0)
    assert loop.step_early(10.0 + 0.5 * P, 10.0 + P) is None  # nothing waiting
    loop.submit_chunk(_chunk(9.99, 0.2))
    loop.estop()
    assert loop.step_early(10.0 + 0.5 * P, 10.0 + P) is None  # the tick handles the e-stop
    loop.step(10.0 + P)
    assert loop.safety.estopped
    loop.submit_chunk(_chunk(10.0, 0.2))
    assert loop.step_early(10.0 + 1.5 * P, 10.0 + 2 * P) is None  # e-stopped: chunks are not followed
    loop2 = ControlLoop(CFG, rate_hz=RATE, initial_state=HOME)
    loop2.step(10.0)
    loop2.submit_chunk(_chunk(9.99, 0.2))
    assert loop2.step_early(10.0 + 0.2 * P, 10.0 + P) is not None
    loop2.submit_chunk(_chunk(9.995, 0.2))
    assert loop2.step_early(10.0 + 0.6 * P, 10.0 + P) is None  # one early command per period
    loop2.step(10.0 + P)
    assert loop2.stats()["chunks_received"] == 1  # the second waits for the next tick or early step


def test_the_threaded_loop_applies_a_chunk_before_its_next_tick() -> None:
    """A slow loop (20 Hz) so a tick is far away: the first command after submit is an early one.
    Counts and order only, no wall-clock assertion."""
    sent: list[tuple[float, np.ndarray]] = []
    params = RuntimeParams(rate_hz=20.0, stale_after_s=5.0)
    loop = build_control_loop(CFG, params, initial_state=HOME,
                              send_command=lambda q: sent.append((time.monotonic(), q.copy())))
    assert loop.apply_on_arrival
    loop.start()
    try:
        while loop.ticks < 2:
            time.sleep(0.005)
        time.sleep(0.01)  # well inside a 50 ms period
        loop.submit_chunk(_chunk(time.monotonic() - 0.005, 0.3))
        while loop.ticks < 5:
            time.sleep(0.005)
    finally:
        loop.stop()
    assert loop.error is None and loop.early_commands >= 1
    s = loop.stats()
    assert s["chunks_accepted"] == 1 and "chunk_apply_p50_ms" in s
    off = build_control_loop(CFG, RuntimeParams(apply_on_arrival=False), initial_state=HOME)
    assert not off.apply_on_arrival
