"""``policy_node``: camera image(s) + joint state + instruction -> ``/policy/action_chunk``.

The node only converts messages and hosts the runtime's :class:`PolicyEngine`. Inference runs on a
worker thread, never on the executor: a 20-100 ms ONNX run in a callback would delay every other
callback of the node (diagnostics, new instructions, the next frame) by as much.

Safe hold: the node publishes nothing when the observation is not trustworthy -- no instruction
yet, an image or joint state older than ``max_obs_age_s``, image and state further apart than
``max_skew_s``, a malformed message (wrong encoding/size, NaN joints; rejected in the callback, so the
last good one stays until it goes stale), an instruction in a language the model was not trained
on, or an inference error. The controller then finishes the current plan and holds (its chunk
timeout), which is what the arm should do when its policy is blind.

Instructions pass the runtime's :class:`~jafm_robot.runtime.grounding.InstructionGate` once, when
they arrive: what was understood (or why it was refused) is published on
``/instruction/understood`` (``std_msgs/String``, the gate's JSON, reliable + transient local) and
the network is fed the canonical text of the understood goal. A refused instruction (empty, another
language, gibberish, a task the model does not serve, an unknown word, a part not in
``scene_parts``) replaces the one in force: the node publishes no chunk and warns on
``/diagnostics`` until a good instruction arrives.

Chunks are stamped with the *image's* stamp (the observation time) so the controller can place the
points in time and drop chunks from old observations.

When to infer (``trigger``, runtime.inference): ``frame`` (the default) infers the moment a fresh
frame has arrived from every camera the model uses and the engine is idle, at most ``max_rate_hz``
(0, the default: the model's re-planning rhythm, the one eval and run were measured with; a frame
that comes before the rate allows another inference is skipped, so the ones used are inferred on
arrival, never late); frames that come while the engine is busy are dropped but the newest, and
counted (``frames_dropped``, ``frames_rate_skipped`` in ``/diagnostics``). ``timer`` infers at
``rate_hz`` on the newest frame, so a frame waits up to one period. Measurements behind the
defaults (``bench ros`` latency, success per trigger): docs/results.md.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from jafm_robot.contract import detect_language
from jafm_robot.language import Understanding
from jafm_robot.paths import models_dir, shipped_policy
from jafm_robot.robots.config import load_robot_config
from jafm_robot.ros import diagnostics as diag
from jafm_robot.ros import qos
from jafm_robot.ros.conversions import (
    ConversionError,
    chunk_to_trajectory,
    image_to_numpy,
    joint_state_to_state8,
    sec_to_stamp,
    stamp_to_sec,
)
from jafm_robot.ros.node_util import run_node
from jafm_robot.ros.params import ParamError, PolicyNodeParams, declare, parse_scene_parts
from jafm_robot.runtime.grounding import Grounding, InstructionGate
from jafm_robot.runtime.observation import ObservationError, encode_instruction_text


def default_model() -> Path:
    """The shipped policy: a well-known name under ``models/`` if present, else the only ONNX file there."""
    d = models_dir()
    shipped = shipped_policy()
    if shipped is not None:
        return shipped
    found = sorted(d.glob("*.onnx")) if d.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileNotFoundError(f"no shipped policy under {d}; set the policy_node parameter 'model' (bringup: --model FILE)")
    raise ParamError(f"several policies under {d} ({', '.join(p.name for p in found)}); set 'model'")


class PolicyNode(Node):
    """Hosts a :class:`PolicyEngine`; see the module docstring for timing and hold rules."""

    def __init__(self) -> None:
        super().__init__("policy_node")
        self.p = declare(self, PolicyNodeParams)
        from jafm_robot.runtime.engine import PolicyEngine  # onnxruntime only in this node

        self.robot = load_robot_config(self.p.robot)
        path = Path(self.p.model).expanduser() if self.p.model else default_model()
        self.engine = PolicyEngine(path, provider=self.p.provider, allow_fallback=True, allow_spinning=False)
        meta = self.engine.metadata
        if list(meta.joint_names) != list(self.robot.joint_names):
            raise ParamError(
                f"model {path.name} was trained for joints {meta.joint_names}, robot {self.robot.name!r} has "
                f"{list(self.robot.joint_names)}"
            )
        self.size = (self.engine.image_size, self.engine.image_size)
        self.use_wrist = "wrist_image" in self.engine.cameras

        self._lock = threading.Lock()
        self._image: tuple[float, np.ndarray] | None = None
        self._wrist: tuple[float, np.ndarray] | None = None
        self._state: tuple[float, np.ndarray] | None = None
        if self.p.instruction:
            try:
                encode_instruction_text(self.p.instruction)  # the engine's instruction rule, at start-up
            except ObservationError as e:
                raise ParamError(f"parameter 'instruction': {e}") from e
        self.gate = InstructionGate(meta.tasks, meta.languages)
        self.scene_parts = parse_scene_parts(self.p.scene_parts)
        self._instruction = ""  # what the network is fed: the canonical text of the understood goal
        self._given = ""  # what the user said
        self._refusal = ""
        self._generation = 0  # bumped by every instruction: a chunk inferred under an older one is dropped
        self._inferring_generation = 0  # the generation of the observation being inferred (runner thread)
        self.hold_reason = "waiting for observations"
        self._seen_errors = 0

        self.throttle = diag.Throttle()
        self.rates = {k: diag.RateMeter() for k in ("image", "wrist", "state", "chunk")}
        self.latency = diag.LatencyStats()  # observation stamp -> chunk published
        self.transport = diag.LatencyStats()  # image stamp -> image callback (DDS + executor)
        self.convert = diag.LatencyStats()  # image message -> NumPy
        self.counts = {"chunks": 0, "bad_image": 0, "bad_state": 0, "stale": 0, "errors": 0, "lang": 0, "refused": 0}

        inputs = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Image, qos.IMAGE, self._on_image, qos.SENSOR, callback_group=inputs)
        if self.use_wrist:
            self.create_subscription(Image, qos.WRIST_IMAGE, self._on_wrist, qos.SENSOR, callback_group=inputs)
        self.create_subscription(JointState, qos.JOINT_STATES, self._on_state, qos.DEFAULT, callback_group=inputs)
        self.create_subscription(String, qos.INSTRUCTION, self._on_instruction, qos.LATCHED, callback_group=inputs)
        self.pub_chunk = self.create_publisher(JointTrajectory, qos.ACTION_CHUNK, qos.CHUNK)
        self.pub_diag = self.create_publisher(diag.DiagnosticArray, qos.DIAGNOSTICS, qos.DEFAULT)
        self.pub_understood = self.create_publisher(String, qos.INSTRUCTION_UNDERSTOOD, qos.LATCHED)
        if self.p.instruction:
            self._take_instruction(self.p.instruction)

        # Inference in the runtime's runner thread: on each fresh frame set (trigger=frame) or paced
        # at rate_hz (trigger=timer); either way it skips a frame it already saw.
        from jafm_robot.runtime.chunks import replan_rate_hz
        from jafm_robot.runtime.inference import AsyncPolicyRunner, FrameSync

        self._closing = False
        self.rate_hz = self.p.rate_hz or replan_rate_hz(self.engine.action_dt, self.engine.chunk_len)
        self.max_rate_hz = self.p.max_rate_hz or replan_rate_hz(self.engine.action_dt, self.engine.chunk_len)
        self._sync = FrameSync(["image", "wrist_image"] if self.use_wrist else ["image"])
        self.runner = AsyncPolicyRunner(
            self.engine,
            self._get_observation,
            self._publish_chunk,
            rate_hz=self.rate_hz,
            max_obs_age=self.p.max_obs_age_s,
            clock=self._now,
            trigger=self.p.trigger,
            max_rate_hz=self.max_rate_hz,
        )
        self.runner.start()
        timers = MutuallyExclusiveCallbackGroup()
        self.create_timer(1.0 / self.p.diagnostics_rate_hz, self._publish_diagnostics, callback_group=timers)
        pace = f"on each fresh frame, at most {self.max_rate_hz:g} Hz" if self.p.trigger == "frame" \
            else f"@ {self.rate_hz:g} Hz"
        self.get_logger().info(
            f"policy_node: {path.name} on {self.engine.provider}, cameras={list(self.engine.cameras)}, "
            f"chunk={self.engine.chunk_len}x{self.engine.action_dt}s, inferring {pace}"
        )

    # -------------------------------------------------------------------------------------- inputs
    def _warn(self, key: str, text: str) -> None:
        if self.throttle.allow(key):
            n = self.throttle.suppressed[key]
            self.get_logger().warning(f"{text} (holding; {n} similar suppressed)")

    def _on_image(self, msg: Image) -> None:
        self._take_image(msg, "image", "bad_image", qos.IMAGE)

    def _on_wrist(self, msg: Image) -> None:
        self._take_image(msg, "wrist_image", "bad_wrist", qos.WRIST_IMAGE)

    def _take_image(self, msg: Image, camera: str, bad_key: str, topic: str) -> None:
        """Either camera's callback: convert (a view on the message's buffer, no copy for rgb8), keep
        the newest, and in frame mode wake the runner once every camera has a fresh frame."""
        arrival = time.monotonic()
        self.rates["wrist" if camera == "wrist_image" else "image"].tick()
        stamp = stamp_to_sec(msg.header.stamp)
        self.transport.add(time.time() - stamp)  # stamps are ROS (system) time
        try:
            img = image_to_numpy(msg, expected_size=self.size)
        except ConversionError as e:
            self.counts["bad_image"] += 1
            self._warn(bad_key, f"rejected {topic}: {e}")
            return
        self.convert.add(time.monotonic() - arrival)
        with self._lock:
            if camera == "image":
                self._image = (stamp, img)
            else:
                self._wrist = (stamp, img)
            frame = self._sync.update(camera, stamp)
        if frame is not None and self.p.trigger == "frame":
            self.runner.notify_frame(frame, arrival)

    def _on_state(self, msg: JointState) -> None:
        self.rates["state"].tick()
        try:
            s = joint_state_to_state8(msg, self.robot.joint_names, self.robot.finger_joint_names)
        except ConversionError as e:
            self.counts["bad_state"] += 1
            self._warn("bad_state", f"rejected {qos.JOINT_STATES}: {e}")
            return
        with self._lock:
            self._state = (stamp_to_sec(msg.header.stamp), s)

    def _on_instruction(self, msg: String) -> None:
        self._take_instruction(msg.data)

    def _take_instruction(self, text: str) -> None:
        """Ground ``text`` once, publish the readout; a refusal replaces the instruction in force."""
        text = text.strip()
        try:
            # the engine's rule (runtime.observation): a text over 128 UTF-8 bytes is refused on arrival
            encode_instruction_text(text)
            grounding = self.gate.ground(text, self.scene_parts)
        except ObservationError as e:
            grounding = Grounding(text, Understanding(False, reason=str(e), code="too_long",
                                                      language=detect_language(text)), None)
        readout = grounding.readout()
        self.pub_understood.publish(String(data=json.dumps(readout, ensure_ascii=False)))
        with self._lock:
            changed = text != self._given
            self._given = text
            self._generation += 1
            self._instruction = grounding.feed or ""
            self._refusal = (grounding.reason or "refused") if grounding.refused else ""
        if grounding.refused:
            self.counts["refused"] += 1
            if grounding.understanding.code in ("other_language", "too_long"):
                self.counts["lang"] += 1
            self._warn("refused", f"instruction {text!r} refused: {grounding.reason}; holding")
        elif changed:
            self.get_logger().info(f"instruction: {text} -> understood {readout}")

    # ----------------------------------------------------------------------------------- inference
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _get_observation(self) -> tuple[float, dict] | None:
        got = self._observation(self._now())
        if got is None and self.runner.last_error and self.runner.n_errors != self._seen_errors:
            self._seen_errors = self.runner.n_errors
            self._warn("infer", f"observation rejected by the model: {self.runner.last_error}")
        return got

    def _observation(self, now: float) -> tuple[float, dict] | None:
        """A fresh, consistent observation, or None (and ``hold_reason`` says why)."""
        with self._lock:
            image, wrist, state, instr, refusal = self._image, self._wrist, self._state, self._instruction, self._refusal
            self._inferring_generation = self._generation
        if refusal:
            self.hold_reason = f"instruction refused: {refusal}"
            return None
        if not instr:
            self.hold_reason = "no instruction"
            return None
        if image is None or state is None or (self.use_wrist and wrist is None):
            self.hold_reason = "waiting for image/joint state"
            return None
        ages = {"image": now - image[0], "joint_state": now - state[0]}
        if self.use_wrist:
            ages["wrist_image"] = now - wrist[0]
        stale = {k: a for k, a in ages.items() if not (-self.p.max_obs_age_s <= a <= self.p.max_obs_age_s)}
        if stale:
            self.counts["stale"] += 1
            self.hold_reason = "stale " + ", ".join(f"{k} ({a:.2f}s)" for k, a in stale.items())
            self._warn("stale", f"observation not fresh: {self.hold_reason}")
            return None
        if abs(image[0] - state[0]) > self.p.max_skew_s:
            self.counts["stale"] += 1
            self.hold_reason = f"image and joint state {abs(image[0] - state[0]):.2f}s apart"
            self._warn("skew", self.hold_reason)
            return None
        obs = {"image": image[1], "state": state[1], "instruction": instr}
        if self.use_wrist:
            obs["wrist_image"] = wrist[1]
        return image[0], obs

    def _publish_chunk(self, chunk) -> None:
        """Runner thread: one chunk -> ``JointTrajectory`` stamped with the observation's stamp."""
        if self._closing:
            return
        with self._lock:  # an instruction (a refusal above all) came while this chunk was inferred
            stale = self._inferring_generation != self._generation or bool(self._refusal)
        if stale:
            return
        if not np.all(np.isfinite(chunk.points)):
            # The controller's safety filter would hold too; not publishing keeps NaN off the wire.
            self.counts["errors"] += 1
            self.hold_reason = "model output non-finite"
            self._warn("nan", self.hold_reason)
            return
        msg = chunk_to_trajectory(chunk.points, chunk.dt, sec_to_stamp(chunk.stamp), self.robot.joint_names)
        try:
            self.pub_chunk.publish(msg)
        except Exception:
            if self.context.ok():
                raise
            return  # Ctrl-C arrived during inference: the context is gone, drop the chunk
        self.counts["chunks"] += 1
        self.rates["chunk"].tick()
        self.latency.add(self._now() - chunk.stamp)
        self.hold_reason = ""

    # ---------------------------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        if self.p.trigger == "frame":
            # the runner looks at the observation only when a frame set arrives: when frames stop, or
            # only malformed ones come, nothing else would notice that the last good one went stale
            self._observation(self._now())
        lat = self.latency.summary()
        eng = self.engine.latency_stats()
        run = self.runner.stats()
        holding = bool(self.hold_reason)
        values = {
            "provider": self.engine.provider,
            "model": self.engine.path.name,
            "instruction": self._given,
            "fed": self._instruction,
            "holding": holding,
            "hold_reason": self.hold_reason,
            **{f"{k}_rate_hz": r.rate() for k, r in self.rates.items()},
            "infer_p50_ms": eng.get("p50_ms", float("nan")),
            "infer_p99_ms": eng.get("p99_ms", float("nan")),
            "obs_to_chunk_p50_ms": lat["p50_ms"],
            "obs_to_chunk_p99_ms": lat["p99_ms"],
            **self.counts,
            "trigger": self.p.trigger,
            # where the time goes: image stamp -> callback (DDS, executor), conversion, callback ->
            # inference start (wake), observation fetch, ONNX run (infer_*), chunk publish (handoff)
            "image_transport_p50_ms": self.transport.summary()["p50_ms"],
            "image_transport_p99_ms": self.transport.summary()["p99_ms"],
            "image_convert_p50_ms": self.convert.summary()["p50_ms"],
            **{f"runner_{k}_{q}_ms": run.get(f"{k}_{q}_ms", float("nan"))
               for k in ("wake", "fetch", "handoff") for q in ("p50", "p99")},
            "frames": run.get("frames", 0),  # frame trigger: complete frame sets announced to the runner
            "frames_taken": run.get("inferences_triggered", 0),  # ... handed to the engine
            "frames_dropped": run.get("frames_dropped", 0),  # ... replaced by a newer one while waiting
            "frames_rate_skipped": run.get("frames_rate_skipped", 0),
            "inferences": run.get("chunks", 0) + run.get("bad_observation", 0),
            "runner_stale": run.get("dropped_stale", 0),
            "runner_repeat": run.get("skipped_repeat", 0),
            "runner_bad_observation": run.get("bad_observation", 0),
        }
        level = diag.WARN if holding else diag.OK
        st = diag.status("jafm_robot: policy_node", level, self.hold_reason or "running", values)
        self.pub_diag.publish(diag.array(self.get_clock().now().to_msg(), st))

    def close(self) -> None:
        self._closing = True
        self.runner.stop(timeout=2.0)


def main(argv: list[str] | None = None) -> int:
    return run_node(PolicyNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
