"""policy_node + controller_node as processes over real DDS, the test process playing arm and camera.

One bring-up is shared by the assertions (process start-up dominates the cost): chunks stamped with
the observation stamp, commands inside the limits, a new instruction changes the chunks, malformed
input makes both nodes hold and stay alive, the e-stop brakes and latches until ``~/reset``, and
killing ``policy_node`` makes the controller hold.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from jafm_robot.robots.config import load_robot_config
from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros import qos
from jafm_robot.ros.conversions import (
    msg_to_command,
    numpy_to_image,
    sec_to_stamp,
    stamp_to_sec,
    state8_to_joint_state,
    trajectory_to_chunk,
)

pytestmark = pytest.mark.ros

CFG = load_robot_config("panda")
LAUNCH = Path(__file__).resolve().parents[2] / "launch"


class FakeArm:
    """The test's arm and camera: joint states follow the last command exactly; frames at 10 Hz.

    ``mode`` switches what it publishes: "good", "bad_image" (wrong encoding and size), "stale_image"
    (stamped 5 s in the past), "nan_state", "silent" (nothing at all).
    """

    def __init__(self, probe) -> None:
        self.probe = probe
        self.q = CFG.home8.astype(np.float64)
        self.mode = "good"
        self.image_stamps: list[float] = []
        self.pub_js = probe.pub(qos.JOINT_STATES, JointState, qos.DEFAULT)
        self.pub_img = probe.pub(qos.IMAGE, Image, qos.SENSOR)
        self.cmds = probe.sub(qos.COMMANDS, Float64MultiArray, qos.COMMAND)
        self._stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        k = 0
        img = np.full((128, 128, 3), 90, np.uint8)
        while not self._stop.is_set():
            if self.cmds:
                self.q = msg_to_command(self.cmds[-1][1])
            now = time.time()
            s = self.q.copy()
            if self.mode == "silent":  # the arm's driver stopped publishing
                k += 1
                self._stop.wait(0.01)
                continue
            if self.mode == "nan_state":
                s[2] = np.nan
            self.pub_js.publish(state8_to_joint_state(s, CFG.joint_names, CFG.finger_joint_names, sec_to_stamp(now)))
            if k % 10 == 0:
                if self.mode == "stale_image":
                    m = numpy_to_image(img, sec_to_stamp(now - 5.0))  # a frame from 5 s ago
                elif self.mode == "bad_image":
                    m = numpy_to_image(np.zeros((64, 80, 3), np.uint8), sec_to_stamp(now))
                    m.encoding = "mono16" if (k // 10) % 2 else "rgb8"
                else:
                    m = numpy_to_image(img, sec_to_stamp(now))
                    self.image_stamps.append(stamp_to_sec(m.header.stamp))
                self.pub_img.publish(m)
            k += 1
            self._stop.wait(0.01)

    def close(self) -> None:
        self._stop.set()
        self.t.join(2.0)


def _spread(cmds, since: float) -> float:
    """Largest change of any commanded value among commands received after ``since``."""
    a = np.array([msg_to_command(m) for t, m in cmds if t >= since])
    return float(np.max(np.ptp(a, axis=0))) if len(a) >= 2 else 0.0


def _last_diag(diags, name: str) -> dict[str, str] | None:
    for _, m in reversed(diags):
        v = diag.values_of(m, name)
        if v is not None:
            return v
    return None


def test_policy_and_controller_over_dds(tmp_path: Path, graph, probe) -> None:
    from jafm_robot.runtime.testing import make_dummy_policy

    model = make_dummy_policy(tmp_path / "linear.onnx", kind="linear", seed=3)
    params = LAUNCH / "params" / "sim_pick_place.yaml"
    chunks = probe.sub(qos.ACTION_CHUNK, JointTrajectory, qos.CHUNK)
    diags = probe.sub(qos.DIAGNOSTICS, DiagnosticArray, qos.DEFAULT)
    pub_instr = probe.pub(qos.INSTRUCTION, String, qos.LATCHED)
    pub_estop = probe.pub(qos.ESTOP, Bool, qos.RELIABLE)
    reset = probe.node.create_client(Trigger, "/controller_node/reset")
    arm = FakeArm(probe)
    try:
        # 10 Hz rather than the model's own rhythm: the malformed-input checks below time it
        graph.start("policy_node", params, params={"model": str(model), "rate_hz": 10.0})
        graph.start("controller_node", params, params={"chunk_timeout_s": 0.6})
        pub_instr.publish(String(data="pick up the red cube and put it in the blue bin"))

        # --- chunks stamped with the observation's stamp; commands flow and stay in limits
        probe.wait_for(lambda: len(chunks) >= 5, 40.0, "5 action chunks")
        c = trajectory_to_chunk(chunks[-1][1], CFG.joint_names)
        assert c.actions.shape == (10, 8) and c.dt == pytest.approx(0.1)
        assert any(abs(c.stamp - s) < 1e-6 for s in arm.image_stamps), "chunk stamp is not an image stamp"
        probe.wait_for(lambda: len(arm.cmds) >= 100, 20.0, "100 commands")
        cmds = np.array([msg_to_command(m) for _, m in arm.cmds])
        assert np.all(cmds >= CFG.action_low - 1e-9) and np.all(cmds <= CFG.action_high + 1e-9)
        t = time.monotonic()
        time.sleep(1.0)
        assert _spread(arm.cmds, t) > 1e-3, "the arm does not move under the policy"

        # --- a new instruction changes the policy's output (the linear head reads the bytes)
        before = trajectory_to_chunk(chunks[-1][1], CFG.joint_names).actions - arm.q.astype(np.float32)
        pub_instr.publish(String(data="ロボット、緑のブロックを赤い箱に入れて"))
        probe.wait_for(
            lambda: (_last_diag(diags, "policy_node") or {}).get("instruction", "").startswith("ロボット"),
            10.0,
            "policy diagnostics reporting the new instruction",
        )
        n = len(chunks)
        probe.wait_for(lambda: len(chunks) >= n + 3, 10.0, "chunks after the new instruction")
        after = trajectory_to_chunk(chunks[-1][1], CFG.joint_names).actions - arm.q.astype(np.float32)
        assert np.max(np.abs(after - before)) > 1e-4, "a new instruction did not change the chunks"

        # --- an instruction over 128 UTF-8 bytes (runtime.observation's rule) is refused on arrival
        # (never failing every inference): it replaces the one in force, so the policy holds, and a
        # good instruction afterwards is taken normally
        bad_obs = int(_last_diag(diags, "policy_node")["runner_bad_observation"])
        pub_instr.publish(String(data="pick up the red cube and put it in the blue bin " * 3))  # 144 bytes
        probe.wait_for(lambda: int((_last_diag(diags, "policy_node") or {}).get("lang", 0)) > 0, 10.0,
                       "oversize instruction refused")
        time.sleep(0.5)
        n = len(chunks)
        time.sleep(1.5)
        assert len(chunks) - n <= 1, "policy kept publishing chunks for a refused instruction"
        pub_instr.publish(String(data="ロボット、緑のブロックを赤い箱に入れて"))
        n = len(chunks)
        probe.wait_for(lambda: len(chunks) >= n + 3, 10.0, "chunks after a good instruction again")
        d = _last_diag(diags, "policy_node")
        assert int(d["runner_bad_observation"]) == bad_obs

        # --- malformed images: the policy holds (no chunks), the controller holds, both alive
        arm.mode = "bad_image"
        time.sleep(0.8)  # > max_obs_age_s: the last good frame goes stale
        n = len(chunks)
        t = time.monotonic()
        time.sleep(2.0)
        assert len(chunks) - n <= 1, "policy kept publishing chunks from malformed/stale images"
        # the last plan ends <= 1 s after its frame and the watchdog brakes after 0.6 s without chunks
        assert _spread(arm.cmds, t + 1.2) < 1e-6, "controller did not hold without fresh chunks"
        d = probe.wait_for(lambda: _last_diag(diags, "policy_node"), 5.0, "policy diagnostics")
        assert int(d["bad_image"]) > 0 and d["holding"] == "True"

        # --- a flood of malformed messages: logged throttled, nodes stay up and keep holding
        flood_img = probe.pub(qos.IMAGE, Image, qos.SENSOR)
        flood_js = probe.pub(qos.JOINT_STATES, JointState, qos.DEFAULT)
        bad = numpy_to_image(np.zeros((300, 400, 3), np.uint8))
        nan_js = state8_to_joint_state(np.full(8, np.nan), CFG.joint_names, CFG.finger_joint_names)
        for _ in range(1500):
            flood_img.publish(bad)
            flood_js.publish(nan_js)
        time.sleep(1.0)
        assert graph.procs["policy_node"].alive and graph.procs["controller_node"].alive
        n_diag = len(diags)
        probe.wait_for(lambda: len(diags) >= n_diag + 2, 5.0, "diagnostics still published after the flood")
        log = graph.procs["policy_node"].output()
        assert log.count("rejected /camera/image_raw") < 20, "malformed-input logging is not throttled"

        # --- stale stamps: frames from 5 s ago are not a current observation
        arm.mode = "stale_image"
        time.sleep(0.8)
        n = len(chunks)
        time.sleep(1.0)
        assert len(chunks) == n, "policy inferred on stale frames"
        d = probe.wait_for(
            lambda: (v := _last_diag(diags, "policy_node")) and "stale" in v["hold_reason"] and v, 5.0, "stale hold"
        )

        # --- NaN joint states: rejected by both nodes, still a hold
        arm.mode = "nan_state"
        time.sleep(1.0)
        assert all(np.all(np.isfinite(msg_to_command(m))) for _, m in arm.cmds[-50:])
        assert graph.procs["policy_node"].alive and graph.procs["controller_node"].alive
        d = probe.wait_for(
            lambda: (v := _last_diag(diags, "controller_node")) and int(v["bad_state"]) > 0 and v, 5.0, "bad_state"
        )

        # --- joint states stop altogether: the controller holds and says so
        arm.mode = "good"
        n = len(chunks)
        probe.wait_for(lambda: len(chunks) >= n + 3, 10.0, "chunks before the silence")
        arm.mode = "silent"
        t = time.monotonic()
        d = probe.wait_for(
            lambda: (v := _last_diag(diags, "controller_node")) and v["state_lost"] == "True" and v, 5.0, "state_lost"
        )
        time.sleep(0.5)
        t = time.monotonic()
        time.sleep(0.5)
        assert _spread(arm.cmds, t) < 1e-9, "controller kept moving without joint states"

        # --- back to good input: motion resumes
        arm.mode = "good"
        n = len(chunks)
        probe.wait_for(lambda: len(chunks) >= n + 3, 10.0, "chunks after recovery")
        t = time.monotonic()
        time.sleep(0.8)
        assert _spread(arm.cmds, t) > 1e-4, "no motion after recovery"

        # --- e-stop: never accelerates after it arrives, comes to rest, stays there until reset
        t_stop = time.monotonic()
        pub_estop.publish(Bool(data=True))
        time.sleep(1.5)
        post = np.array([msg_to_command(m) for ts, m in arm.cmds if ts >= t_stop])
        speed = np.max(np.abs(np.diff(post, axis=0)), axis=1)
        # braking at the acceleration limit (plus a small slack for the ticks already in flight)
        assert speed[-20:].max() < 1e-9, "arm still moving 1.5 s after the e-stop"
        amax_dt = float(np.max(CFG.acceleration_limit8)) / 250.0 / 250.0
        assert np.all(np.diff(speed[3:]) <= amax_dt + 1e-9), "speed increased during the e-stop"
        n = len(chunks)
        t = time.monotonic()
        time.sleep(1.0)
        assert len(chunks) > n, "policy should keep running during the e-stop"
        assert _spread(arm.cmds, t) < 1e-9, "e-stop released itself"
        pub_estop.publish(Bool(data=False))  # false does not release a latched e-stop
        time.sleep(0.5)
        assert _spread(arm.cmds, t) < 1e-9
        d = _last_diag(diags, "controller_node")
        assert d and d["estop_latched"] == "True"
        assert reset.wait_for_service(timeout_sec=5.0)
        fut = reset.call_async(Trigger.Request())
        res = probe.wait_for(lambda: fut.done() and fut.result(), 5.0, "reset response")
        assert res.success
        t = time.monotonic()
        time.sleep(1.2)
        assert _spread(arm.cmds, t) > 1e-4, "no motion after ~/reset"

        # --- the policy dies: the controller holds (watchdog) and stays alive
        graph.procs["policy_node"].signal(9)
        t = time.monotonic()
        time.sleep(2.0)
        assert _spread(arm.cmds, t + 1.2) < 1e-9, "controller kept moving without a policy"
        assert graph.procs["controller_node"].alive
        assert len([1 for ts, _ in arm.cmds if ts > t + 1.2]) > 50, "controller stopped publishing its hold"
    finally:
        arm.close()
