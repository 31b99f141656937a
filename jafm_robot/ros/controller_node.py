"""``controller_node``: hosts the runtime's ``ControlLoop`` -> ``/forward_position_controller/commands``.

The node converts and forwards; the loop (its own thread, fixed rate) interpolates and blends the
chunks and passes every command through the :class:`SafetyFilter`. The output is a
``Float64MultiArray`` of 8 positions (7 joints + gripper width), so a ros2_control
``forward_command_controller/ForwardCommandController`` drives a real arm unchanged (remap the topic
in ``robot.launch.py``); ``sim_node`` takes the same topic.

Hold rules (all in the runtime; the node only feeds them):

* ``/estop`` (Bool, ``true``) latches the e-stop: from the next loop tick the filter decelerates at the
  acceleration limit and then holds; ``false`` does not clear it -- only ``~/reset``
  (``std_srvs/Trigger``) does, which is how a latched e-stop must behave.
* A chunk older than ``max_chunk_age_s`` (its stamp is the policy's *observation* time) is dropped.
* No fresh chunk for ``chunk_timeout_s`` (policy dead, or holding on bad input): the watchdog brakes
  and holds.
* No joint state for ``state_timeout_s`` or a malformed one: the loop holds the last command.
* ``~/resync`` (``std_srvs/Trigger``): the arm was moved under the controller (the simulator was
  reset); restart the loop from the measured pose. ``sim_node`` calls it after its own ``~/reset``.

Time: chunk stamps are ROS (system) time; the loop runs on ``time.monotonic``. A stamp is mapped
with the offset between the two clocks read at arrival, so a clock step never makes the loop jump.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from jafm_robot.robots.config import load_robot_config
from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros import qos
from jafm_robot.ros.conversions import (
    ConversionError,
    command_to_msg,
    joint_state_to_state8,
    trajectory_to_chunk,
)
from jafm_robot.ros.node_util import run_node
from jafm_robot.ros.params import ControllerNodeParams, declare


class ControllerNode(Node):
    """See the module docstring. The loop starts once the first joint state arrives (it needs q0)."""

    def __init__(self) -> None:
        super().__init__("controller_node")
        self.p = declare(self, ControllerNodeParams)
        from jafm_robot.runtime.assembly import build_control_loop
        from jafm_robot.runtime.chunks import ActionChunk

        self._ActionChunk = ActionChunk
        self.robot = load_robot_config(self.p.robot)
        self._lock = threading.Lock()
        self._state: np.ndarray | None = None
        self._state_t = -np.inf  # monotonic time of the last good joint state
        self.throttle = diag.Throttle()
        self.rates = {"state": diag.RateMeter(), "chunk": diag.RateMeter(), "command": diag.RateMeter()}
        self.chunk_age = diag.LatencyStats()
        self.counts = {"chunks": 0, "chunks_too_old": 0, "bad_chunk": 0, "bad_state": 0, "estops": 0, "resets": 0, "resyncs": 0}
        self.state_lost = False

        self.pub_cmd = self.create_publisher(Float64MultiArray, qos.COMMANDS, qos.COMMAND)
        self.pub_diag = self.create_publisher(diag.DiagnosticArray, qos.DIAGNOSTICS, qos.DEFAULT)
        # filter + blender + loop as every host builds them; the parameters were validated by declare()
        self.loop = build_control_loop(self.robot, self.p.runtime(), read_state=self._read_state,
                                       send_command=self._send)
        self._started = False
        self._resync_after: float | None = None

        # E-stop and reset get their own group so a burst of chunks or states can never delay them.
        urgent = MutuallyExclusiveCallbackGroup()
        inputs = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Bool, qos.ESTOP, self._on_estop, qos.RELIABLE, callback_group=urgent)
        self.create_service(Trigger, "~/reset", self._on_reset, callback_group=urgent)
        self.create_service(Trigger, "~/resync", self._on_resync, callback_group=MutuallyExclusiveCallbackGroup())
        self.create_subscription(JointState, qos.JOINT_STATES, self._on_state, qos.DEFAULT, callback_group=inputs)
        self.create_subscription(JointTrajectory, qos.ACTION_CHUNK, self._on_chunk, qos.CHUNK, callback_group=inputs)
        timers = MutuallyExclusiveCallbackGroup()
        self.create_timer(0.05, self._watch_state, callback_group=timers)
        self.create_timer(1.0 / self.p.diagnostics_rate_hz, self._publish_diagnostics, callback_group=timers)
        self.get_logger().info(f"controller_node: {self.robot.name} @ {self.p.rate_hz} Hz -> {qos.COMMANDS}")

    # ------------------------------------------------------------------------------ loop callbacks
    def _read_state(self) -> np.ndarray | None:
        with self._lock:
            return None if self._state is None else self._state.copy()

    def _send(self, q8: np.ndarray) -> None:
        try:
            self.pub_cmd.publish(command_to_msg(q8))
        except Exception:  # the context went away (Ctrl-C) before close() stopped the loop
            if self.context.ok():
                raise
            self.loop._stop.set()
            return
        self.rates["command"].tick()

    # ------------------------------------------------------------------------------------- inputs
    def _warn(self, key: str, text: str) -> None:
        if self.throttle.allow(key):
            self.get_logger().warning(f"{text} ({self.throttle.suppressed[key]} similar suppressed)")

    def _on_state(self, msg: JointState) -> None:
        self.rates["state"].tick()
        try:
            s = joint_state_to_state8(msg, self.robot.joint_names, self.robot.finger_joint_names)
        except ConversionError as e:
            self.counts["bad_state"] += 1
            self._warn("bad_state", f"rejected {qos.JOINT_STATES}: {e}; holding")
            return
        with self._lock:
            self._state = s
            self._state_t = time.monotonic()
        if not self._started:
            self.loop.start()
            self._started = True
            self.get_logger().info("first joint state: control loop started")
        self._maybe_resync()

    def _on_chunk(self, msg: JointTrajectory) -> None:
        self.rates["chunk"].tick()
        try:
            data = trajectory_to_chunk(msg, self.robot.joint_names)
        except ConversionError as e:
            self.counts["bad_chunk"] += 1
            self._warn("bad_chunk", f"rejected {qos.ACTION_CHUNK}: {e}")
            return
        ros_now = self.get_clock().now().nanoseconds * 1e-9
        age = ros_now - data.stamp
        self.chunk_age.add(age)
        if age > self.p.max_chunk_age_s:
            self.counts["chunks_too_old"] += 1
            self._warn("old_chunk", f"dropped a chunk {age:.2f}s old (max_chunk_age_s={self.p.max_chunk_age_s})")
            return
        stamp = time.monotonic() - age  # the observation time on the loop's clock
        try:
            chunk = self._ActionChunk(stamp=stamp, dt=data.dt, points=data.actions)
        except ValueError as e:
            self.counts["bad_chunk"] += 1
            self._warn("bad_chunk", f"rejected chunk: {e}")
            return
        self.loop.submit_chunk(chunk)
        self.counts["chunks"] += 1

    def _on_estop(self, msg: Bool) -> None:
        if msg.data:
            self.loop.estop()
            self.counts["estops"] += 1
            self.get_logger().warning("E-STOP latched: braking to a stop; call ~/reset to release")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.loop.reset_estop()
        self.counts["resets"] += 1
        response.success = True
        response.message = "e-stop released"
        self.get_logger().info("e-stop released by ~/reset")
        return response

    def _on_resync(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Restart the loop from the *measured* pose (the world was reset under it; e-stop stays latched).

        Non-blocking: the restart happens in the joint-state callback on the first state that
        arrives after this request, so it never uses a pose from before the jump.
        """
        self._resync_after = time.monotonic()
        response.success, response.message = True, "resync scheduled on the next joint state"
        return response

    def _maybe_resync(self) -> None:
        """Joint-state callback: carry out a pending ``~/resync`` (see :meth:`_on_resync`)."""
        if self._resync_after is None or self._state_t <= self._resync_after:
            return
        self._resync_after = None
        if self._started:
            self.loop.stop()
            self.loop.start()  # reset() reads the measured pose through read_state
        self.counts["resyncs"] += 1
        self.get_logger().info("control loop restarted from the measured pose (~/resync)")

    def _watch_state(self) -> None:
        """No joint state for ``state_timeout_s``: hold (the loop keeps its last command)."""
        with self._lock:
            age = time.monotonic() - self._state_t
        lost = self._started and age > self.p.state_timeout_s
        if lost and not self.state_lost:
            self.loop.hold()
            self._warn("state_lost", f"no joint state for {age:.2f}s: holding")
        elif not lost and self.state_lost:
            self.loop.resume()
            self.get_logger().info("joint states back: following chunks again")
        self.state_lost = lost

    # --------------------------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        stats = self.loop.stats() if self._started else {}
        safety = self.loop.safety.status(time.monotonic())
        state = safety.get("state", "idle")
        estop = bool(safety.get("estop_latched", False))
        level = diag.ERROR if estop else (diag.WARN if state not in ("ok",) or self.state_lost else diag.OK)
        values = {
            "safety_state": state,
            "estop_latched": estop,
            "state_lost": self.state_lost,
            "loop_started": self._started,
            **{f"{k}_rate_hz": r.rate() for k, r in self.rates.items()},
            "chunk_age_p50_ms": self.chunk_age.summary()["p50_ms"],
            "chunk_age_p99_ms": self.chunk_age.summary()["p99_ms"],
            **self.counts,
        }
        for k, v in stats.items():
            if isinstance(v, (int, float, str, bool)):
                values[f"loop_{k}"] = v
        msg = "e-stop latched" if estop else state
        st = diag.status("jafm_robot: controller_node", level, msg, values)
        self.pub_diag.publish(diag.array(self.get_clock().now().to_msg(), st))

    def close(self) -> None:
        if self._started:
            self.loop.stop()


def main(argv: list[str] | None = None) -> int:
    return run_node(ControllerNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
