"""BulletRobot: the API other areas code against, on the real Panda URDF."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pybullet as p
import pytest

from jafm_robot.robots.bullet_robot import BulletRobot
from jafm_robot.robots.config import load_robot_config


@pytest.fixture
def robot():
    c = p.connect(p.DIRECT)
    try:
        yield BulletRobot(c, load_robot_config("panda"))
    finally:
        p.disconnect(c)


def test_indices_state_and_pose(robot: BulletRobot) -> None:
    cfg = robot.cfg
    assert len(robot.joint_indices) == 7 and len(robot.finger_indices) == 2
    names = [p.getJointInfo(robot.body_id, j, physicsClientId=robot.client)[1].decode() for j in robot.joint_indices]
    assert names == list(cfg.joint_names)
    s = robot.state()
    assert s.dtype == np.float32 and s.shape == (8,) and np.allclose(s, cfg.home8, atol=1e-6)
    pos, quat = robot.ee_pose()
    assert pos.shape == (3,) and quat.shape == (4,) and abs(np.linalg.norm(quat) - 1) < 1e-6
    assert 0.2 < pos[0] < 0.5 and pos[2] > 0.3  # home: the hand in front of and above the base
    assert np.allclose(robot.max_joint_velocity, cfg.velocity_limit8)


def test_reset_and_command_move_the_real_joints(robot: BulletRobot) -> None:
    q = robot.cfg.home8.copy()
    q[3] = -2.0
    q[7] = 0.03
    robot.reset_joints(q)
    assert np.allclose(robot.state(), q, atol=1e-6)
    target = q.copy()
    target[0] = 0.5
    target[7] = 0.07
    robot.command(target)
    for _ in range(240):
        p.stepSimulation(physicsClientId=robot.client)
    s = robot.state()
    assert np.allclose(s[:7], target[:7], atol=5e-3) and abs(s[7] - 0.07) < 2e-3
    assert np.allclose(robot.target, target)


def test_fingers_are_coupled(robot: BulletRobot) -> None:
    t = robot.cfg.home8.copy()
    t[7] = 0.02
    robot.command(t)
    for _ in range(240):
        p.stepSimulation(physicsClientId=robot.client)
    a, b = (p.getJointState(robot.body_id, j, physicsClientId=robot.client)[0] for j in robot.finger_indices)
    assert abs(a - b) < 1e-3 and abs(a + b - 0.02) < 2e-3


def test_bad_visual_option_is_an_error() -> None:
    c = p.connect(p.DIRECT)
    try:
        with pytest.raises(ValueError, match="visual"):
            BulletRobot(c, load_robot_config("panda"), visual="shiny")
    finally:
        p.disconnect(c)


def test_full_and_low_poly_arms_have_the_same_physics() -> None:
    """The render-speed choice (robot_visual) must not change dynamics: same trajectory."""
    from jafm_robot.envs.core import RobotTaskEnv

    states = []
    for visual in ("collision", "full"):
        env = RobotTaskEnv("Reach", image_size=32, robot_visual=visual)
        try:
            env.reset(seed=4)
            t = env.robot_config.home8.copy()
            t[1] += 0.3
            for _ in range(3):
                obs, *_ = env.step(t)
            states.append(obs["state"])
        finally:
            env.close()
    assert np.array_equal(states[0], states[1])
    with pytest.raises(ValueError, match="robot_visual"):
        RobotTaskEnv("Reach", robot_visual="shiny")


def test_link_inertias_are_physical_not_placeholders(robot: BulletRobot) -> None:
    """pybullet_data's panda.urdf says 0.1 kg m^2 for every link; panda.yaml has PyBullet compute
    them from the collision meshes instead (the real arm: ~0.001-0.03 kg m^2)."""
    assert robot.cfg.inertia == "collision"
    inertia = [p.getDynamicsInfo(robot.body_id, j, physicsClientId=robot.client)[2] for j in robot.joint_indices]
    assert max(max(i) for i in inertia[4:]) < 0.05  # the wrist links
    with pytest.raises(ValueError, match="inertia"):
        from dataclasses import replace

        replace(robot.cfg, inertia="guess").validate()


def test_wrist_motors_follow_the_expert_without_saturating() -> None:
    """With placeholder inertias the 12 N m wrist motors (joints 5-7) were torque-saturated in 8-45 %
    of the substeps of an expert pick-and-place, and under the runtime's smooth reference joint 6
    fell into a +-0.2 rad bang-bang limit cycle. With physical inertias: below 10 % (measured 0-7 %)."""
    from jafm_robot.envs.core import RobotTaskEnv
    from jafm_robot.experts import make_expert

    env = RobotTaskEnv("PickPlace", image_size=32)
    try:
        obs, _ = env.reset(seed=0)
        expert = make_expert(env)
        expert.reset()
        r, saturated = env.robot, []
        for _ in range(env.max_episode_steps):
            env.command(expert(obs))
            for _ in range(env.substeps):
                env.step_physics(1)
                torques = [p.getJointState(r.body_id, j, physicsClientId=env.client)[3] for j in r.joint_indices[4:]]
                saturated.append(np.abs(torques) > 0.99 * np.asarray(r._forces[4:]))
            obs = env.get_obs()
            if env.task.is_success():
                break
        assert env.task.is_success()
        assert np.mean(saturated, axis=0).max() < 0.10
    finally:
        env.close()


def test_light_modules_do_not_import_pybullet() -> None:
    """Registration, scenes, instructions and tasks stay importable without PyBullet's cost."""
    code = (
        "import sys, jafm_robot, jafm_robot.envs.registration, jafm_robot.sim.scene, "
        "jafm_robot.envs.instructions, jafm_robot.envs.tasks; "
        "print('pybullet' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
