"""``sim_node``: the PyBullet work cell standing in for the robot and its cameras.

Publishes ``/joint_states`` (7 arm joints + ``panda_finger_joint1/2``, each finger at half the opening
width, as ``franka_gripper`` does for a real Panda), ``/camera/image_raw`` + ``/camera/camera_info``
and ``/camera/wrist/image_raw`` (rgb8, sensor-data QoS), and takes the commands a ros2_control forward
position controller takes: ``/forward_position_controller/commands`` (``Float64MultiArray``, 8 values:
7 joints + gripper width) and, for planners, a whole ``JointTrajectory`` on ``/joint_trajectory``
(same 8 names as the policy's chunks, or the 7 arm joints + fingers). ``~/reset`` (``std_srvs/Trigger``)
rebuilds the episode with the current ``seed`` parameter and asks the controller to restart from the
new pose (``controller_resync``; streamed commands are ignored for ``reset_hold_s`` meanwhile); ``~/success`` (``std_msgs/Bool``, latched)
reports the task outcome judged from privileged simulator state.

Physics runs on one thread (PyBullet is not thread safe) and is stepped to the wall clock
(``real_time_factor`` x elapsed wall time) by :class:`~jafm_robot.envs.realtime.RealtimeStepper`, the
stepper ``jafm-robot run`` uses too: one lag policy (rendering delays physics, which catches up with
back-to-back substeps up to 0.25 s; more is dropped and counted) and one success rule (checked every
action period of simulated time, as ``eval``'s ``env.step`` does; the first success decides the
episode and stays latched until ``~/reset`` or a new instruction; no success by ``time_limit_s`` of
simulated time is a failure; ``time_limit_s`` = 0, the default, leaves a live graph undecided until a
success or a reset). When the episode is decided, ``~/result`` (``std_msgs/String``, JSON,
latched) reports it with the fields ``run`` reports (``StepperReport`` + ``seed`` and ``episode``, the
number of resets before it); the world keeps
running after that, as a robot would. Malformed commands (wrong length, NaN) are rejected and logged
throttled; the arm keeps its last valid target.
"""

from __future__ import annotations

import json
import math
import threading
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros import qos
from jafm_robot.ros.conversions import (
    ConversionError,
    camera_info,
    msg_to_command,
    numpy_to_image,
    stamp_to_sec,
    state8_to_joint_state,
    trajectory_to_chunk,
)
from jafm_robot.ros.node_util import run_node
from jafm_robot.ros.params import SimNodeParams, declare


def retarget_goal(task, text: str) -> dict[str, str]:
    """Point the task's privileged goal at the part/bin that ``text`` names; returns what changed.

    Why: a user may change the instruction mid-run (``/instruction``), and success must then be
    judged against the new goal, not the one the episode started with. Matching uses the env's own
    phrase tables (the same words the instructions are built from, English and Japanese): the
    longest part phrase and bin phrase found in the text win. Tasks without ``part``/``bin`` goals
    and texts that name nothing known are left unchanged (empty dict).
    """
    goal = getattr(task, "goal", None) or {}
    world = getattr(task, "world", None)
    if world is None or not text:
        return {}
    changed: dict[str, str] = {}
    if "part" in goal:
        best = ("", None)
        for part in world.parts:
            for lang in ("en", "ja"):
                phrase = task.part_slot(part.name, lang)
                if phrase and phrase in text and len(phrase) > len(best[0]):
                    best = (phrase, part)
        part = best[1]
        if part is not None and part.name != goal["part"]:
            goal["part"], goal["part_id"] = part.name, part.body_id
            changed["part"] = part.name
    if "bin" in goal:
        best_b = ("", None)
        for name in world.bins:
            for lang in ("en", "ja"):
                phrase = task.bin_slot(name, lang)
                if phrase and phrase in text and len(phrase) > len(best_b[0]):
                    best_b = (phrase, name)
        name = best_b[1]
        if name is not None and name != goal["bin"]:
            b = world.bins[name]
            goal["bin"], goal["bin_id"], goal["bin_position"] = name, b.body_id, np.asarray(b.position).copy()
            changed["bin"] = name
    return changed


class SimNode(Node):
    """Hosts a ``RobotTaskEnv``; see the module docstring."""

    def __init__(self) -> None:
        super().__init__("sim_node")
        self.p = declare(self, SimNodeParams)
        from jafm_robot.envs.core import RobotTaskEnv  # PyBullet only in this node
        from jafm_robot.envs.realtime import RealtimeStepper

        # The env itself, not gymnasium.make: no TimeLimit wrapper, the sim runs until it is reset.
        self.env = RobotTaskEnv(
            task=self.p.task,
            image_size=self.p.image_size,
            scene=self.p.scene or None,
            render_mode="rgb_array",
            robot=self.p.robot,
            language=self.p.language,
        )
        self.u = self.env
        self._reset_episode(self.p.seed)
        self.cfg = self.u.robot_config
        self.fov = float(self.u.world.scene_camera().fov)
        self._reset_episode(self.p.seed)

        self._cmd_lock = threading.Lock()
        self._target: np.ndarray | None = None  # last valid command (8)
        self._traj: tuple[float, np.ndarray, np.ndarray] | None = None  # (t0 wall, times, points)
        self._reset_req = threading.Event()
        self.throttle = diag.Throttle()
        self.rates = {k: diag.RateMeter() for k in ("command", "joint_states", "camera", "physics")}
        self.counts = {"bad_command": 0, "bad_trajectory": 0, "resets": 0}
        # the world keeps going after its episode is decided (a robot does not stop); the outcome latches
        self.stepper = RealtimeStepper(self.env, time_limit=self.p.time_limit_s or math.inf,
                                       real_time_factor=self.p.real_time_factor, stop_at_end=False)
        self.render_ms = diag.LatencyStats(200)

        self.pub_js = self.create_publisher(JointState, qos.JOINT_STATES, qos.DEFAULT)
        self.pub_img = self.create_publisher(Image, qos.IMAGE, qos.SENSOR)
        self.pub_info = self.create_publisher(CameraInfo, qos.CAMERA_INFO, qos.SENSOR)
        self.pub_wrist = self.create_publisher(Image, qos.WRIST_IMAGE, qos.SENSOR) if self.p.publish_wrist else None
        self.pub_success = self.create_publisher(Bool, "~/success", qos.LATCHED)
        self.pub_result = self.create_publisher(String, "~/result", qos.LATCHED)
        self.pub_task = self.create_publisher(String, "~/task_instruction", qos.LATCHED)
        self.pub_instr = self.create_publisher(String, qos.INSTRUCTION, qos.LATCHED) if self.p.announce_instruction else None
        self.pub_diag = self.create_publisher(diag.DiagnosticArray, qos.DIAGNOSTICS, qos.DEFAULT)
        inputs = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Float64MultiArray, qos.COMMANDS, self._on_command, qos.COMMAND, callback_group=inputs)
        self.create_subscription(JointTrajectory, qos.TRAJECTORY, self._on_trajectory, qos.RELIABLE, callback_group=inputs)
        self.create_service(Trigger, "~/reset", self._on_reset, callback_group=inputs)
        self._resync = self.create_client(Trigger, self.p.controller_resync) if self.p.controller_resync else None
        self._ignore_until = 0.0
        self._retarget_req: str | None = None
        self.create_subscription(String, qos.INSTRUCTION, self._on_instruction, qos.LATCHED, callback_group=inputs)
        self.create_timer(1.0 / self.p.diagnostics_rate_hz, self._publish_diagnostics,
                          callback_group=MutuallyExclusiveCallbackGroup())
        self.success = False  # as last published on ~/success
        self._reported = False  # ~/result sent for this episode
        self._announce()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._physics_loop, name="sim_physics", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"sim_node: {self.p.task} seed={self.p.seed} lang={self.p.language} "
            f"physics {1 / self.u.sim_dt:.0f} Hz x{self.p.real_time_factor}, cameras {self.p.image_size}px "
            f"@ {self.p.camera_rate_hz} Hz: {self.instruction!r}"
        )

    # ---------------------------------------------------------------------------------- episode
    def _reset_episode(self, seed: int) -> None:
        options = {"language": self.p.language}
        if self.p.instruction:
            options["instruction"] = self.p.instruction
        _, info = self.env.reset(seed=int(seed), options=options)
        self._seed = int(seed)  # the episode's seed (the parameter may change before the next reset)
        self.instruction = str(info.get("instruction_text", getattr(self.u.task, "instruction_text", "")))
        self._hold_q = np.asarray(self.u.get_state(), dtype=np.float64)

    def _announce(self) -> None:
        self.pub_task.publish(String(data=self.instruction))
        if self.pub_instr is not None:
            self.pub_instr.publish(String(data=self.instruction))
        self.pub_success.publish(Bool(data=False))

    # ----------------------------------------------------------------------------------- inputs
    def _warn(self, key: str, text: str) -> None:
        if self.throttle.allow(key):
            self.get_logger().warning(f"{text} ({self.throttle.suppressed[key]} similar suppressed)")

    def _on_command(self, msg: Float64MultiArray) -> None:
        self.rates["command"].tick()
        if time.monotonic() < self._ignore_until:
            return  # the controller still streams its pre-reset plan; its resync is on the way
        try:
            target = msg_to_command(msg)
        except ConversionError as e:
            self.counts["bad_command"] += 1
            self._warn("bad_command", f"rejected {qos.COMMANDS}: {e}; keeping the last target")
            return
        with self._cmd_lock:
            self._target = target
            self._traj = None  # a streamed command overrides a trajectory in progress

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            data = trajectory_to_chunk(msg, self.cfg.joint_names)
        except ConversionError as e:
            self.counts["bad_trajectory"] += 1
            self._warn("bad_trajectory", f"rejected {qos.TRAJECTORY}: {e}")
            return
        t0 = stamp_to_sec(msg.header.stamp) or time.time()
        times = np.arange(1, len(data.actions) + 1) * data.dt
        with self._cmd_lock:
            self._traj = (t0, times, data.actions.astype(np.float64))

    def _on_instruction(self, msg: String) -> None:
        if msg.data.strip() and msg.data.strip() != self.instruction:
            self._retarget_req = msg.data.strip()  # applied on the physics thread (PyBullet is not thread safe)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        done = threading.Event()
        self._reset_req.set()
        self._reset_done = done
        ok = done.wait(timeout=10.0)
        response.success = bool(ok)
        response.message = f"reset: {self.instruction}" if ok else "reset timed out"
        return response

    # ------------------------------------------------------------------------------ physics thread
    def _current_target(self, wall: float) -> np.ndarray | None:
        with self._cmd_lock:
            traj, target = self._traj, self._target
        if traj is None:
            return target
        t0, times, pts = traj
        t = wall - t0
        if t <= 0:
            return target
        if t >= times[-1]:
            return pts[-1]
        i = int(np.searchsorted(times, t))
        if i == 0:
            prev_t, prev = 0.0, (target if target is not None else self._hold_q)
        else:
            prev_t, prev = times[i - 1], pts[i - 1]
        w = (t - prev_t) / (times[i] - prev_t)
        return (1 - w) * prev + w * pts[i]

    def _apply_command(self) -> None:
        """Before every substep: the newest streamed command or trajectory point, else hold."""
        target = self._current_target(time.time())
        self.u.command(target if target is not None else self._hold_q)

    def _after_substep(self, sim_t: float) -> None:
        self.rates["physics"].tick()

    def _physics_loop(self) -> None:
        rtf = self.p.real_time_factor
        js_period = 1.0 / self.p.joint_state_rate_hz
        cam_period = 1.0 / self.p.camera_rate_hz
        self.stepper.reset()
        next_js = next_cam = time.monotonic()
        try:
            while not self._stop.is_set():
                if self._reset_req.is_set():
                    self._reset_req.clear()
                    self._reset_episode(self.get_parameter("seed").value)
                    with self._cmd_lock:
                        self._target, self._traj = None, None
                    self.counts["resets"] += 1
                    self.success, self._reported = False, False
                    self._announce()
                    self.stepper.reset()  # simulated time 0 now; the time limit starts over
                    self._ignore_until = time.monotonic() + self.p.reset_hold_s
                    self._publish_state()
                    if self._resync is not None and self._resync.service_is_ready():
                        self._resync.call_async(Trigger.Request())
                    getattr(self, "_reset_done", threading.Event()).set()
                if self._retarget_req is not None:
                    text, self._retarget_req = self._retarget_req, None
                    changed = retarget_goal(self.u.task, text)
                    self.instruction = text
                    self.get_logger().info(f"new instruction {text!r}: goal {changed or 'unchanged'}")
                    self.pub_task.publish(String(data=text))
                    if changed:  # a new goal: judged afresh (a success latched for the old one is withdrawn)
                        self.stepper.reopen()
                        self._reported = False
                self.stepper.advance(self._apply_command, self._after_substep)
                self._judge()
                now = time.monotonic()
                if now >= next_js:
                    next_js = max(next_js + js_period, now)
                    self._publish_state()
                if now >= next_cam:
                    next_cam = max(next_cam + cam_period, now)
                    self._publish_cameras()
                wake = min(next_js, next_cam, time.monotonic() + self.stepper.wait_s())
                self._stop.wait(max(0.0, min(wake - time.monotonic(), self.stepper.dt / rtf)))
        except Exception as e:  # the node reports and stays up; a dead physics thread is visible in diagnostics
            if not self.context.ok() or self._stop.is_set():
                return  # Ctrl-C: the context went away under a publish; nothing to report
            self.physics_error = f"{type(e).__name__}: {e}"
            self.get_logger().error(f"physics thread stopped: {self.physics_error}")

    def _judge(self) -> None:
        """Publish what the stepper decided: ``~/success`` when it changes, ``~/result`` once per episode."""
        ok = self.stepper.success
        if ok != self.success:
            self.success = ok
            self.pub_success.publish(Bool(data=ok))
            if ok:
                self.get_logger().info(f"task succeeded at {self.stepper.success_time:.1f} s")
        if self.stepper.ended and not self._reported:
            self._reported = True
            # "episode": how many ~/reset calls came before it (0: the episode the node started with)
            result = self.stepper.report().to_dict() | {"seed": self._seed, "episode": self.counts["resets"]}
            self.pub_result.publish(String(data=json.dumps(result)))
            self.get_logger().info(f"episode decided: {result['outcome']} after {result['sim_time']:.1f} s")

    def _publish_state(self) -> None:
        stamp = self.get_clock().now().to_msg()
        s = np.asarray(self.u.get_state(), dtype=np.float64)
        self.pub_js.publish(state8_to_joint_state(s, self.cfg.joint_names, self.cfg.finger_joint_names, stamp))
        self.rates["joint_states"].tick()

    def _publish_cameras(self) -> None:
        t0 = time.perf_counter()
        cams = self.u.render_cameras()
        self.render_ms.add(time.perf_counter() - t0)
        stamp = self.get_clock().now().to_msg()
        img = cams["image"]
        self.pub_img.publish(numpy_to_image(np.asarray(img, dtype=np.uint8), stamp, "scene_camera"))
        self.pub_info.publish(camera_info(img.shape[1], img.shape[0], self.fov, stamp, "scene_camera"))
        if self.pub_wrist is not None and cams.get("wrist_image") is not None:
            self.pub_wrist.publish(numpy_to_image(np.asarray(cams["wrist_image"], dtype=np.uint8), stamp, "wrist_camera"))
        self.rates["camera"].tick()

    # --------------------------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        err = getattr(self, "physics_error", "")
        values = {
            "task": self.p.task,
            "seed": self.get_parameter("seed").value,
            "instruction": self.instruction,
            "goal_part": str(getattr(self.u.task, "goal", {}).get("part", "")),
            "goal_bin": str(getattr(self.u.task, "goal", {}).get("bin", "")),
            "is_success": self.success,
            "outcome": self.stepper.outcome,
            "episode_ended": self.stepper.ended,
            "sim_time": round(self.stepper.sim_time, 3),
            **{f"{k}_rate_hz": r.rate() for k, r in self.rates.items()},
            "render_p50_ms": self.render_ms.summary()["p50_ms"],
            "lag_dropped_s": self.stepper.lag_dropped_s,
            "lag_drops": self.stepper.lag_drops,
            **self.counts,
        }
        level = diag.ERROR if err else diag.OK
        st = diag.status("jafm_robot: sim_node", level, err or "running", values)
        self.pub_diag.publish(diag.array(self.get_clock().now().to_msg(), st))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3.0)
        self.env.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(SimNode, argv, threads=2)  # ~/reset blocks until the physics thread has reset


if __name__ == "__main__":
    raise SystemExit(main())
