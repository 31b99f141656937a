"""``jafm-robot bench ros``: camera frame -> first joint command that reflects it, through ROS 2 and in-process.

Subject: ``policy_node`` + ``controller_node`` as processes, this process playing camera and arm over
DDS (its own ``ROS_DOMAIN_ID``, localhost). Baseline: the same pipeline in one process -- the same
``PolicyEngine`` + ``AsyncPolicyRunner`` + ``ControlLoop`` with the same rates, frames and state
handed over by function calls. Both run in the same invocation; the ratio is reported.

What is measured: a *probe policy* (a real ONNX graph built here) holds the arm where it is and sets
the gripper width from the brightness of the image. The camera shows a dark frame until the
commanded gripper width is steady, then switches to a bright frame; the latency is the time from
publishing the first bright frame to receiving the first command whose gripper value moved. That
command went through everything a real one does: image conversion, inference, chunk message,
blending and the safety filter. The policy rate is the same in both modes (default 30 Hz), so the
sampling delay (a frame waits for the next inference tick) is part of both numbers equally.
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

HELP = "camera frame -> first command reflecting it, p50/p99: ROS 2 across processes vs the same pipeline in-process"

DARK, BRIGHT = 0, 255
G_LOW, G_SPAN = 0.02, 0.04  # gripper width = G_LOW + G_SPAN * mean(image) / 255
MOVED = 1e-6  # m: a gripper command this far above the steady dark value "reflects" the bright frame


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=30, help="bright-frame trials per mode")
    parser.add_argument("--policy-rate", type=float, default=30.0, help="policy rate (Hz), both modes")
    parser.add_argument("--control-rate", type=float, default=250.0, help="control loop rate (Hz), both modes")
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


def _controller_overrides(args: argparse.Namespace) -> dict:
    """What this benchmark sets in ``controller_node``'s parameters, over the graph's YAML; the
    in-process baseline builds its loop from the very same parameters."""
    return {"rate_hz": args.control_rate, "chunk_timeout_s": 1.5}


# ------------------------------------------------------------------------------------- in-process
def run_in_process(model: Path, args: argparse.Namespace) -> dict:
    import dataclasses

    from jafm_robot.robots.config import load_robot_config
    from jafm_robot.ros.params import ControllerNodeParams, from_dict, load_node_params
    from jafm_robot.runtime.assembly import build_control_loop
    from jafm_robot.runtime.engine import PolicyEngine
    from jafm_robot.runtime.inference import AsyncPolicyRunner

    cfg = load_robot_config("panda")
    # controller_node's parameters as the ROS mode gives them (the graph's YAML + this benchmark's
    # overrides), built into the loop by the same assembly controller_node uses
    yaml_params = dataclasses.asdict(load_node_params(_params_yaml(), "controller_node", ControllerNodeParams))
    params = from_dict(ControllerNodeParams, {**yaml_params, **_controller_overrides(args)}).runtime()
    engine = PolicyEngine(model, provider="cpu", allow_spinning=False)
    lock = threading.Lock()
    commands: list[tuple[float, float]] = []
    state = {"q": cfg.home8.astype(np.float64)}
    frame = {"img": np.full((128, 128, 3), DARK, np.uint8), "stamp": time.monotonic(), "bright": False}
    stop = threading.Event()

    def camera() -> None:  # frames at camera_rate, like the ROS camera
        period = 1.0 / args.camera_rate
        while not stop.is_set():
            with lock:
                frame["img"] = np.full((128, 128, 3), BRIGHT if frame["bright"] else DARK, np.uint8)
                frame["stamp"] = time.monotonic()
            stop.wait(period)

    def get_obs():
        with lock:
            return frame["stamp"], {"image": frame["img"], "state": state["q"].astype(np.float32), "instruction": "go"}

    loop = build_control_loop(cfg, params, read_state=lambda: state["q"].copy(),
                              send_command=lambda q: _record(commands, lock, state, q))
    runner = AsyncPolicyRunner(engine, get_obs, loop.submit_chunk, rate_hz=args.policy_rate, max_obs_age=0.5)

    def set_bright(b: bool) -> float:
        with lock:
            frame["bright"] = b
            frame["img"] = np.full((128, 128, 3), BRIGHT if b else DARK, np.uint8)
            frame["stamp"] = t = time.monotonic()
        return t

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
    return _summary(lat, fail)


def _record(commands: list, lock: threading.Lock, state: dict, q: np.ndarray) -> None:
    with lock:
        commands.append((time.monotonic(), float(q[7])))
        if len(commands) > 20000:
            del commands[:10000]
        state["q"] = np.asarray(q, dtype=np.float64)  # an ideal arm: it is where it was commanded


# ------------------------------------------------------------------------------------------- ROS 2
def run_ros(model: Path, args: argparse.Namespace, workdir: Path) -> dict:
    import os

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float64MultiArray, String

    from jafm_robot.robots.config import load_robot_config
    from jafm_robot.ros import qos
    from jafm_robot.ros.conversions import numpy_to_image, sec_to_stamp, state8_to_joint_state
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
            "policy_node": {"model": str(model), "rate_hz": args.policy_rate, "provider": "cpu"},
            "controller_node": _controller_overrides(args),
        },
        workdir / "bench_params.yaml",
    )
    env = ros_env(domain)
    procs = [NodeProcess(n, node_command(n, params), env=env).start() for n in ("policy_node", "controller_node")]

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("bench_ros", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    lock = threading.Lock()
    commands: list[tuple[float, float]] = []
    state = {"q": cfg.home8.astype(np.float64)}
    bright = {"on": False}
    stop = threading.Event()

    def on_cmd(m: Float64MultiArray) -> None:
        _record(commands, lock, state, np.asarray(m.data))

    node.create_subscription(Float64MultiArray, qos.COMMANDS, on_cmd, qos.COMMAND)
    pub_img = node.create_publisher(Image, qos.IMAGE, qos.SENSOR)
    pub_js = node.create_publisher(JointState, qos.JOINT_STATES, qos.DEFAULT)
    pub_instr = node.create_publisher(String, qos.INSTRUCTION, qos.LATCHED)
    pub_instr.publish(String(data="go"))
    imgs = {b: np.full((128, 128, 3), BRIGHT if b else DARK, np.uint8) for b in (False, True)}

    def publish_frame() -> float:
        msg = numpy_to_image(imgs[bright["on"]], sec_to_stamp(time.time()))
        t = time.monotonic()
        pub_img.publish(msg)
        return t

    def camera_and_arm() -> None:
        k, cam_every = 0, max(1, round(100.0 / args.camera_rate))
        while not stop.is_set():
            with lock:
                q = state["q"].copy()
            pub_js.publish(state8_to_joint_state(q, cfg.joint_names, cfg.finger_joint_names, sec_to_stamp(time.time())))
            if k % cam_every == 0:
                publish_frame()
            k += 1
            stop.wait(0.01)

    def set_bright(b: bool) -> float:
        bright["on"] = b
        return publish_frame()

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
    finally:
        stop.set()
        arm.join(1.0)
        spin.join(1.0)
        stop_all(procs)
        ex.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
    return _summary(lat, fail)


def _spin(ex, stop: threading.Event) -> None:
    while not stop.is_set():
        ex.spin_once(timeout_sec=0.05)


def run(args: argparse.Namespace) -> int:
    from jafm_robot.reporting import write_json

    if args.trials < 1:
        raise ValueError("--trials must be >= 1")
    workdir = Path(tempfile.mkdtemp(prefix="jafm_bench_ros_"))
    model = make_probe_policy(workdir / "bench_ros_probe.onnx")
    print(f"bench ros: {args.trials} trials per mode, policy {args.policy_rate} Hz, loop {args.control_rate} Hz",
          file=sys.stderr)
    inproc = run_in_process(model, args)
    print(f"  in-process: {inproc}", file=sys.stderr)
    ros = run_ros(model, args, workdir)
    print(f"  ROS 2     : {ros}", file=sys.stderr)
    result = {
        "metric": "camera frame published -> first joint command reflecting it (ms)",
        "ros2_across_processes": ros,
        "in_process": inproc,
        "ratio_p50": ros.get("p50_ms", float("nan")) / inproc.get("p50_ms", float("nan")) if inproc.get("n") else None,
        "ratio_p99": ros.get("p99_ms", float("nan")) / inproc.get("p99_ms", float("nan")) if inproc.get("n") else None,
        "settings": {
            "trials": args.trials,
            "policy_rate_hz": args.policy_rate,
            "control_rate_hz": args.control_rate,
            "camera_rate_hz": args.camera_rate,
            "image": "128x128 rgb8",
            "rmw": "rmw_fastrtps_cpp (PyPI wheels), localhost",
        },
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": "jafm-robot bench ros " + " ".join(sys.argv[3:]),
    }
    print(
        f"frame->command p50/p99: ROS 2 {ros.get('p50_ms', float('nan')):.1f}/{ros.get('p99_ms', float('nan')):.1f} ms, "
        f"in-process {inproc.get('p50_ms', float('nan')):.1f}/{inproc.get('p99_ms', float('nan')):.1f} ms"
    )
    write_json(args.json, result)
    return 0 if ros.get("n") and inproc.get("n") else 1
