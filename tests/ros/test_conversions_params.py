"""Message conversions, parameter loading and diagnostics helpers (no DDS traffic needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("rclpy")

from jafm_robot.robots.config import load_robot_config
from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros.conversions import (
    GRIPPER_WIDTH_JOINT,
    ConversionError,
    chunk_to_trajectory,
    command_to_msg,
    image_to_numpy,
    joint_state_to_state8,
    msg_to_command,
    numpy_to_image,
    sec_to_stamp,
    stamp_to_sec,
    state8_to_joint_state,
    trajectory_to_chunk,
)
from jafm_robot.ros.params import (
    ControllerNodeParams,
    ParamError,
    PolicyNodeParams,
    SimNodeParams,
    from_dict,
    load_node_params,
)

CFG = load_robot_config("panda")
LAUNCH = Path(__file__).resolve().parents[2] / "launch"


def test_image_roundtrip_and_bgr() -> None:
    img = np.random.default_rng(0).integers(0, 255, (6, 9, 3), dtype=np.uint8)
    m = numpy_to_image(img, sec_to_stamp(12.5))
    assert m.encoding == "rgb8" and m.step == 27
    assert np.array_equal(image_to_numpy(m, expected_size=(6, 9)), img)
    m2 = numpy_to_image(img[:, :, ::-1].copy(), encoding="bgr8")
    assert np.array_equal(image_to_numpy(m2), img)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda m: setattr(m, "encoding", "mono16"), "encoding"),
        (lambda m: setattr(m, "height", 7), "bytes"),
        (lambda m: setattr(m, "width", 0), "empty"),
        (lambda m: setattr(m, "step", 3), "step"),
    ],
)
def test_bad_images_are_clear_errors(mutate, needle: str) -> None:
    m = numpy_to_image(np.zeros((6, 9, 3), np.uint8))
    mutate(m)
    with pytest.raises(ConversionError, match=needle):
        image_to_numpy(m)


def test_wrong_size_is_rejected() -> None:
    m = numpy_to_image(np.zeros((6, 9, 3), np.uint8))
    with pytest.raises(ConversionError, match="expected 128x128"):
        image_to_numpy(m, expected_size=(128, 128))


def test_joint_state_roundtrip_any_order_and_nan() -> None:
    s = np.append(CFG.home, 0.05).astype(np.float32)
    js = state8_to_joint_state(s, CFG.joint_names, CFG.finger_joint_names)
    assert len(js.name) == 9 and js.position[-1] == pytest.approx(0.025)
    js.name = list(reversed(js.name))
    js.position = list(reversed(js.position))
    assert np.allclose(joint_state_to_state8(js, CFG.joint_names, CFG.finger_joint_names), s)
    js.position[0] = float("nan")
    with pytest.raises(ConversionError, match="non-finite"):
        joint_state_to_state8(js, CFG.joint_names, CFG.finger_joint_names)
    js.name = js.name[1:]
    with pytest.raises(ConversionError, match="names"):
        joint_state_to_state8(js, CFG.joint_names, CFG.finger_joint_names)


def test_joint_state_missing_joint() -> None:
    js = state8_to_joint_state(np.zeros(8), (*CFG.joint_names[:6], "x"), CFG.finger_joint_names)
    with pytest.raises(ConversionError, match="panda_joint7"):
        joint_state_to_state8(js, CFG.joint_names, CFG.finger_joint_names)


@settings(max_examples=30, deadline=None)
@given(
    t=st.integers(1, 12),
    dt=st.floats(0.01, 0.5),
    stamp=st.floats(0, 1e6),
    seed=st.integers(0, 1000),
)
def test_chunk_roundtrip(t: int, dt: float, stamp: float, seed: int) -> None:
    a = np.random.default_rng(seed).normal(size=(t, 8)).astype(np.float32)
    msg = chunk_to_trajectory(a, dt, sec_to_stamp(stamp), CFG.joint_names)
    assert msg.joint_names[-1] == GRIPPER_WIDTH_JOINT
    back = trajectory_to_chunk(msg, CFG.joint_names)
    assert np.allclose(back.actions, a, atol=1e-6)
    assert back.dt == pytest.approx(dt, abs=1e-6)
    assert back.stamp == pytest.approx(stamp_to_sec(sec_to_stamp(stamp)), abs=1e-6)


def test_trajectory_reorders_and_rejects_bad() -> None:
    a = np.arange(16, dtype=np.float32).reshape(2, 8)
    msg = chunk_to_trajectory(a, 0.1, sec_to_stamp(1.0), CFG.joint_names)
    msg.joint_names = list(reversed(msg.joint_names))
    for p in msg.points:
        p.positions = list(reversed(p.positions))
    assert np.allclose(trajectory_to_chunk(msg, CFG.joint_names).actions, a)
    msg.points[1].positions[0] = float("nan")
    with pytest.raises(ConversionError, match="non-finite"):
        trajectory_to_chunk(msg, CFG.joint_names)
    with pytest.raises(ConversionError):
        chunk_to_trajectory(np.zeros((3, 7)), 0.1, sec_to_stamp(0), CFG.joint_names)


def test_command_msg() -> None:
    c = np.linspace(0, 1, 8)
    assert np.allclose(msg_to_command(command_to_msg(c)), c)
    m = command_to_msg(np.zeros(7))
    with pytest.raises(ConversionError, match="8 values"):
        msg_to_command(m)


def test_params_from_shipped_yaml() -> None:
    for yaml_name, nodes in (
        ("sim_pick_place.yaml", ("sim_node", "policy_node", "controller_node")),
        ("robot.yaml", ("camera_node", "policy_node", "controller_node")),
    ):
        for n in nodes:
            load_node_params(LAUNCH / "params" / yaml_name, n)  # validates


def test_params_errors(tmp_path: Path) -> None:
    with pytest.raises(ParamError, match="unknown parameter"):
        from_dict(SimNodeParams, {"tsak": "Reach"})
    with pytest.raises(ParamError, match="task must be"):
        from_dict(SimNodeParams, {"task": "Fly"})
    with pytest.raises(ParamError, match="positive"):
        from_dict(ControllerNodeParams, {"rate_hz": -1.0})
    assert from_dict(ControllerNodeParams, {"rate_hz": 250}).rate_hz == 250.0  # int -> float
    with pytest.raises(ParamError, match="overlap_weight must be in"):
        from_dict(ControllerNodeParams, {"overlap_weight": 0.0})
    assert from_dict(ControllerNodeParams, {"overlap_weight": 1}).overlap_weight == 1.0  # 1 = no averaging
    with pytest.raises(ParamError, match="must be float"):
        from_dict(PolicyNodeParams, {"rate_hz": "fast"})
    with pytest.raises(ParamError, match="0 = from the model"):
        from_dict(PolicyNodeParams, {"rate_hz": -2.0})
    assert from_dict(PolicyNodeParams, {}).rate_hz == 0.0  # default: the model's own re-planning rhythm
    f = tmp_path / "p.yaml"
    f.write_text("policy_node:\n  rate_hz: 3.0\n")
    with pytest.raises(ParamError, match="ros__parameters"):
        load_node_params(f, "policy_node")
    f.write_text("/**:\n  ros__parameters: {robot: panda}\npolicy_node:\n  ros__parameters: {rate_hz: 3.0}\n")
    p = load_node_params(f, "policy_node")
    assert p.rate_hz == 3.0 and p.robot == "panda"


def test_meters() -> None:
    t = [0.0]
    r = diag.RateMeter(window_s=1.0, clock=lambda: t[0])
    for _ in range(11):
        r.tick()
        t[0] += 0.1
    assert r.rate() == pytest.approx(10.0, rel=0.15)
    th = diag.Throttle(period_s=1.0, clock=lambda: t[0])
    assert th.allow("x") and not th.allow("x") and th.suppressed["x"] == 1
    t[0] += 1.5
    assert th.allow("x")
    lat = diag.LatencyStats()
    for v in range(1, 101):
        lat.add(v / 1000)
    s = lat.summary()
    assert s["n"] == 100 and 49 <= s["p50_ms"] <= 51 and s["p99_ms"] >= 98
    st_ = diag.status("n", diag.WARN, "m", {"a": 1.23456, "b": 3})
    assert diag.level_of(st_) == 1 and {kv.key for kv in st_.values} == {"a", "b"}
