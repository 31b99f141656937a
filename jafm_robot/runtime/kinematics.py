"""Pure-NumPy forward kinematics of the Franka Panda (modified DH parameters, Franka's datasheet).

Why not PyBullet: the safety filter runs inside the real-time loop and in the ROS controller node,
where no simulator exists; the workspace check needs the end-effector position in microseconds,
without a physics client. The parameters are Franka's published (Craig's convention) table; the
tool offset defaults to ``panda_grasptarget`` of the ``pybullet_data`` URDF (flange + 0.105 m), so
this FK and the simulator's agree (checked in the tests against PyBullet).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# a (m), d (m), alpha (rad) of joints 1..7, then the flange (fixed joint 8)
PANDA_MDH = np.array(
    [
        [0.0, 0.333, 0.0],
        [0.0, 0.0, -np.pi / 2],
        [0.0, 0.316, np.pi / 2],
        [0.0825, 0.0, np.pi / 2],
        [-0.0825, 0.384, -np.pi / 2],
        [0.0, 0.0, np.pi / 2],
        [0.088, 0.0, np.pi / 2],
        [0.0, 0.107, 0.0],
    ]
)
PANDA_GRASPTARGET_OFFSET = 0.105  # m along the hand's z axis from the flange


def _mdh(a: float, d: float, alpha: float, theta: float) -> np.ndarray:
    """Craig's modified DH link transform: RotX(alpha) TransX(a) RotZ(theta) TransZ(d)."""
    ca, sa, ct, st = np.cos(alpha), np.sin(alpha), np.cos(theta), np.sin(theta)
    return np.array(
        [
            [ct, -st, 0.0, a],
            [st * ca, ct * ca, -sa, -d * sa],
            [st * sa, ct * sa, ca, d * ca],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def panda_fk_matrix(q7: np.ndarray, tool_offset: float = PANDA_GRASPTARGET_OFFSET,
                    base: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 pose of the tool frame in the world for joint angles ``q7`` (rad)."""
    q = np.asarray(q7, dtype=np.float64).reshape(-1)
    if q.shape != (7,):
        raise ValueError(f"panda FK needs 7 joint angles, got {q.shape[0]}")
    T = np.eye(4)
    T[:3, 3] = base
    for i in range(8):
        a, d, alpha = PANDA_MDH[i]
        T = T @ _mdh(a, d, alpha, q[i] if i < 7 else 0.0)
    tool = _mdh(0.0, tool_offset, 0.0, -np.pi / 4)  # the hand sits at -45 deg about the flange's z
    return T @ tool


def panda_fk(q7: np.ndarray, tool_offset: float = PANDA_GRASPTARGET_OFFSET,
             base: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Tool-frame position (x, y, z) in metres: the ``fk`` callable the safety filter takes."""
    return panda_fk_matrix(q7, tool_offset, base)[:3, 3].copy()


def fk_for(robot_name: str, base: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Callable[[np.ndarray], np.ndarray] | None:
    """The built-in FK for a robot config name, or None where there is none (then pass your own)."""
    if robot_name == "panda":
        return lambda q7: panda_fk(q7, base=base)
    return None
