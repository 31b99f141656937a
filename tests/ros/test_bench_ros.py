"""``bench ros`` parts: the probe policy is a real ONNX graph that does what the latency metric assumes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from jafm_robot.bench import ros as bench_ros

pytestmark = pytest.mark.ros


def test_probe_policy_follows_brightness_and_holds_the_arm(tmp_path: Path) -> None:
    from jafm_robot.runtime.engine import PolicyEngine

    eng = PolicyEngine(bench_ros.make_probe_policy(tmp_path / "probe.onnx"), provider="cpu")
    state = np.linspace(-1, 1, 8).astype(np.float32)
    for level in (0, 128, 255):
        a = eng.infer({"image": np.full((128, 128, 3), level, np.uint8), "state": state, "instruction": "go"})
        assert a.shape == (10, 8)
        assert np.allclose(a[:, :7], state[:7])
        assert np.allclose(a[:, 7], bench_ros.G_LOW + bench_ros.G_SPAN * level / 255, atol=1e-6)


def test_in_process_latency_is_measured(tmp_path: Path) -> None:
    model = bench_ros.make_probe_policy(tmp_path / "probe.onnx")
    args = argparse.Namespace(trials=2, policy_rate=30.0, max_rate=1000.0, control_rate=250.0, camera_rate=30.0)
    res = bench_ros.run_in_process(model, args)
    assert res["n"] == 2 and res["failures"] == 0
    assert 0 < res["p50_ms"] < 2000


def test_in_process_event_driven_latency_is_measured(tmp_path: Path) -> None:
    model = bench_ros.make_probe_policy(tmp_path / "probe.onnx")
    args = argparse.Namespace(trials=2, policy_rate=30.0, max_rate=1000.0, control_rate=250.0, camera_rate=30.0)
    res = bench_ros.run_in_process(model, args, trigger="frame")
    assert res["n"] == 2 and res["failures"] == 0
    assert res["stages_p50_ms"]["chunk_apply"] is not None  # chunks were applied on arrival


def test_every_mode_is_reported() -> None:
    assert set(bench_ros.MODES) == {"ros2_across_processes", "in_process", "ros2_event_driven",
                                    "in_process_event_driven"}


def test_breakdown_names_each_stage_and_the_rest() -> None:
    policy = {"image_transport_p50_ms": "0.5", "image_convert_p50_ms": "0.05", "runner_wake_p50_ms": "0.1",
              "runner_fetch_p50_ms": "0.02", "infer_p50_ms": "0.1", "runner_handoff_p50_ms": "0.3",
              "obs_to_chunk_p50_ms": "1.2"}
    controller = {"chunk_age_p50_ms": "2.0", "loop_chunk_apply_p50_ms": "0.2"}
    b = bench_ros.breakdown(policy, controller, 3.0)["stages_p50_ms"]
    assert b["chunk_dds_executor_and_conversion"] == pytest.approx(0.8)
    assert sum(b.values()) == pytest.approx(3.0)
