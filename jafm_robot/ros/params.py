"""Every node's parameters, declared in one place: one dataclass per node.

A node calls :func:`declare` with its dataclass; that declares each field as a ROS parameter (the
field's default is the parameter's default and fixes its type), reads back the values ROS resolved
(``--ros-args --params-file launch/params/*.yaml`` or launch ``parameters=[yaml]``) and validates
them. The same dataclasses are filled from the same YAML without ROS by :func:`load_node_params`,
which is what ``jafm-robot bringup``, the in-process benchmark and the tests use, so the YAML under
``launch/params/`` is the single source of truth for all of them.

No rclpy import at module level: ``bringup`` parses the YAML without starting ROS.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jafm_robot.contract import LANGUAGES, TASKS
from jafm_robot.runtime.assembly import RuntimeParams
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT

T = TypeVar("T")


class ParamError(ValueError):
    """A parameter file or value that a node cannot run with (clear message, the node exits)."""


def _positive(name: str, v: float) -> None:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ParamError(f"{name} must be a positive number, got {v!r}")


@dataclass
class SimNodeParams:
    """``sim_node``: the PyBullet work cell standing in for the robot and its cameras."""

    task: str = "PickPlace"
    scene: str = ""  # "" = the task's default scene
    seed: int = 0
    language: str = "en"
    instruction: str = ""  # "" = the task's own instruction for the seed
    announce_instruction: bool = True  # publish the task's instruction on /instruction (latched)
    robot: str = "panda"
    image_size: int = 128
    camera_rate_hz: float = 10.0
    joint_state_rate_hz: float = 100.0
    real_time_factor: float = 1.0
    publish_wrist: bool = True
    # After ~/reset the world jumps back to its start; the controller's reference must jump with it.
    controller_resync: str = "/controller_node/resync"  # Trigger service called after a reset ("" = none)
    reset_hold_s: float = 0.3  # ignore streamed commands this long after a reset (until the resync lands)
    # simulated seconds after which an episode without success is decided a failure (~/result), as
    # eval's time limit (the task's: max_episode_steps * action_dt); 0 = none, a live graph runs on
    time_limit_s: float = 0.0
    diagnostics_rate_hz: float = 1.0

    def validate(self) -> None:
        if self.reset_hold_s < 0:
            raise ParamError(f"reset_hold_s must be >= 0, got {self.reset_hold_s}")
        if not (math.isfinite(self.time_limit_s) and self.time_limit_s >= 0):
            raise ParamError(f"time_limit_s must be >= 0 (0 = none), got {self.time_limit_s}")
        if self.task not in TASKS:
            raise ParamError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.language not in LANGUAGES:
            raise ParamError(f"language must be one of {', '.join(LANGUAGES)}, got {self.language!r}")
        if not (16 <= self.image_size <= 1024):
            raise ParamError(f"image_size must be in [16, 1024], got {self.image_size}")
        for k in ("camera_rate_hz", "joint_state_rate_hz", "real_time_factor", "diagnostics_rate_hz"):
            _positive(k, getattr(self, k))


@dataclass
class CameraNodeParams:
    """``camera_node``: an OpenCV ``VideoCapture`` (device index, file or URL) as ``/camera/image_raw``."""

    source: str = "0"  # "0".."9" = /dev/videoN, else a file path or URL
    rate_hz: float = 30.0
    width: int = 128  # output size (centre crop to square, then resize); 0 = publish as captured
    height: int = 128
    loop: bool = True  # a file restarts at its end (a file stands in for a live camera)
    reconnect_s: float = 1.0  # wait between attempts to reopen a dropped source
    frame_id: str = "camera"
    fov_deg: float = 60.0
    diagnostics_rate_hz: float = 1.0

    def validate(self) -> None:
        if not self.source:
            raise ParamError("source must be a device index, a file path or a URL")
        if self.width < 0 or self.height < 0 or (self.width == 0) != (self.height == 0):
            raise ParamError(f"width/height must both be 0 or both > 0, got {self.width}x{self.height}")
        for k in ("rate_hz", "reconnect_s", "fov_deg", "diagnostics_rate_hz"):
            _positive(k, getattr(self, k))


@dataclass
class PolicyNodeParams:
    """``policy_node``: images + joint state + instruction -> action chunk, inference off the executor."""

    model: str = ""  # "" = the shipped default under models/
    provider: str = "auto"  # ONNX Runtime execution provider: auto, cpu, cuda, tensorrt
    # when to infer (runtime.inference): "frame" = as soon as a fresh frame (every camera the model
    # uses) arrives and the engine is idle, at most max_rate_hz; "timer" = at rate_hz on the newest frame
    trigger: str = "frame"
    # frame trigger: inferences per second at most; 0 = the model's rhythm (as rate_hz 0: the re-planning
    # rhythm eval and run were measured with). To react to every frame, set it at or above the camera rate.
    max_rate_hz: float = 0.0
    # timer trigger: inference requests per second; 0 = the model's own rhythm, one inference every
    # runtime.chunks.default_replan_every(chunk_len) action points, as in eval and run
    rate_hz: float = 0.0
    instruction: str = ""  # until one arrives on /instruction ("" = wait)
    # the parts on the table, "red cube,blue cylinder" ("" = not known: a named part that is absent
    # cannot be refused); an instruction naming a part that is not there is refused
    scene_parts: str = ""
    robot: str = "panda"
    max_obs_age_s: float = 0.5  # an image/state older than this (vs. now) is stale: hold, do not infer
    max_skew_s: float = 0.25  # image and joint state further apart than this are not one observation
    diagnostics_rate_hz: float = 1.0

    def validate(self) -> None:
        for k in ("max_obs_age_s", "max_skew_s", "diagnostics_rate_hz"):
            _positive(k, getattr(self, k))
        if not (self.rate_hz >= 0 and math.isfinite(self.rate_hz)):
            raise ParamError(f"rate_hz must be >= 0 (0 = from the model), got {self.rate_hz}")
        if not (self.max_rate_hz >= 0 and math.isfinite(self.max_rate_hz)):
            raise ParamError(f"max_rate_hz must be >= 0 (0 = no cap), got {self.max_rate_hz}")
        if self.trigger not in ("frame", "timer"):
            raise ParamError(f"trigger must be frame or timer, got {self.trigger!r}")
        if self.provider not in ("auto", "cpu", "cuda", "tensorrt"):
            raise ParamError(f"provider must be auto, cpu, cuda or tensorrt, got {self.provider!r}")
        parse_scene_parts(self.scene_parts)


def parse_scene_parts(text: str) -> list[tuple[str, str]] | None:
    """``scene_parts`` as (colour, shape) pairs (``language.goal.parse_parts``); ``""`` -> None (not known)."""
    if not text.strip():
        return None
    from jafm_robot.language.goal import parse_parts

    try:
        return parse_parts(text)
    except ValueError as e:
        raise ParamError(f"scene_parts: {e}") from e


@dataclass
class ControllerNodeParams:
    """``controller_node``: hosts the runtime ``ControlLoop``; publishes forward-position commands."""

    robot: str = "panda"
    rate_hz: float = 500.0
    max_chunk_age_s: float = 1.0  # a chunk whose observation is older than this is dropped
    state_timeout_s: float = 0.25  # no joint state for this long: hold
    chunk_timeout_s: float = 1.5  # no fresh chunk for this long (policy dead): hold
    # a new chunk's weight where it overlaps the plan in force (runtime.chunks; 1 = no averaging)
    overlap_weight: float = DEFAULT_OVERLAP_WEIGHT
    # a chunk is applied the moment it arrives (an early command on the next tick's path), not at that tick
    apply_on_arrival: bool = True
    diagnostics_rate_hz: float = 1.0

    def validate(self) -> None:
        for k in ("rate_hz", "max_chunk_age_s", "state_timeout_s", "chunk_timeout_s", "diagnostics_rate_hz"):
            _positive(k, getattr(self, k))
        self.runtime()  # the loop's own parameters are validated where every host's are (runtime.assembly)

    def runtime(self) -> RuntimeParams:
        """The runtime assembly's parameters (loop rate, watchdog timeout, overlap weight) of this node."""
        try:
            return RuntimeParams(rate_hz=self.rate_hz, stale_after_s=self.chunk_timeout_s,
                                 overlap_weight=self.overlap_weight, apply_on_arrival=self.apply_on_arrival)
        except ValueError as e:
            raise ParamError(str(e)) from None


NODE_PARAMS: dict[str, type] = {
    "sim_node": SimNodeParams,
    "camera_node": CameraNodeParams,
    "policy_node": PolicyNodeParams,
    "controller_node": ControllerNodeParams,
}


# ------------------------------------------------------------------------------------ plain loading
def _coerce(cls_name: str, f: dataclasses.Field, v: Any) -> Any:
    want = type(f.default)
    if want is bool:
        if not isinstance(v, bool):
            raise ParamError(f"{cls_name}.{f.name} must be true/false, got {v!r}")
        return v
    if want is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if want is str and isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)  # e.g. camera source: 0
    if not isinstance(v, want) or (want is int and isinstance(v, bool)):
        raise ParamError(f"{cls_name}.{f.name} must be {want.__name__}, got {v!r}")
    return v


def from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """Build and validate a params dataclass; unknown keys are an error (a typo must not be ignored)."""
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParamError(f"{cls.__name__}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(known)}")
    obj = cls(**{k: _coerce(cls.__name__, known[k], v) for k, v in values.items()})
    obj.validate()  # type: ignore[attr-defined]
    return obj


def read_params_yaml(path: str | Path) -> dict[str, dict[str, Any]]:
    """A ROS 2 params file -> {node_name: {param: value}} (``/**`` wildcard entries kept as '/**')."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"params file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamError(f"{p}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ParamError(f"{p}: expected a mapping of node names")
    out: dict[str, dict[str, Any]] = {}
    for node, body in raw.items():
        if not isinstance(body, dict) or "ros__parameters" not in body:
            raise ParamError(f"{p}: entry {node!r} needs a 'ros__parameters' mapping (ROS 2 params format)")
        params = body["ros__parameters"] or {}
        if not isinstance(params, dict):
            raise ParamError(f"{p}: {node}.ros__parameters must be a mapping")
        key = str(node).lstrip("/") if str(node) != "/**" else "/**"
        out[key] = dict(params)
    return out


def load_node_params(path: str | Path, node_name: str, cls: type[T] | None = None) -> T:
    """The params of ``node_name`` from a ROS 2 params file (wildcard ``/**`` first, then the node's own)."""
    if cls is None:
        if node_name not in NODE_PARAMS:
            raise ParamError(f"unknown node {node_name!r}; known: {', '.join(NODE_PARAMS)}")
        cls = NODE_PARAMS[node_name]
    table = read_params_yaml(path)
    # Wildcard entries apply to every node that declares the key (as in ROS); a key under the
    # node's own name that it does not declare is a typo and an error.
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    wild = {k: v for k, v in table.get("/**", {}).items() if k in known}
    merged = {**wild, **table.get(node_name, {})}
    return from_dict(cls, merged)


# -------------------------------------------------------------------------------------- ROS declare
def declare(node: Any, cls: type[T]) -> T:
    """Declare every field of ``cls`` as a parameter of ``node`` and return the validated values."""
    from rcl_interfaces.msg import ParameterDescriptor

    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        desc = ParameterDescriptor(description=f"{cls.__name__}.{f.name}")
        p = node.declare_parameter(f.name, f.default, desc)
        values[f.name] = p.value
    return from_dict(cls, values)
