"""``jafm-robot bench ros``: camera frame -> first joint command that reflects it, through ROS 2 and in-process.

Subject: ``policy_node`` + ``controller_node`` as processes, this process playing camera and arm over
DDS (its own ``ROS_DOMAIN_ID``, localhost). Baseline: the same pipeline in one process -- the same
``PolicyEngine`` + ``AsyncPolicyRunner`` + ``ControlLoop`` with the same rates, frames and state
handed over by function calls. Both run in the same invocation; the ratio is reported.

Two triggers, each in both hosts, all four in one run:

* ``timer`` (``ros2_across_processes``, ``in_process``): the pipeline as it was before event-driven
  inference -- the policy infers at ``--policy-rate`` on the newest frame (a frame waits for the next
  inference tick) and the control loop takes a chunk in at its next tick;
* ``frame`` (``ros2_event_driven``, ``in_process_event_driven``): ``policy_node``'s ``trigger: frame``
  (inference as soon as a frame arrives and the engine is idle) and the loop's ``apply_on_arrival``
  (a chunk applied the moment it arrives, on the next tick's path).

What is measured: a *probe policy* (a real ONNX graph built here) holds the arm where it is and sets
the gripper width from the brightness of the image. The camera shows a dark frame until the
commanded gripper width is steady, then switches to a bright frame; the latency is the time from
publishing the first bright frame to receiving the first command whose gripper value moved (by more
than ``MOVED``: any change, the steady dark value is exact). That command went through everything a
real one does: image conversion, inference, chunk message, blending and the safety filter.

Where the time goes (``breakdown``, ROS event-driven mode): ``policy_node`` and ``controller_node``
report per-stage latencies in ``/diagnostics`` (image stamp -> image callback, conversion, callback ->
inference start, ONNX run, chunk publish, chunk stamp -> chunk callback, chunk -> first command);
what is left of the end-to-end p50 is the command's way back to this process.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HELP = ("camera frame -> first command reflecting it, p50/p99: ROS 2 across processes vs the same pipeline "
        "in-process, each with the timer and the frame trigger")

DARK, BRIGHT = 0, 255
G_LOW, G_SPAN = 0.02, 0.04  # gripper width = G_LOW + G_SPAN * mean(image) / 255
# m: a gripper command this far above the steady dark value "reflects" the bright frame. Any change:
# the first command after a chunk moves little (the blend into a new plan is C1: it starts at the
# current velocity), and a larger threshold would time the blend's ramp instead of the pipeline.
MOVED = 1e-9
MODES = {  # JSON key -> (host, trigger)
    "ros2_across_processes": ("ros", "timer"),
    "in_process": ("in_process", "timer"),
    "ros2_event_driven": ("ros", "frame"),
    "in_process_event_driven": ("in_process", "frame"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=30, help="bright-frame trials per mode")
    parser.add_argument("--policy-rate", type=float, default=30.0, help="policy rate (Hz) of the timer modes")
    parser.add_argument("--max-rate", type=float, default=1000.0,
                        help="frame modes: policy_node's max_rate_hz (default: above the camera rate, so every "
                             "frame is inferred on; 0 = the model's rhythm, policy_node's default)")
    parser.add_argument("--control-rate", type=float, default=250.0, help="control loop rate (Hz), all modes")
    parser.add_argument("--camera-rate", type=float, default=30.0, help="camera frames per second")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")


# ------------------------------------------------------------------------------------- probe policy
def make_probe_policy(path: Path) -> Path:
    """A real ONNX policy: actions[k] = (state[:7], G_LOW + G_SPAN * mean(image)/255) for every k."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from jafm_robot.runtime.metadata import PolicyMetadata, expected_inputs
    from jafm_robot.runtime.testing import write_card

    meta = PolicyMetadata()
    k = meta.chunk_len
    types = {"uint8": TensorProto.UINT8, "float32": TensorProto.FLOAT}
    inputs = [helper.make_tensor_value_info(n, types[t], list(s)) for n, (t, s) in expected_inputs(meta).items()]
    out = helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["B", k, 8])
    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "s0"),
        numpy_helper.from_array(np.array([7], np.int64), "s7"),
        numpy_helper.from_array(np.array([1], np.int64), "ax1"),
        numpy_helper.from_array(np.array(G_SPAN / 255.0, np.float32), "scale"),
        numpy_helper.from_array(np.array(G_LOW, np.float32), "low"),
        numpy_helper.from_array(np.zeros((1, k, 8), np.float32), "zeros_k"),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["img_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["img_f"], ["img_m"], axes=[1, 2, 3], keepdims=0),  # [B]
        helper.make_node("Mul", ["img_m", "scale"], ["g0"]),
        helper.make_node("Add", ["g0", "low"], ["g1"]),
        helper.make_node("Unsqueeze", ["g1", "ax1"], ["g"]),  # [B, 1]
        helper.make_node("Slice", ["state", "s0", "s7", "ax1"], ["q7"]),  # [B, 7]
        helper.make_node("Concat", ["q7", "g"], ["a8"], axis=1),
        helper.make_node("Unsqueeze", ["a8", "ax1"], ["a18"]),
        helper.make_node("Add", ["a18", "zeros_k"], ["actions"]),
    ]
    graph = helper.make_graph(nodes, "jafm_bench_ros_probe", inputs, [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="jafm_robot.bench.ros")
    model.ir_version = 8
    helper.set_model_props(model, meta.to_props())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    write_card(path, {"name": path.stem, "kind": "bench-ros-probe"})
    return path


# -------------------------------------------------------------------------------------- trial logic
class Trials:
    """Dark until the gripper command is steady, then bright; time to the first moved command."""

    def __init__(self, n: int, set_bright: Callable[[bool], float], commands: list, lock: threading.Lock) -> None:
        self.n, self.set_bright, self.commands, self.lock = n, set_bright, commands, lock

    def _wait(self, cond: Callable[[], float | None], timeout: float) -> float | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = cond()
            if v is not None:
                return v
            time.sleep(0.001)
        return None

    def _steady_dark(self) -> float | None:
        with self.lock:
            recent = [c for t, c in self.commands[-40:] if t > time.monotonic() - 0.3]
        if len(recent) >= 5 and abs(recent[-1] - G_LOW) < 1e-4 and max(recent) - min(recent) < 1e-9:
            return recent[-1]
        return None

    def run(self, progress: Callable[[int], None] | None = None) -> tuple[list[float], int]:
        lat: list[float] = []
        failures = 0
        for i in range(self.n):
            self.set_bright(False)
            steady = self._wait(self._steady_dark, 10.0)
            if steady is None:
                failures += 1
                continue
            t0 = self.set_bright(True)  # monotonic time the first bright frame was handed over

            def moved(t0: float = t0, ref: float = steady) -> float | None:
                with self.lock:
                    hits = [t for t, c in self.commands[-2000:] if t >= t0 and c > ref + MOVED]
                return hits[0] if hits else None

            t1 = self._wait(moved, 5.0)
            if t1 is None:
                failures += 1
            else:
                lat.append(t1 - t0)
            if progress:
                progress(i)
        self.set_bright(False)
        return lat, failures


def _summary(lat: list[float], failures: int) -> dict:
    a = np.asarray(lat) * 1e3
    if a.size == 0:
        return {"n": 0, "failures": failures}
    return {
        "n": int(a.size),
        "failures": failures,
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "mean_ms": float(a.mean()),
        "min_ms": float(a.min()),
        "max_ms": float(a.max()),
    }


def _params_yaml() -> Path:
    from jafm_robot.paths import launch_dir

    return launch_dir() / "params" / "sim_pick_place.yaml"


def _controller_overrides(args: argparse.Namespace, trigger: str) -> dict:
    """What this benchmark sets in ``controller_node``'s parameters, over the graph's YAML; the
    in-process baseline builds its loop from the very same parameters. The timer modes are the
    pipeline before event-driven inference: a chunk waits for the loop's next tick."""
    return {"rate_hz": args.control_rate, "chunk_timeout_s": 1.5, "apply_on_arrival": trigger == "frame"}


def _policy_overrides(args: argparse.Namespace, trigger: str) -> dict:
    return {"trigger": trigger, "rate_hz": args.policy_rate, "max_rate_hz": args.max_rate}


# ------------------------------------------------------------------------------------- in-process
def run_in_process(model: Path, args: argparse.Namespace, trigger: str = "timer") -> dict:
    import dataclasses

    from jafm_robot.robots.config import load_robot_config
    from jafm_robot.ros.params import ControllerNodeParams, from_dict, load_node_params
    from jafm_robot.runtime.assembly import build_control_loop
    from jafm_robot.runtime.chunks import replan_rate_hz
    from jafm_robot.runtime.engine import PolicyEngine
    from jafm_robot.runtime.inference import AsyncPolicyRunner

    cfg = load_robot_config("panda")
    # controller_node's parameters as the ROS mode gives them (the graph's YAML + this benchmark's
    # overrides), built into the loop by the same assembly controller_node uses
    yaml_params = dataclasses.asdict(load_node_params(_params_yaml(), "controller_node", ControllerNodeParams))
    params = from_dict(ControllerNodeParams, {**yaml_params, **_controller_overrides(args, trigger)}).runtime()
    engine = PolicyEngine(model, provider="cpu", allow_spinning=False)
    lock = threading.Lock()
    commands: list[tuple[float, float]] = []
    state = {"q": cfg.home8.astype(np.float64)}
    frame = {"img": np.full((128, 128, 3), DARK, np.uint8), "stamp": time.monotonic(), "bright": False}
    stop = threading.Event()

    period = 1.0 / args.camera_rate
    cam_lock = threading.Lock()
    schedule = {"next": time.monotonic()}

    def shoot(bright: bool | None = None) -> float:
        """One camera frame; the next one is due a camera period later (a bright switch is a frame
        of the camera's own schedule, never an extra frame squeezed in right after another)."""
        with cam_lock:
            with lock:
                if bright is not None:
                    frame["bright"] = bright
                frame["img"] = np.full((128, 128, 3), BRIGHT if frame["bright"] else DARK, np.uint8)
                frame["stamp"] = t = time.monotonic()
            schedule["next"] = t + period
            if trigger == "frame":
                runner.notify_frame(t, t)
        return t

    def camera() -> None:  # frames at camera_rate, like the ROS camera
        while not stop.is_set():
            wait = schedule["next"] - time.monotonic()
            if wait > 0:
                stop.wait(min(wait, 0.005))
                continue
            shoot()

    def get_obs():
        with lock:
            return frame["stamp"], {"image": frame["img"], "state": state["q"].astype(np.float32), "instruction": "go"}

    loop = build_control_loop(cfg, params, read_state=lambda: state["q"].copy(),
                              send_command=lambda q: _record(commands, lock, state, q))
    runner = AsyncPolicyRunner(engine, get_obs, loop.submit_chunk, rate_hz=args.policy_rate, max_obs_age=0.5,
                               trigger=trigger, max_rate_hz=args.max_rate or replan_rate_hz(engine.action_dt,
                                                                                           engine.chunk_len))

    def set_bright(b: bool) -> float:
        return shoot(b)

    cam = threading.Thread(target=camera, daemon=True)
    cam.start()
    loop.start()
    runner.start()
    try:
        lat, fail = Trials(args.trials, set_bright, commands, lock).run()
    finally:
        runner.stop()
        loop.stop()
        stop.set()
        cam.join(1.0)
    out = _summary(lat, fail)
    rs, ls = runner.stats(), loop.stats()
    out["stages_p50_ms"] = {"wake": rs.get("wake_p50_ms"), "infer": rs.get("latency_p50_ms"),
                            "chunk_apply": ls.get("chunk_apply_p50_ms")}
    return out


def _record(commands: list, lock: threading.Lock, state: dict, q: np.ndarray) -> None:
    with lock:
        commands.append((time.monotonic(), float(q[7])))
        if len(commands) > 20000:
            del commands[:10000]
        state["q"] = np.asarray(q, dtype=np.float64)  # an ideal arm: it is where it was commanded


# ------------------------------------------------------------------------------------------- ROS 2
def run_ros(model: Path, args: argparse.Namespace, workdir: Path, trigger: str = "timer") -> dict:
    import os

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float64MultiArray, String

    from jafm_robot.robots.config import load_robot_config
    from jafm_robot.ros import diagnostics as diag
    from jafm_robot.ros import qos
    from jafm_robot.ros.conversions import numpy_to_image, sec_to_stamp, state8_to_joint_state
    from jafm_robot.ros.node_util import make_executor
    from jafm_robot.ros.process import (
        NodeProcess,
        fresh_domain_id,
        node_command,
        ros_env,
        stop_all,
        write_params_file,
    )

    cfg = load_robot_config("panda")
    domain = fresh_domain_id()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    params = write_params_file(
        _params_yaml(),
        {
            "policy_node": {"model": str(model), "provider": "cpu", **_policy_overrides(args, trigger)},
            "controller_node": _controller_overrides(args, trigger),
        },
        workdir / f"bench_params_{trigger}.yaml",
    )
    env = ros_env(domain)
    procs = [NodeProcess(n, node_command(n, params), env=env).start() for n in ("policy_node", "controller_node")]

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("bench_ros", context=ctx)
    ex = make_executor(ctx)  # the nodes' executor (ros.node_util): the arm side is not the bottleneck
    ex.add_node(node)
    lock = threading.Lock()
    commands: list[tuple[float, float]] = []
    state = {"q": cfg.home8.astype(np.float64)}
    bright = {"on": False}
    stop = threading.Event()

    def on_cmd(m: Float64MultiArray) -> None:
        _record(commands, lock, state, np.asarray(m.data))

    node.create_subscription(Float64MultiArray, qos.COMMANDS, on_cmd, qos.COMMAND)
    diags: dict[str, dict[str, str]] = {}

    def on_diag(m: DiagnosticArray) -> None:
        for name in ("policy_node", "controller_node"):
            v = diag.values_of(m, name)
            if v is not None:
                diags[name] = v

    node.create_subscription(DiagnosticArray, qos.DIAGNOSTICS, on_diag, qos.DEFAULT)
    pub_img = node.create_publisher(Image, qos.IMAGE, qos.SENSOR)
    pub_js = node.create_publisher(JointState, qos.JOINT_STATES, qos.DEFAULT)
    pub_instr = node.create_publisher(String, qos.INSTRUCTION, qos.LATCHED)
    pub_instr.publish(String(data="put the red cube in the blue bin"))  # policy_node grounds it (a bare "go" is refused)
    imgs = {b: np.full((128, 128, 3), BRIGHT if b else DARK, np.uint8) for b in (False, True)}

    period = 1.0 / args.camera_rate
    cam_lock = threading.Lock()
    schedule = {"next": time.monotonic()}

    def publish_frame(on: bool | None = None) -> float:
        """One camera frame; the next is due a camera period later (see the in-process ``shoot``)."""
        with cam_lock:
            if on is not None:
                bright["on"] = on
            msg = numpy_to_image(imgs[bright["on"]], sec_to_stamp(time.time()))
            t = time.monotonic()
            pub_img.publish(msg)
            schedule["next"] = t + period
        return t

    def camera_and_arm() -> None:  # joint states at 100 Hz, frames at camera_rate
        next_js = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_js:
                with lock:
                    q = state["q"].copy()
                stamp = sec_to_stamp(time.time())
                pub_js.publish(state8_to_joint_state(q, cfg.joint_names, cfg.finger_joint_names, stamp))
                next_js = max(next_js + 0.01, now)
            if now >= schedule["next"]:
                publish_frame()
            stop.wait(max(0.0, min(next_js, schedule["next"]) - time.monotonic()))

    def set_bright(b: bool) -> float:
        return publish_frame(b)

    spin = threading.Thread(target=lambda: _spin(ex, stop), daemon=True)
    spin.start()
    arm = threading.Thread(target=camera_and_arm, daemon=True)
    arm.start()
    try:
        deadline = time.monotonic() + 60.0
        while not commands and time.monotonic() < deadline:
            if any(not p.alive for p in procs):
                raise RuntimeError("a node died: " + "\n".join(p.output()[-1500:] for p in procs))
            time.sleep(0.1)
        if not commands:
            raise RuntimeError("no commands from controller_node within 60 s")
        lat, fail = Trials(args.trials, set_bright, commands, lock).run()
        diags.clear()
        end = time.monotonic() + 3.0  # the nodes' next diagnostics (1 Hz), with every trial in them
        while len(diags) < 2 and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        stop.set()
        arm.join(1.0)
        spin.join(1.0)
        stop_all(procs)
        ex.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
    out = _summary(lat, fail)
    out["breakdown"] = breakdown(diags.get("policy_node", {}), diags.get("controller_node", {}), out.get("p50_ms"))
    return out


def breakdown(policy: dict[str, str], controller: dict[str, str], total_p50_ms: float | None) -> dict:
    """Per-stage p50s (ms) from the nodes' ``/diagnostics``, in path order, and the rest of the total.

    p50s of stages do not add up exactly to the p50 of their sum; the rest is the command's way from
    ``controller_node`` to this process plus that mismatch."""

    def f(d: dict[str, str], k: str) -> float:
        try:
            return float(d[k])
        except (KeyError, ValueError):
            return float("nan")

    obs_to_chunk = f(policy, "obs_to_chunk_p50_ms")  # image stamp -> chunk published
    stages = {
        "image_dds_and_executor": f(policy, "image_transport_p50_ms"),
        "image_conversion": f(policy, "image_convert_p50_ms"),
        "wake_inference_thread": f(policy, "runner_wake_p50_ms"),
        "observation_fetch": f(policy, "runner_fetch_p50_ms"),
        "inference": f(policy, "infer_p50_ms"),
        "chunk_message_and_publish": f(policy, "runner_handoff_p50_ms"),
        "chunk_dds_executor_and_conversion": f(controller, "chunk_age_p50_ms") - obs_to_chunk,
        "chunk_applied_to_command_sent": f(controller, "loop_chunk_apply_p50_ms"),
    }
    known = sum(v for v in stages.values() if v == v)
    stages["rest_command_back_to_bench"] = (total_p50_ms - known) if total_p50_ms is not None else float("nan")
    return {"stages_p50_ms": stages, "policy_node": policy, "controller_node": controller}


def _spin(ex, stop: threading.Event) -> None:
    while not stop.is_set():
        ex.spin_once(timeout_sec=0.05)


def run(args: argparse.Namespace) -> int:
    import os

    from jafm_robot.reporting import write_json

    if args.trials < 1:
        raise ValueError("--trials must be >= 1")
    workdir = Path(tempfile.mkdtemp(prefix="jafm_bench_ros_"))
    model = make_probe_policy(workdir / "bench_ros_probe.onnx")
    print(f"bench ros: {args.trials} trials per mode, timer policy {args.policy_rate} Hz, frame trigger at most "
          f"{args.max_rate or 'the model rhythm'} Hz, loop {args.control_rate} Hz", file=sys.stderr)
    load_before = os.getloadavg()
    res: dict[str, dict] = {}
    for key, (host, trigger) in MODES.items():
        res[key] = run_ros(model, args, workdir, trigger) if host == "ros" else run_in_process(model, args, trigger)
        print(f"  {key:24s}: {_short(res[key])}", file=sys.stderr)

    def ratio(a: str, b: str, q: str) -> float | None:
        return res[a][q] / res[b][q] if res[a].get("n") and res[b].get("n") else None

    result = {
        "metric": "camera frame published -> first joint command reflecting it (ms)",
        **res,
        "ratio_p50": ratio("ros2_across_processes", "in_process", "p50_ms"),
        "ratio_p99": ratio("ros2_across_processes", "in_process", "p99_ms"),
        "event_driven_ratio_p50": ratio("ros2_event_driven", "in_process_event_driven", "p50_ms"),
        "event_driven_vs_timer_p50": ratio("ros2_event_driven", "ros2_across_processes", "p50_ms"),
        "settings": {
            "trials": args.trials,
            "policy_rate_hz": args.policy_rate,
            "max_rate_hz": args.max_rate,
            "control_rate_hz": args.control_rate,
            "camera_rate_hz": args.camera_rate,
            "moved_threshold_m": MOVED,
            "image": "128x128 rgb8",
            "rmw": "rmw_fastrtps_cpp (PyPI wheels), localhost",
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        "command": "jafm-robot bench ros " + " ".join(sys.argv[3:]),
    }
    print("frame->command p50/p99 (ms): " + ", ".join(
        f"{k} {v.get('p50_ms', float('nan')):.1f}/{v.get('p99_ms', float('nan')):.1f}" for k, v in res.items()))
    write_json(args.json, result)
    return 0 if all(v.get("n") for v in res.values()) else 1


def _short(r: dict) -> str:
    return f"n={r.get('n')} fail={r.get('failures')} p50={r.get('p50_ms', float('nan')):.2f} " \
           f"p99={r.get('p99_ms', float('nan')):.2f} ms"
