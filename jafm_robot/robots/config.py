"""Typed robot configuration: URDF, joint names, limits, end-effector link, home pose.

Loaded from ``sim/robots/<name>.yaml``. The safety filter, the control loop, the simulator and the
ROS nodes all read limits from here, so a new arm is a new YAML file, not new code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from jafm_robot.paths import sim_dir


@dataclass(frozen=True)
class RobotConfig:
    name: str
    urdf: str
    joint_names: tuple[str, ...]
    finger_joint_names: tuple[str, ...]
    ee_link: str
    position_lower: np.ndarray
    position_upper: np.ndarray
    velocity_limit: np.ndarray
    acceleration_limit: np.ndarray
    gripper_width_limit: tuple[float, float]
    gripper_velocity_limit: float
    gripper_acceleration_limit: float
    home: np.ndarray
    home_gripper_width: float
    base_position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # "urdf": the link inertias written in the URDF; "collision": PyBullet computes them from each
    # link's mass and collision shape (for URDFs whose inertias are placeholders, see panda.yaml)
    inertia: str = "urdf"
    extra: dict = field(default_factory=dict)

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    # The 8-vector views used by the action/state contract (7 joints + gripper width).
    @property
    def action_low(self) -> np.ndarray:
        return np.append(self.position_lower, self.gripper_width_limit[0]).astype(np.float32)

    @property
    def action_high(self) -> np.ndarray:
        return np.append(self.position_upper, self.gripper_width_limit[1]).astype(np.float32)

    @property
    def velocity_limit8(self) -> np.ndarray:
        return np.append(self.velocity_limit, self.gripper_velocity_limit).astype(np.float64)

    @property
    def acceleration_limit8(self) -> np.ndarray:
        return np.append(self.acceleration_limit, self.gripper_acceleration_limit).astype(np.float64)

    @property
    def home8(self) -> np.ndarray:
        return np.append(self.home, self.home_gripper_width).astype(np.float32)

    def validate(self) -> None:
        n = self.dof
        for key in ("position_lower", "position_upper", "velocity_limit", "acceleration_limit", "home"):
            arr = getattr(self, key)
            if arr.shape != (n,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"robot config {self.name!r}: {key} must be {n} finite numbers, got {arr}")
        if np.any(self.position_lower >= self.position_upper):
            raise ValueError(f"robot config {self.name!r}: position_lower must be below position_upper")
        if np.any(self.velocity_limit <= 0) or np.any(self.acceleration_limit <= 0):
            raise ValueError(f"robot config {self.name!r}: velocity and acceleration limits must be > 0")
        if np.any(self.home < self.position_lower) or np.any(self.home > self.position_upper):
            raise ValueError(f"robot config {self.name!r}: home pose outside the joint limits")
        if self.inertia not in ("urdf", "collision"):
            raise ValueError(f"robot config {self.name!r}: inertia must be 'urdf' or 'collision', got {self.inertia!r}")


_FLOAT_ARRAYS = ("position_lower", "position_upper", "velocity_limit", "acceleration_limit", "home")
_KNOWN = {f for f in RobotConfig.__dataclass_fields__}


def load_robot_config(name_or_path: str | Path = "panda") -> RobotConfig:
    """Load ``sim/robots/<name>.yaml`` or an explicit YAML path; a clear error if it is missing."""
    p = Path(name_or_path)
    if not p.suffix:
        p = sim_dir() / "robots" / f"{name_or_path}.yaml"
    if not p.is_file():
        raise FileNotFoundError(f"robot config not found: {p}")
    raw = yaml.safe_load(p.read_text()) or {}
    kwargs = {k: v for k, v in raw.items() if k in _KNOWN}
    kwargs["extra"] = {k: v for k, v in raw.items() if k not in _KNOWN}
    for k in _FLOAT_ARRAYS:
        kwargs[k] = np.asarray(kwargs[k], dtype=np.float64)
    kwargs["joint_names"] = tuple(kwargs["joint_names"])
    kwargs["finger_joint_names"] = tuple(kwargs.get("finger_joint_names", ()))
    kwargs["gripper_width_limit"] = tuple(float(x) for x in kwargs["gripper_width_limit"])
    kwargs["base_position"] = tuple(float(x) for x in kwargs.get("base_position", (0, 0, 0)))
    try:
        cfg = RobotConfig(**kwargs)
    except TypeError as e:
        raise ValueError(f"robot config {p}: {e}") from e
    cfg.validate()
    return cfg
