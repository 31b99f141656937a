"""Instructions over ROS 2: policy_node grounds each one when it arrives, publishes what it
understood on /instruction/understood (latched JSON), and for every refusal class publishes no
chunk while the controller holds the arm; a good instruction afterwards is taken normally.

policy_node and controller_node run as processes over real DDS; the test plays arm and camera
(tests.ros.test_control_graph.FakeArm) with a real ONNX policy that serves PickPlace only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from jafm_robot.ros import qos
from tests.ros.test_control_graph import LAUNCH, FakeArm, _last_diag, _spread

pytestmark = pytest.mark.ros

GOOD_EN = "could you put the red cube in the blue basket?"
GOOD_JA = "赤いキューブを青いかごに入れておいてください"
# one instruction per refusal class, both languages among them
BAD = [
    ("   ", "empty"),
    ("把红色方块放进蓝色箱子", "other_language"),
    ("빨간 큐브를 파란 상자에 넣어", "other_language"),
    ("asdf qwer zxcv", "gibberish"),
    ("weld the bracket to the frame", "unserved_task"),
    ("赤いキューブを青いブロックの上に積んで", "unserved_task"),  # Stack: this policy serves PickPlace only
    ("put the pink sphere in the blue bin", "unknown_vocabulary"),
    ("紫のボルトを赤い箱に入れて", "absent_part"),
]


def test_policy_node_refuses_what_it_cannot_ground_and_the_arm_holds(tmp_path: Path, graph, probe) -> None:
    from jafm_robot.runtime.metadata import PolicyMetadata
    from jafm_robot.runtime.testing import make_dummy_policy

    model = make_dummy_policy(tmp_path / "linear.onnx", meta=PolicyMetadata(tasks=["PickPlace"]), kind="linear", seed=3)
    params = LAUNCH / "params" / "sim_pick_place.yaml"
    chunks = probe.sub(qos.ACTION_CHUNK, JointTrajectory, qos.CHUNK)
    understood = probe.sub(qos.INSTRUCTION_UNDERSTOOD, String, qos.LATCHED)
    diags = probe.sub(qos.DIAGNOSTICS, DiagnosticArray, qos.DEFAULT)
    pub_instr = probe.pub(qos.INSTRUCTION, String, qos.LATCHED)
    arm = FakeArm(probe)
    try:
        graph.start("policy_node", params, params={"model": str(model), "trigger": "timer", "rate_hz": 10.0,
                                                   "scene_parts": "red cube,green cylinder,blue block"})
        graph.start("controller_node", params, params={"chunk_timeout_s": 0.6})

        def readout_for(text: str) -> dict:
            got = probe.wait_for(lambda: next((json.loads(m.data) for _, m in reversed(understood)
                                               if json.loads(m.data)["instruction"] == text.strip()), None),
                                 15.0, f"/instruction/understood for {text!r}")
            return got

        pub_instr.publish(String(data=GOOD_EN))
        r = readout_for(GOOD_EN)
        assert r["understood"] and r["task"] == "PickPlace" and r["part"] == {"color": "red", "shape": "cube"}
        assert r["bin"] == "blue" and r["base"] is None and not r["refused"]
        probe.wait_for(lambda: len(chunks) >= 3, 40.0, "chunks for a good instruction")

        for i, (text, code) in enumerate(BAD):
            pub_instr.publish(String(data=text))
            r = readout_for(text)
            assert not r["understood"] and r["refused"] and r["code"] == code and r["reason"], (text, r)
            time.sleep(0.3)  # a chunk already in flight may still land
            n, t = len(chunks), time.monotonic()
            time.sleep(1.5)
            assert len(chunks) == n, f"policy_node published a chunk for refused {text!r}"
            # the last plan ends and the controller's watchdog (0.6 s without chunks) holds the arm
            if i == 0:
                assert _spread(arm.cmds, t + 0.8) < 1e-6, "the controller did not hold"
            d = probe.wait_for(lambda: (_last_diag(diags, "policy_node") or {}).get("holding") == "True"
                               and _last_diag(diags, "policy_node"), 10.0, "policy_node holding")
            assert d["hold_reason"].startswith("instruction refused") and int(d["refused"]) >= i + 1

        # a later good instruction is taken normally
        pub_instr.publish(String(data=GOOD_JA))
        r = readout_for(GOOD_JA)
        assert r["understood"] and r["language"] == "ja" and r["bin"] == "blue"
        n = len(chunks)
        probe.wait_for(lambda: len(chunks) >= n + 3, 20.0, "chunks after a good instruction again")
    finally:
        arm.close()
