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


def pick_from_belt(env, part, lift: float = 0.15) -> float:
    """Intercept a part riding the conveyor: approach ahead of it, track it down, close, lift."""
    u = env.unwrapped
    conv = u.world.conveyor
    gy = grasp_yaw(env, part)
    ahead = conv.velocity * 1.5  # where the part will be when the hand arrives
    move(env, u.world.part_position(part) + ahead + np.array([0, 0, 0.15]), 0.08, gy, speed=0.4, settle=0)

    def track(dz: float, width: float, steps: int) -> None:
        for _ in range(steps):
            tgt = u.world.part_position(part) + conv.velocity * 0.15 + np.array([0, 0, dz])
            cur = u.robot.ee_pose()[0]
            d = tgt - cur
            n = float(np.linalg.norm(d))
            if n > 0.03:
                tgt = cur + d / n * 0.03 + conv.velocity * 0.1
            env.step(np.append(ik(env, tgt, gy), width).astype(np.float32))

    track(0.1, 0.08, 8)
    track(0.005, 0.08, 10)
    track(0.005, 0.0, 5)
    move(env, u.robot.ee_pose()[0] + np.array([0, 0, lift]), 0.0, gy)
    return gy


def scripted_episode(env, seed: int) -> bool:
    """A plain scripted solution of any of the five tasks (IK, friction grasps); True on success."""
    u = env.unwrapped
    env.reset(seed=seed)
    g = u.task.goal
    name = u.task.name
    info: dict = {"is_success": False}
    if name == "Reach":
        info = move(env, u.task.target_position(), 0.08)
    elif name in ("PickPlace", "ConveyorPick"):
        q = u.world.part(g["part"])
        yaw = pick_from_belt(env, q) if name == "ConveyorPick" else pick(env, q)
        info = place(env, g["bin_position"] + np.array([0, 0, 0.06]), yaw)
    elif name == "Stack":
        top, base = u.world.part(g["top"]), u.world.part(g["base"])
        yaw = pick(env, top)
        bp = u.world.part_position(base)
        info = place(env, bp + np.array([0, 0, base.half_height + top.size[2] + 0.005]), yaw)
    elif name == "Sort":
        for i, (n, b) in enumerate(g["assignment"].items()):
            yaw = pick(env, u.world.part(n))
            dx = (i % 2) * 0.05 - 0.025
            info = place(env, u.world.bins[b].position + np.array([dx, 0, 0.06]), yaw)
            if info.get("is_success"):
                break
    return bool(info.get("is_success"))
