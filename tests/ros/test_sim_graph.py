"""The simulated graph (sim_node + policy_node + controller_node) started by ``jafm-robot bringup --sim``.

``test_bringup_sim_graph`` runs with a generated ONNX policy (real ONNX Runtime session, the
runtime's ``linear`` test graph) so it runs on any checkout; it checks the whole ROS path -- cameras
and joint states from PyBullet, the task's instruction reaching the policy, chunks turned into
forward-position commands that move the simulated arm, ``~/reset``, and a clean shutdown on SIGINT.

``test_shipped_policy_picks_and_places_through_ros`` and
``test_shipped_policy_follows_a_new_instruction_mid_run`` are the closed-loop checks with the shipped
model (``models/pick_place_v0.onnx``), in the default run; they skip on a checkout without one.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger

from jafm_robot.robots.config import load_robot_config
from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros import qos
from jafm_robot.ros.conversions import image_to_numpy, joint_state_to_state8
from jafm_robot.ros.process import NodeProcess, ros_env

pytestmark = pytest.mark.ros
CFG = load_robot_config("panda")
# held-out seeds on which the shipped model succeeded in `eval` (en, runs/v5/eval_v1_en100.json; the
# earlier v0 also in `run`)
SHIPPED_SUCCESS_SEEDS = (10000, 10002, 10003)
ROOT = Path(__file__).resolve().parents[2]


def _bringup(domain: int, *extra: str) -> NodeProcess:
    cmd = [sys.executable, "-m", "jafm_robot.cli.main", "bringup", "--sim", "--domain-id", str(domain), *extra]
    return NodeProcess("bringup", cmd, env=ros_env(domain)).start()


def _states(buf, since: float = 0.0) -> np.ndarray:
    return np.array([joint_state_to_state8(m, CFG.joint_names, CFG.finger_joint_names) for t, m in buf if t >= since])


def _diag(diags, name: str) -> dict[str, str] | None:
    for _, m in reversed(diags):
        v = diag.values_of(m, name)
        if v is not None:
            return v
    return None


def _shipped() -> Path:
    """The PickPlace policy these closed-loop checks' seeds were measured with (the newest shipped
    model, policy_node's default, may be the five-task student: its own ROS check is below)."""
    path = ROOT / "models" / "pick_place_v0.onnx"
    if not path.is_file():
        pytest.skip("no shipped policy models/pick_place_v0.onnx")
    return path


def test_bringup_sim_graph(tmp_path: Path, domain: int, probe) -> None:
    from jafm_robot.runtime.metadata import PolicyMetadata
    from jafm_robot.runtime.testing import make_dummy_policy

    # a two-camera model: policy_node must pair the scene and the wrist camera
    meta = PolicyMetadata(cameras=["image", "wrist_image"])
    model = make_dummy_policy(tmp_path / "linear.onnx", meta=meta, kind="linear", seed=1)
    js = probe.sub(qos.JOINT_STATES, JointState, qos.DEFAULT)
    imgs = probe.sub(qos.IMAGE, Image, qos.SENSOR)
    wrist = probe.sub(qos.WRIST_IMAGE, Image, qos.SENSOR)
    cmds = probe.sub(qos.COMMANDS, Float64MultiArray, qos.COMMAND)
    success = probe.sub("/sim_node/success", Bool, qos.LATCHED)
    instr = probe.sub(qos.INSTRUCTION, String, qos.LATCHED)
    diags = probe.sub(qos.DIAGNOSTICS, DiagnosticArray, qos.DEFAULT)
    proc = _bringup(domain, "--model", str(model), "--seed", "3")
    try:
        probe.wait_for(lambda: len(cmds) >= 200, 90.0, "forward-position commands from the controller")
        # every stream seen by the probe (its own discovery of each publisher may lag the nodes')
        probe.wait_for(lambda: js and imgs and wrist and instr and success, 10.0, "sim topics at the probe")
        assert len(js[-1][1].name) == 9 and list(js[-1][1].name[:7]) == list(CFG.joint_names)
        img = image_to_numpy(imgs[-1][1], expected_size=(128, 128))
        assert img.std() > 1.0, "scene camera image is blank"
        assert wrist and image_to_numpy(wrist[-1][1]).shape == (128, 128, 3)
        assert instr and instr[-1][1].data, "sim_node did not announce its task instruction"
        assert success and success[-1][1].data is False

        # the policy's chunks move the simulated arm through the controller's commands
        t = time.monotonic()
        time.sleep(2.0)
        s = _states(js, t)
        assert np.max(np.ptp(s[:, :7], axis=0)) > 1e-3, "simulated arm does not move"
        c = np.array([np.asarray(m.data) for ts, m in cmds if ts >= t])
        assert np.all(c >= CFG.action_low - 1e-9) and np.all(c <= CFG.action_high + 1e-9)
        p = probe.wait_for(lambda: _diag(diags, "policy_node"), 10.0, "policy diagnostics")
        assert p["instruction"] == instr[-1][1].data and p["provider"] == "CPUExecutionProvider"
        assert float(p["wrist_rate_hz"]) > 0 and int(p["chunks"]) >= 3  # both cameras reach it; it re-plans
        sd = probe.wait_for(lambda: _diag(diags, "sim_node"), 10.0, "sim diagnostics")
        assert sd["task"] == "PickPlace" and float(sd["physics_rate_hz"]) > 0
        assert sd["outcome"] in ("never lifted", "lifted a wrong part", "held at the end", "dropped", "success")
        # the sim takes the controller's stream (without commands it holds the arm where it is);
        # how fast is for `jafm-robot bench` (a loaded 2-core host saw 35 Hz here, not 50)
        assert float(sd["command_rate_hz"]) > 0 and sd["bad_command"] == "0"

        # a new instruction mid-run: the policy takes it and the sim judges success by the new goal
        from jafm_robot.envs.instructions import bin_phrase

        other = next(b for b in ("red", "green", "blue") if b != sd["goal_bin"])
        color, shape = sd["goal_part"].split("_", 1)
        pub = probe.pub(qos.INSTRUCTION, String, qos.LATCHED)
        text = f"now put the {color} {shape} in the {bin_phrase(other, 'en')}"
        pub.publish(String(data=text))
        probe.wait_for(lambda: (_diag(diags, "sim_node") or {}).get("goal_bin") == other, 10.0, "sim goal retargeted")
        probe.wait_for(lambda: (_diag(diags, "policy_node") or {}).get("instruction") == text, 10.0, "policy instruction")

        # ~/reset rebuilds the episode: the arm is back at its home pose
        cli = probe.node.create_client(Trigger, "/sim_node/reset")
        assert cli.wait_for_service(timeout_sec=10.0)
        fut = cli.call_async(Trigger.Request())
        res = probe.wait_for(lambda: fut.done() and fut.result(), 15.0, "reset response")
        assert res.success
        t = time.monotonic()
        probe.wait_for(lambda: any(ts > t for ts, _ in js), 5.0, "joint states after reset")
        first = _states(js, t)[0]
        assert np.allclose(first[:7], CFG.home, atol=0.02), f"not at home after reset: {first}"
        time.sleep(0.6)
        # the sim ignores the controller's pre-reset plan while the controller re-syncs ...
        early = np.array([joint_state_to_state8(m, CFG.joint_names, CFG.finger_joint_names)
                          for ts, m in js if t <= ts <= t + 0.1])
        assert np.max(np.abs(early[:, :7] - CFG.home)) < 0.02, "arm dragged away from home after reset"
        # ... and the controller restarts from the new (home) pose instead of its old plan
        post = np.array([np.asarray(m.data) for ts, m in cmds if ts >= t])
        assert np.min(np.max(np.abs(post[:, :7] - CFG.home), axis=1)) < 0.01, "controller did not re-sync"
        cd = probe.wait_for(
            lambda: (v := _diag(diags, "controller_node")) and int(v["resyncs"]) >= 1 and v, 5.0, "controller resync"
        )
        assert cd["estop_latched"] == "False"
    finally:
        proc.signal(signal.SIGINT)
        try:
            rc = proc.proc.wait(20.0)
        except subprocess.TimeoutExpired:
            proc.stop()
            rc = None
    out = proc.output()
    assert rc == 0, out[-3000:]
    assert "exit codes:" in out and "'sim_node': 0" in out and "'controller_node': 0" in out, out[-2000:]


def test_retarget_goal_follows_the_named_part_and_bin() -> None:
    from jafm_robot.envs.core import RobotTaskEnv
    from jafm_robot.envs.instructions import bin_phrase, part_phrase
    from jafm_robot.ros.sim_node import retarget_goal

    env = RobotTaskEnv(task="PickPlace")
    try:
        env.reset(seed=3)
        task = env.task
        old_bin = task.goal["bin"]
        other_bin = next(b for b in task.world.bins if b != old_bin)
        other_part = next(p for p in task.world.parts if p.name != task.goal["part"])
        text = f"{part_phrase(other_part.color, other_part.shape, 'ja')}を{bin_phrase(other_bin, 'ja')}に入れて"
        assert retarget_goal(task, text) == {"part": other_part.name, "bin": other_bin}
        assert task.goal["part_id"] == other_part.body_id and task.goal["bin"] == other_bin
        assert retarget_goal(task, "dance a little") == {}  # names nothing: unchanged
        assert task.goal["bin"] == other_bin
    finally:
        env.close()


def _on_success_seeds(domain: int, probe, buffers: list, attempt: Callable[[], None], what: str) -> int:
    """Run ``attempt`` against a fresh graph with the shipped model per seed of
    SHIPPED_SUCCESS_SEEDS until one passes; the seed that passed.

    The shipped model does not succeed on every seed (its card says how often), and the ROS graph's
    timing is not the gym loop's: each try is a fresh graph on a seed where `run` succeeded in the
    measurement of the card, and one success through ROS topics alone passes. ``buffers`` (probe
    subscriptions) are emptied before each try."""
    model = _shipped()
    tried = []
    for seed in SHIPPED_SUCCESS_SEEDS:
        tried.append(seed)
        with probe.lock:
            for b in buffers:
                b.clear()
        proc = _bringup(domain, "--model", str(model), "--seed", str(seed))
        try:
            attempt()
            return seed
        except AssertionError:
            continue
        finally:
            proc.stop(timeout=15.0)
    pytest.fail(f"no {what} on seeds {tried}")


def test_shipped_policy_picks_and_places_through_ros(domain: int, probe, record_property) -> None:
    """In the default run (skipped until a policy ships): pick-and-place through ROS topics alone.
    The command rate seen on /forward_position_controller/commands is reported (record_property and
    stdout), not asserted: rates are for benchmarks."""
    success = probe.sub("/sim_node/success", Bool, qos.LATCHED)
    cmds = probe.sub(qos.COMMANDS, Float64MultiArray, qos.COMMAND)

    def attempt() -> None:
        probe.wait_for(lambda: success and success[-1][1].data, 60.0, "task success through ROS")

    _on_success_seeds(domain, probe, [success, cmds], attempt, "pick-and-place success through ROS")
    stamps = np.array([t for t, _ in cmds])
    assert len(stamps) > 10, "no forward-position commands were seen"
    rate = (len(stamps) - 1) / float(stamps[-1] - stamps[0])
    record_property("command_rate_hz", rate)
    print(f"\n/forward_position_controller/commands: {len(stamps)} messages, {rate:.1f} Hz")


def test_shipped_policy_follows_a_new_instruction_mid_run(domain: int, probe) -> None:
    """The shipped model, a new bin named mid-run; success is judged against the new goal (tried
    over seeds as the pick-and-place test is)."""
    from jafm_robot.envs.instructions import bin_phrase

    success = probe.sub("/sim_node/success", Bool, qos.LATCHED)
    diags = probe.sub(qos.DIAGNOSTICS, DiagnosticArray, qos.DEFAULT)

    def attempt() -> None:
        sd = probe.wait_for(lambda: _diag(diags, "sim_node"), 60.0, "sim diagnostics")
        other = next(b for b in ("red", "green", "blue") if b != sd["goal_bin"])
        color, shape = sd["goal_part"].split("_", 1)
        time.sleep(2.0)  # mid-run: the policy is already on its way to the first bin
        text = f"put the {color} {shape} in the {bin_phrase(other, 'en')}"
        probe.pub(qos.INSTRUCTION, String, qos.LATCHED).publish(String(data=text))
        probe.wait_for(lambda: (_diag(diags, "sim_node") or {}).get("goal_bin") == other, 10.0, "retarget")
        # the latched flag of the old goal is False; only a True after the retarget counts
        probe.wait_for(lambda: success and success[-1][1].data, 60.0, "success in the newly named bin")

    _on_success_seeds(domain, probe, [success, diags], attempt, "success in a bin named mid-run")


def test_five_task_student_reaches_through_ros_by_the_task_parameter(domain: int, probe) -> None:
    """The sim graph runs a task other than PickPlace with the five-task student: ``--task Reach``
    sets sim_node's ``task`` parameter, sim_node announces Reach's instruction, policy_node
    understands it as Reach, and the arm ends above the named part (sim_node's own success check).
    Tried over held-out seeds as the pick-and-place test is; skipped where the student is not shipped."""
    import json

    from jafm_robot.paths import models_dir

    model = models_dir() / "jafm_student_v1.onnx"
    if not model.is_file():
        pytest.skip("the five-task student is not shipped")
    success = probe.sub("/sim_node/success", Bool, qos.LATCHED)
    understood = probe.sub(qos.INSTRUCTION_UNDERSTOOD, String, qos.LATCHED)
    diags = probe.sub(qos.DIAGNOSTICS, DiagnosticArray, qos.DEFAULT)
    tried = []
    for seed in SHIPPED_SUCCESS_SEEDS:
        tried.append(seed)
        with probe.lock:
            for b in (success, understood, diags):
                b.clear()
        proc = _bringup(domain, "--model", str(model), "--task", "Reach", "--seed", str(seed))
        try:
            sd = probe.wait_for(lambda: _diag(diags, "sim_node"), 60.0, "sim diagnostics")
            assert sd["task"] == "Reach"
            r = probe.wait_for(lambda: understood and json.loads(understood[-1][1].data), 30.0, "understood")
            assert r["understood"] and r["task"] == "Reach", r
            probe.wait_for(lambda: success and success[-1][1].data, 30.0, "Reach success through ROS")
            return
        except AssertionError:
            continue
        finally:
            proc.stop(timeout=15.0)
    pytest.fail(f"no Reach success through ROS on seeds {tried}")
