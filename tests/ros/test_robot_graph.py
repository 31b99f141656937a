"""The real-arm graph (camera_node + policy_node + controller_node) from ``jafm-robot bringup``.

A generated video file stands in for the USB camera and the test process plays a ros2_control arm
listening on a remapped command topic (``--command-topic``, the launch file's ``command_topic``).
Stopped with SIGTERM (the sim graph test uses SIGINT).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory

from jafm_robot.robots.config import load_robot_config
from jafm_robot.ros import qos
from jafm_robot.ros.conversions import msg_to_command, sec_to_stamp, stamp_to_sec, state8_to_joint_state
from jafm_robot.ros.process import NodeProcess, ros_env

from .test_camera_node import write_video

pytestmark = pytest.mark.ros
CFG = load_robot_config("panda")
ARM_TOPIC = "/panda/arm_controller/commands"


def test_bringup_robot_graph_with_video_camera(tmp_path: Path, domain: int, probe) -> None:
    from jafm_robot.runtime.testing import make_dummy_policy

    model = make_dummy_policy(tmp_path / "linear.onnx", kind="linear", seed=2)
    video = write_video(tmp_path / "usb_cam.avi", (40, 160, 90), n=20, size=(320, 240))
    arm_cmds = probe.sub(ARM_TOPIC, Float64MultiArray, qos.COMMAND)
    default_cmds = probe.sub(qos.COMMANDS, Float64MultiArray, qos.COMMAND)
    imgs = probe.sub(qos.IMAGE, Image, qos.SENSOR)
    chunks = probe.sub(qos.ACTION_CHUNK, JointTrajectory, qos.CHUNK)
    pub_js = probe.pub(qos.JOINT_STATES, JointState, qos.DEFAULT)
    probe.pub(qos.INSTRUCTION, String, qos.LATCHED).publish(String(data="put the green cube in the red bin"))
    stop = threading.Event()

    def arm() -> None:  # a position-controlled arm: it is where it was last commanded
        while not stop.is_set():
            q = msg_to_command(arm_cmds[-1][1]) if arm_cmds else CFG.home8
            pub_js.publish(state8_to_joint_state(q, CFG.joint_names, CFG.finger_joint_names, sec_to_stamp(time.time())))
            stop.wait(0.01)

    t_arm = threading.Thread(target=arm, daemon=True)
    t_arm.start()
    cmd = [sys.executable, "-m", "jafm_robot.cli.main", "bringup", "--domain-id", str(domain), "--model", str(model),
           "--camera", str(video), "--command-topic", ARM_TOPIC]
    proc = NodeProcess("bringup", cmd, env=ros_env(domain)).start()
    try:
        probe.wait_for(lambda: len(arm_cmds) >= 200, 90.0, f"commands on {ARM_TOPIC}")
        assert not default_cmds, "commands also went to the default topic"
        probe.wait_for(lambda: len(imgs) >= 5 and len(chunks) >= 5, 10.0, "camera frames and chunks seen by the probe")
        assert imgs[-1][1].width == 128 and imgs[-1][1].height == 128  # camera_node cropped + resized
        # chunks come from camera frames: their stamps are camera image stamps (images are best
        # effort, so the probe may have missed some, and its image subscription may match later
        # than the policy's: one chunk stamped with a frame the probe saw, within 10 s, is the claim)
        def stamped_from_a_seen_frame() -> bool:
            img_stamps = {round(stamp_to_sec(m.header.stamp), 6) for _, m in list(imgs)}
            return any(round(stamp_to_sec(m.header.stamp), 6) in img_stamps for _, m in list(chunks))

        probe.wait_for(stamped_from_a_seen_frame, 10.0, "a chunk stamped with a camera frame the probe saw")
        t = time.monotonic()
        time.sleep(1.0)
        c = np.array([msg_to_command(m) for ts, m in arm_cmds if ts >= t])
        assert np.max(np.ptp(c, axis=0)) > 1e-4, "the arm is not driven"
    finally:
        stop.set()
        t_arm.join(2.0)
        proc.signal(signal.SIGTERM)
        try:
            rc = proc.proc.wait(20.0)
        except subprocess.TimeoutExpired:
            proc.stop()
            rc = None
    out = proc.output()
    assert rc == 0, out[-3000:]
    assert "shutting down (SIGTERM)" in out and "'camera_node': 0" in out, out[-2000:]
