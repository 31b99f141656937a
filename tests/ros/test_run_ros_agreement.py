"""``jafm-robot run`` and the ROS sim graph judge the same seeds the same way.

Both hosts step the world through the one real-time stepper (envs.realtime.RealtimeStepper: one lag
policy, one success rule, the one ``eval`` follows) and build their control loop through the one
runtime assembly (runtime.assembly) from the same parameters (the graph's YAML). This runs the
shipped model on a few held-out seeds through ``run``'s host (RealtimeRunner: simulator process +
shared memory) and through the graph (sim_node + policy_node + controller_node as processes, real
rclpy over DDS on loopback, its own ROS_DOMAIN_ID), one ``~/reset`` per seed, and asserts the same
per-seed outcome and the same reported fields (a seed that differs is run once more on the graph:
timing noise of three wall-clock processes does not repeat, a difference in the rules would). In the default run; skips without a shipped model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from std_msgs.msg import String
from std_srvs.srv import Trigger

from jafm_robot.envs.realtime import StepperReport
from jafm_robot.paths import launch_dir
from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros import qos
from jafm_robot.ros.params import ControllerNodeParams, load_node_params

pytestmark = pytest.mark.ros
# held-out seeds (the model card's blocks start at 230000); the shipped model succeeded on both in `run`
SEEDS = (230000, 230001)
ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "pick_place_v0.onnx"
PARAMS = launch_dir() / "params" / "sim_pick_place.yaml"
REPORT_FIELDS = {f.name for f in dataclasses.fields(StepperReport)}


def _call(probe, client, request, what: str, timeout: float = 15.0):
    assert client.wait_for_service(timeout_sec=10.0), f"no {what} service"
    fut = client.call_async(request)
    return probe.wait_for(lambda: fut.done() and fut.result(), timeout, what)


def test_run_and_the_ros_graph_give_the_same_outcome_per_seed(graph, probe) -> None:
    if not MODEL.is_file():
        pytest.skip("no shipped policy models/pick_place_v0.onnx")
    from jafm_robot.hosts.realtime import RealtimeRunner

    ctrl = load_node_params(PARAMS, "controller_node", ControllerNodeParams)

    # --- run's host, with the controller parameters the graph runs with
    by_run: dict[int, dict] = {}
    with RealtimeRunner(str(MODEL), "PickPlace", loop_rate=ctrl.rate_hz, overlap_weight=ctrl.overlap_weight) as runner:
        limit = runner.sim.info["max_episode_steps"] * runner.sim.info["action_dt"]  # the task's, as eval
        for seed in SEEDS:
            ep = runner.run_episode(seed, "en")
            assert REPORT_FIELDS <= set(ep.sim), f"run does not report {REPORT_FIELDS - set(ep.sim)}"
            by_run[seed] = ep.sim | {"outcome": ep.outcome, "success": ep.success}

    # --- the ROS graph: one launch, one ~/reset per seed once the policy is acting
    results = probe.sub("/sim_node/result", String, qos.LATCHED)
    diags = probe.sub(qos.DIAGNOSTICS, DiagnosticArray, qos.DEFAULT)
    graph.start("sim_node", PARAMS, params={"seed": SEEDS[0], "time_limit_s": float(limit)})
    # run's policy thread infers on a timer at the model's rhythm; the graph is told to do the same
    # (its default, the frame trigger, starts each inference when a frame lands: another timing)
    graph.start("policy_node", PARAMS, params={"model": str(MODEL), "provider": "cpu", "trigger": "timer"})
    graph.start("controller_node", PARAMS)

    def policy_acting():
        for _, m in reversed(diags):
            v = diag.values_of(m, "policy_node")
            if v is not None:
                return int(v.get("chunks", 0)) >= 1
        return False

    probe.wait_for(policy_acting, 90.0, "chunks from policy_node")
    set_params = probe.node.create_client(SetParameters, "/sim_node/set_parameters")
    reset = probe.node.create_client(Trigger, "/sim_node/reset")
    by_ros: dict[int, dict] = {}
    episodes = [0]

    def ros_episode(seed: int) -> dict:
        episodes[0] += 1
        episode = episodes[0]
        req = SetParameters.Request(parameters=[Parameter("seed", value=seed).to_parameter_msg()])
        assert _call(probe, set_params, req, "set seed").results[0].successful
        assert _call(probe, reset, Trigger.Request(), "~/reset").success

        def decided():
            for _, m in reversed(results):
                r = json.loads(m.data)
                if r["episode"] == episode:
                    return r
            return None

        r = probe.wait_for(decided, limit + 20.0, f"~/result of seed {seed}")
        assert r["seed"] == seed and r["ended"]
        assert set(r) == REPORT_FIELDS | {"seed", "episode"}  # the fields run reports, plus which episode
        return r

    for seed in SEEDS:
        by_ros[seed] = ros_episode(seed)
    # Three processes on the wall clock are not bit-deterministic: on a loaded 2-core machine a grasp
    # can slip once. A seed whose outcomes differ is run once more on the graph; a difference in how
    # the two hosts step or judge the world would repeat, timing noise does not.
    for seed in SEEDS:
        if by_ros[seed]["outcome"] != by_run[seed]["outcome"]:
            by_ros[seed] = ros_episode(seed)

    summary = {s: (by_run[s]["outcome"], by_ros[s]["outcome"], round(by_run[s]["sim_time"], 1),
                   round(by_ros[s]["sim_time"], 1)) for s in SEEDS}
    print(f"\nper seed (run outcome, ROS outcome, run sim s, ROS sim s): {summary}")
    for s in SEEDS:
        assert by_run[s]["outcome"] == by_ros[s]["outcome"] and by_run[s]["success"] == by_ros[s]["success"], summary
