"""One assembly of the real-time runtime: safety filter + chunk blender + control loop.

Every host that runs chunks on a fixed-rate loop -- ``jafm-robot run`` / ``demo``
(:mod:`jafm_robot.hosts.realtime`), ``controller_node`` (:mod:`jafm_robot.ros.controller_node`) and
the in-process baseline of ``bench ros`` (:mod:`jafm_robot.bench.ros`) -- builds these three parts
through :func:`build_control_loop` from one :class:`RuntimeParams`, so the rules that relate them
(the filter's ``dt`` is the loop's period, the watchdog's timeout, the blender's overlap weight) are
set in one place and cannot drift apart between hosts (docs/architecture.md, "The data path": the
same policy file runs in the gym loop, the real-time runtime and ROS).

:class:`RuntimeParams` is also where the parameters are validated -- once, when it is built: a host
turns its own settings (CLI options, ROS parameters) into one and gets a clear ``ValueError`` that
names the bad value. The overlap weight in particular is checked here and nowhere else; the CLI's
argparse type calls the same :func:`check_overlap_weight` so that a bad ``--overlap-weight`` is a usage
error before anything loads.

Plain Python/NumPy: no torch, no rclpy, no PyBullet.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jafm_robot.robots.config import RobotConfig
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT, ChunkBlender, check_overlap_weight
from jafm_robot.runtime.control_loop import ControlLoop
from jafm_robot.runtime.safety import SafetyFilter

__all__ = ["RuntimeParams", "build_blender", "build_control_loop", "check_overlap_weight", "watchdog_timeout"]

MAX_RATE_HZ = 2000.0  # ControlLoop's ceiling: beyond it the hybrid sleep/spin timing has no margin left


def watchdog_timeout(policy_rate_hz: float) -> float:
    """The watchdog timeout for a policy that re-plans at ``policy_rate_hz``: one missed inference
    beyond the re-plan period (plus 0.1 s of slack) before the filter brakes and holds.

    ``run`` knows its policy's rhythm and uses this; ``controller_node`` does not know the policy
    and takes ``chunk_timeout_s`` from its parameters instead."""
    if not (math.isfinite(policy_rate_hz) and policy_rate_hz > 0):
        raise ValueError(f"policy rate must be > 0 Hz, got {policy_rate_hz!r}")
    return 2.0 / float(policy_rate_hz) + 0.1


@dataclass(frozen=True)
class RuntimeParams:
    """What a host sets for the loop, the filter and the blender; validated on construction.

    ``rate_hz``: control loop rate (the safety filter's ``dt`` is its period);
    ``stale_after_s``: no fresh chunk for this long -> the safety filter brakes and holds;
    ``overlap_weight``: a new chunk's weight where it overlaps the plan in force (runtime.chunks);
    ``blend_time``: the crossfade from the old plan to a new chunk (runtime.chunks);
    ``apply_on_arrival``: a chunk is applied the moment it reaches the running loop, in an early
    command on the path the next tick commits to, instead of at that tick (runtime.control_loop).

    The gym loop (``eval``'s ChunkExecutor) has no loop and no filter; it builds only the blender,
    through :func:`build_blender`, from the same parameters.
    """

    rate_hz: float = 500.0
    stale_after_s: float = 0.5
    overlap_weight: float = DEFAULT_OVERLAP_WEIGHT
    blend_time: float = 0.1
    apply_on_arrival: bool = True

    def __post_init__(self) -> None:
        def number(name: str) -> float:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            return float(v)

        rate, stale, blend = number("rate_hz"), number("stale_after_s"), number("blend_time")
        if not 0 < rate <= MAX_RATE_HZ:
            raise ValueError(f"rate_hz must be in (0, {MAX_RATE_HZ:g}], got {rate!r}")
        if stale <= 0:
            raise ValueError(f"stale_after_s must be > 0, got {stale!r}")
        if blend < 0:
            raise ValueError(f"blend_time must be >= 0, got {blend!r}")
        # frozen: normalise through object.__setattr__ (ints from YAML/CLI become floats)
        object.__setattr__(self, "rate_hz", rate)
        object.__setattr__(self, "stale_after_s", stale)
        object.__setattr__(self, "blend_time", blend)
        object.__setattr__(self, "overlap_weight", check_overlap_weight(self.overlap_weight))
        if not isinstance(self.apply_on_arrival, bool):
            raise ValueError(f"apply_on_arrival must be true or false, got {self.apply_on_arrival!r}")

    @property
    def period(self) -> float:
        return 1.0 / self.rate_hz


def build_blender(params: RuntimeParams) -> ChunkBlender:
    """The chunk blender of ``params`` (a fresh one: a blender belongs to one timeline)."""
    return ChunkBlender(blend_time=params.blend_time, overlap_weight=params.overlap_weight)


def build_control_loop(
    robot_cfg: RobotConfig,
    params: RuntimeParams,
    *,
    read_state: Callable[[], np.ndarray] | None = None,
    send_command: Callable[[np.ndarray], None] | None = None,
    initial_state: np.ndarray | None = None,
    realtime_priority: int | None = None,
) -> ControlLoop:
    """Safety filter + blender + control loop for ``robot_cfg``, wired as every host wires them.

    The loop is returned unstarted; its parts are ``loop.safety`` and ``loop.blender``. ``read_state``
    (a host that measures the arm: ROS) or ``initial_state`` (a host that knows the pose at reset:
    ``run``) gives the pose the loop starts from; ``realtime_priority`` asks for SCHED_FIFO (best effort).
    """
    safety = SafetyFilter(robot_cfg, params.period, stale_after=params.stale_after_s)
    return ControlLoop(robot_cfg, params.rate_hz, read_state=read_state, send_command=send_command, safety=safety,
                       blender=build_blender(params), initial_state=initial_state,
                       realtime_priority=realtime_priority, apply_on_arrival=params.apply_on_arrival)
