"""Test helpers: a minimal IK mover (PyBullet's own IK) to drive the real arm in tests.

Deliberately tiny and separate from ``jafm_robot.experts`` (another area): the sim tests check the
physics (friction grasps, success predicates) with the real arm, not the experts' quality.
"""

from __future__ import annotations

import numpy as np
import pybullet as p


def ik(env, pos, yaw: float = 0.0) -> np.ndarray:
    """Joint targets [7] putting the grasp frame at ``pos``, pointing down, rotated by ``yaw``."""
    u = env.unwrapped
    r, cfg = u.robot, u.robot_config
    q = p.getQuaternionFromEuler([np.pi, 0, yaw])
    sol = p.calculateInverseKinematics(
        r.body_id, r.ee_link_index, [float(x) for x in pos], q,
        lowerLimits=[*cfg.position_lower.tolist(), 0, 0], upperLimits=[*cfg.position_upper.tolist(), 0.04, 0.04],
        jointRanges=[5.8, 3.5, 5.8, 3.0, 5.8, 3.8, 5.8, 0.04, 0.04], restPoses=[*cfg.home.tolist(), 0.04, 0.04],
        maxNumIterations=100, physicsClientId=u.client,
    )
    return np.asarray(sol[:7])


def move(env, pos, width: float, yaw: float = 0.0, speed: float = 0.25, settle: int = 3) -> dict:
    """Straight-line Cartesian move of the grasp frame at ``speed`` m/s, then ``settle`` steps."""
    u = env.unwrapped
    start = u.robot.ee_pose()[0]
    pos = np.asarray(pos, dtype=np.float64)
    n = max(1, int(np.ceil(np.linalg.norm(pos - start) / (speed * u.action_dt))))
    info: dict = {}
    for k in range(1, n + 1 + settle):
        tgt = start + (pos - start) * min(1.0, k / n)
        _, _, term, _, info = env.step(np.append(ik(env, tgt, yaw), width).astype(np.float32))
        if term:
            break
    return info


def grasp_yaw(env, part) -> float:
    """Hand yaw that closes the fingers across the part's narrow side, folded into [-pi/2, pi/2)."""
    _, orn = env.unwrapped.world.part_pose(part)
    yaw = p.getEulerFromQuaternion(orn)[2] + (np.pi / 2 if part.shape == "block" else 0.0)
    return float((yaw + np.pi / 2) % np.pi - np.pi / 2)


def pick(env, part, lift: float = 0.15) -> float:
    """Top-down friction grasp of ``part`` and a lift by ``lift`` metres; returns the hand yaw."""
    u = env.unwrapped
    gy = grasp_yaw(env, part)
    pp = u.world.part_position(part)
    move(env, pp + np.array([0, 0, 0.12]), 0.08, gy)
    move(env, u.world.part_position(part) + np.array([0, 0, 0.005]), 0.08, gy, settle=1)
    move(env, u.robot.ee_pose()[0], 0.0, gy, settle=5)
    move(env, u.robot.ee_pose()[0] + np.array([0, 0, lift]), 0.0, gy)
    return gy


def place(env, xyz, yaw: float) -> dict:
    """Carry to above ``xyz``, lower, open, retreat; returns the last info."""
    move(env, [xyz[0], xyz[1], 0.2], 0.0, yaw)
    move(env, xyz, 0.0, yaw)
    move(env, xyz, 0.08, yaw, settle=4)
    return move(env, [xyz[0], xyz[1], 0.2], 0.08, yaw, settle=4)


def teleport(env, part, xyz, settle_steps: int = 120) -> None:
    """Put ``part`` at ``xyz`` (upright) and let physics settle it for ``settle_steps`` substeps."""
    u = env.unwrapped
    p.resetBasePositionAndOrientation(part.body_id, [float(x) for x in xyz], [0, 0, 0, 1], physicsClientId=u.client)
    p.resetBaseVelocity(part.body_id, [0, 0, 0], [0, 0, 0], physicsClientId=u.client)
    u.step_physics(settle_steps)
