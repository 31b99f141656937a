"""The real-time host behind ``jafm-robot run``: engine + control loop + simulator process.

Real parts throughout: a real ONNX file in a real ONNX Runtime session, the real control loop
thread, and PyBullet physics in its own process. Assertions are on where the simulated arm ends up
(privileged state read back from the simulator), never on wall-clock time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jafm_robot.contract import ACTION_DIM
from jafm_robot.hosts.shm import Layout, SharedSlots
from jafm_robot.robots import load_robot_config
from jafm_robot.runtime.metadata import PolicyMetadata
from jafm_robot.runtime.testing import make_dummy_policy, write_card

CFG = load_robot_config("panda")
TARGET = CFG.home8 + np.array([0.3, 0.2, 0.0, -0.2, 0.0, 0.2, 0.0, -0.04], np.float32)


def constant_policy(path: Path, target: np.ndarray, meta: PolicyMetadata) -> Path:
    """A real ONNX policy that always asks for ``target`` (inputs per the contract, unused but checked)."""
    import onnx
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info("image", TensorProto.UINT8, ["B", meta.image_size, meta.image_size, 3]),
        helper.make_tensor_value_info("state", TensorProto.FLOAT, ["B", 8]),
        helper.make_tensor_value_info("instruction", TensorProto.UINT8, ["B", 128]),
    ]
    chunk = np.broadcast_to(target.astype(np.float32), (1, meta.chunk_len, ACTION_DIM)).copy()
    nodes = [
        helper.make_node("Unsqueeze", ["state", "ax"], ["s1"]),  # [B,1,8]
        helper.make_node("Mul", ["s1", "zero"], ["z"]),  # zeros shaped by the batch
        helper.make_node("Add", ["z", "chunk"], ["actions"]),
    ]
    inits = [
        onnx.numpy_helper.from_array(np.array([1], np.int64), "ax"),
        onnx.numpy_helper.from_array(np.zeros((1, 1, 1), np.float32), "zero"),
        onnx.numpy_helper.from_array(chunk, "chunk"),
    ]
    out = helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["B", meta.chunk_len, ACTION_DIM])
    model = helper.make_model(helper.make_graph(nodes, "const", inputs, [out], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, meta.to_props())
    onnx.save(model, str(path))
    write_card(path, {"name": path.stem})
    return path


def test_shared_slots_seqlock_roundtrip():
    a = SharedSlots(Layout(16))
    b = SharedSlots(Layout(16), name=a.name)
    try:
        a.write_command(np.arange(8.0))
        seq, cmd = b.read_command()
        assert seq == 1 and np.array_equal(cmd, np.arange(8.0))
        img = np.full((16, 16, 3), 7, np.uint8)
        a.write_obs(img, img + 1, np.ones(8), 12.5)
        seq, obs, stamp = b.read_obs()
        assert seq == 1 and stamp == 12.5 and obs["wrist_image"][0, 0, 0] == 8 and obs["state"].dtype == np.float32
    finally:
        b.close()
        a.close()


@pytest.fixture(scope="module")
def meta() -> PolicyMetadata:
    return PolicyMetadata(tasks=["Reach", "PickPlace"], image_size=64)


def test_run_drives_the_simulated_arm_to_the_policy_target(tmp_path: Path, meta: PolicyMetadata):
    from jafm_robot.hosts.realtime import RealtimeRunner

    policy = constant_policy(tmp_path / "const.onnx", TARGET, meta)
    with RealtimeRunner(str(policy), "Reach", loop_rate=250.0) as runner:
        ep = runner.run_episode(seed=3, language="ja", time_limit=2.5)
        _, state, _ = runner.sim.slots.read_state()
    assert ep.policy["chunks"] >= 3 and ep.loop["ticks"] > 100  # 2.5 s at the default 2 Hz rhythm: ~5
    assert ep.loop["safety_state"] == "ok"
    # the arm followed the policy, through loop -> shared memory -> simulator
    np.testing.assert_allclose(state[:7], TARGET[:7], atol=0.05)
    assert abs(state[7] - TARGET[7]) < 0.01
    assert any("\u3040" <= ch <= "\u30ff" for ch in ep.instruction)  # the ja phrasing reached the policy host
    assert ep.outcome == ("success" if ep.success else "not reached")  # the sim process reports the task's outcome


def test_run_with_garbage_policy_holds_within_limits(tmp_path: Path, meta: PolicyMetadata):
    from jafm_robot.hosts.realtime import RealtimeRunner

    policy = make_dummy_policy(tmp_path / "garbage.onnx", meta, kind="garbage")
    with RealtimeRunner(str(policy), "PickPlace", loop_rate=250.0) as runner:
        q0 = runner.sim.reset(5, {"language": "en"})["state"]
        ep = runner.run_episode(seed=5, language="en", time_limit=1.5)
        _, state, _ = runner.sim.slots.read_state()
    assert not ep.success and ep.outcome == "never lifted"
    assert np.all(state[:7] >= CFG.position_lower - 0.02) and np.all(state[:7] <= CFG.position_upper + 0.02)
    # NaN/Inf/huge chunks: the blender or the filter rejects them; the arm stays where it was
    np.testing.assert_allclose(state[:7], q0[:7], atol=0.05)
    assert ep.loop["chunks_rejected_invalid"] + ep.loop.get("chunks_accepted", 0) >= 1


def test_run_cli_rejects_bad_input(tmp_path: Path, meta: PolicyMetadata, capsys):
    from jafm_robot.cli.main import main

    policy = make_dummy_policy(tmp_path / "hold.onnx", meta, kind="hold")
    assert main(["run", "--policy", str(policy), "--task", "Sort"]) == 2  # not a task of this policy
    assert "not 'Sort'" in capsys.readouterr().err
    assert main(["run", "--policy", str(policy), "--task", "PickPlace", "--lang", "fr"]) == 2
    assert main(["run", "--policy", str(tmp_path / "missing.onnx"), "--task", "PickPlace"]) == 2


def test_run_cli_writes_json(tmp_path: Path, meta: PolicyMetadata):
    from jafm_robot.cli.main import main

    policy = make_dummy_policy(tmp_path / "hold.onnx", meta, kind="hold")
    out, trace = tmp_path / "run.json", tmp_path / "trace.npz"
    rc = main(["run", "--policy", str(policy), "--task", "Reach", "--episodes", "1", "--rate", "200",
               "--json", str(out), "--time-limit", "1.0", "--trace", str(trace)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["episodes"] == 1 and data["runs"][0]["task"] == "Reach" and "period_error_p99_us" in data["runs"][0]["loop"]
    assert data["outcomes"] == {"not reached": 1} and data["runs"][0]["outcome"] == "not reached"  # a hold never reaches
    # the trace: 10 Hz samples of the simulated world, for comparing a run with eval step by step
    tr = np.load(trace)
    t, state, command, ee = tr["0/t"], tr["0/state"], tr["0/command"], tr["0/ee"]
    assert int(tr["0/seed"]) == 1000 and not bool(tr["0/success"])
    assert 9 <= len(t) <= 11 and np.allclose(np.diff(t), 0.1, atol=0.01)
    assert state.shape == command.shape == (len(t), 8) and ee.shape == (len(t), 3)
    np.testing.assert_allclose(state[-1, :7], command[-1, :7], atol=0.02)  # a hold policy: the arm sits at its command
    assert tr["0/parts"].shape == (len(t), len(tr["0/part_names"]), 3)
