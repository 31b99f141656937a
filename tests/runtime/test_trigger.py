"""Frame-triggered inference without ROS: the trigger rule (FrameTrigger), multi-camera frame sets
(FrameSync) and AsyncPolicyRunner in frame mode with a slow stand-in engine."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from jafm_robot.runtime.inference import RATE_TOLERANCE, AsyncPolicyRunner, FrameSync, FrameTrigger

NOW = 1e9  # take() after every gate: the tests without a rate cap


def test_idle_engine_takes_each_frame_at_once() -> None:
    trig = FrameTrigger()
    for k in range(5):
        assert trig.offer(stamp=float(k), arrival=10.0 + k)
        assert trig.take(NOW) == float(k)
        assert trig.take(NOW) is None  # busy until done()
        trig.done()
    assert trig.stats() == {"frames": 5, "frames_dropped": 0, "frames_rate_skipped": 0, "inferences_triggered": 5}


def test_frames_while_busy_keep_only_the_newest_and_count_the_rest() -> None:
    trig = FrameTrigger()
    trig.offer(0.0, 0.0)
    assert trig.take(NOW) == 0.0  # engine busy from here
    for k in range(1, 11):
        trig.offer(float(k), 0.01 * k)
        assert trig.take(NOW) is None
    trig.done()
    assert trig.take(NOW) == 10.0  # the newest, not the oldest waiting
    trig.done()
    assert trig.take(NOW) is None  # nothing queued behind it
    s = trig.stats()
    assert s["frames_dropped"] == 9 and s["inferences_triggered"] == 2 and s["frames"] == 11


def test_rate_cap_takes_every_second_frame_of_a_jittery_camera() -> None:
    """10 Hz camera with +-10 ms jitter under a 5 Hz cap: every second frame, inferred on arrival."""
    rng = np.random.default_rng(0)
    trig = FrameTrigger(max_rate_hz=5.0)
    taken = []
    for k in range(100):
        t = 0.1 * k + rng.uniform(-0.01, 0.01)
        if trig.offer(float(k), t):
            s = trig.take(t)
            assert s == float(k)  # the engine is idle: inferred the moment it arrives
            taken.append(t)
            trig.done()
    assert len(taken) == 50
    assert trig.stats()["frames_rate_skipped"] == 50 and trig.stats()["frames_dropped"] == 0


@pytest.mark.parametrize("camera_hz", [6.6, 7.0, 9.0, 30.0, 200.0])
def test_rate_cap_holds_over_any_window(camera_hz: float) -> None:
    cap = 5.0
    trig = FrameTrigger(max_rate_hz=cap)
    starts = []
    for k in range(int(20 * camera_hz)):
        t = k / camera_hz
        if trig.offer(float(k), t) and trig.take(t) is not None:
            starts.append(t)
            trig.done()
    starts = np.asarray(starts)
    # never more than the cap over the run (plus the one-off tolerance of the first gate)
    assert len(starts) <= cap * 20 + 1
    # and never two starts closer than (1 - tolerance) periods
    assert np.diff(starts).min() >= (1 - RATE_TOLERANCE) / cap - 1e-9
    assert len(starts) >= 0.6 * cap * 20  # and the cap is not starving it


def test_a_frame_right_after_another_waits_for_the_gate_instead_of_a_camera_period() -> None:
    """30 Hz camera, cap 1000 Hz: an extra frame 0.2 ms after a regular one is held until the gate
    opens (0.55 ms later) and inferred then, not skipped for the next frame 33 ms away."""
    trig = FrameTrigger(max_rate_hz=1000.0)
    for k in range(5):  # the camera's usual rhythm
        assert trig.offer(float(k), k / 30) and trig.take(k / 30) == float(k)
        trig.done()
    t = 4 / 30 + 0.0002
    assert trig.offer(99.0, t)  # held, not skipped
    assert trig.take(t) is None and trig.wait_time(t) == pytest.approx(0.00055)
    assert trig.take(4 / 30 + 0.00075) == 99.0
    assert trig.stats()["frames_rate_skipped"] == 0


def test_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="max_rate_hz"):
        FrameTrigger(max_rate_hz=-1.0)
    with pytest.raises(ValueError, match="max_rate_hz"):
        FrameTrigger(max_rate_hz=float("nan"))


def test_frame_sync_waits_for_every_camera() -> None:
    sync = FrameSync(["image", "wrist_image"])
    assert sync.update("image", 1.0) is None  # wrist has nothing yet
    assert sync.update("wrist_image", 1.0) == 1.0
    assert sync.update("image", 1.1) is None  # the wrist image of 1.1 has not come yet
    assert sync.update("wrist_image", 1.1) == 1.1
    assert sync.update("wrist_image", 1.2) is None  # wrist ahead: wait for the scene camera
    assert sync.update("image", 1.25) == 1.2  # the set is as old as its oldest camera
    one = FrameSync(["image"])
    assert one.update("image", 5.0) == 5.0 and one.update("image", 5.0) is None
    with pytest.raises(KeyError):
        one.update("wrist_image", 1.0)


class SlowEngine:
    """Stands in for PolicyEngine: each inference takes ``seconds`` (off the GIL, as ORT's run)."""

    action_dt = 0.1

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def infer(self, obs: dict) -> np.ndarray:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return np.zeros((10, 8), np.float32)


def test_runner_in_frame_mode_does_not_queue_behind_a_frame_flood() -> None:
    """Frames far faster than the engine: inferences stay bounded by the engine, frames are dropped,
    and each inference uses the newest frame. Counts only: no wall-clock assertions."""
    eng = SlowEngine(0.02)
    newest = {"stamp": 0.0}
    chunks = []
    runner = AsyncPolicyRunner(eng, lambda: (newest["stamp"], {}), chunks.append, trigger="frame",
                               max_obs_age=1e9)
    runner.start()
    try:
        for k in range(1, 401):  # a frame every ~1 ms for ~0.4 s
            newest["stamp"] = float(k)
            runner.notify_frame(float(k))
            time.sleep(0.001)
    finally:
        runner.stop()
    s = runner.stats()
    assert eng.max_running == 1
    assert s["frames"] == 400
    # every frame is inferred on, dropped (replaced while waiting) or still waiting at the end
    assert s["inferences_triggered"] + s["frames_dropped"] + (runner.frames.pending is not None) == 400
    assert s["frames_dropped"] > s["inferences_triggered"]  # the engine could not keep up: frames dropped
    assert s["inferences_triggered"] <= eng.calls + 1 and s["chunks"] == eng.calls
    stamps = [c.stamp for c in chunks]
    assert stamps == sorted(set(stamps))  # each inference on a newer frame than the last
    assert "wake_p50_ms" in s and s["trigger"] == "frame"


def test_runner_in_frame_mode_respects_max_rate() -> None:
    """A 5 Hz cap against a fast engine and a fast camera: inferences bounded by the cap's count."""
    eng = SlowEngine(0.0)
    stamp = {"s": 0.0}
    runner = AsyncPolicyRunner(eng, lambda: (stamp["s"], {}), lambda c: None, trigger="frame", max_rate_hz=5.0,
                               max_obs_age=1e9)
    runner.start()
    t0 = time.monotonic()
    try:
        for k in range(1, 61):
            stamp["s"] = float(k)
            runner.notify_frame(float(k))
            time.sleep(0.005)
    finally:
        runner.stop()
    elapsed = time.monotonic() - t0
    s = runner.stats()
    assert 1 <= s["inferences_triggered"] <= 5.0 * elapsed / (1 - RATE_TOLERANCE) + 1
    assert s["frames_rate_skipped"] > 0


def test_runner_refuses_an_unknown_trigger() -> None:
    with pytest.raises(ValueError, match="trigger"):
        AsyncPolicyRunner(SlowEngine(0), lambda: None, lambda c: None, trigger="sometimes")
