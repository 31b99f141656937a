"""The pure-NumPy Panda FK agrees with PyBullet's (the simulator's) on random joint angles."""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.runtime.kinematics import fk_for, panda_fk, panda_fk_matrix


def test_panda_fk_matches_pybullet():
    p = pytest.importorskip("pybullet")
    pybullet_data = pytest.importorskip("pybullet_data")
    cid = p.connect(p.DIRECT)
    try:
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        robot = p.loadURDF("franka_panda/panda.urdf", useFixedBase=True, physicsClientId=cid)
        joints, links = {}, {}
        for i in range(p.getNumJoints(robot, physicsClientId=cid)):
            info = p.getJointInfo(robot, i, physicsClientId=cid)
            joints[info[1].decode()] = i
            links[info[12].decode()] = i
        rng = np.random.default_rng(0)
        for _ in range(20):
            q = rng.uniform(-2.5, 2.5, 7)
            for k in range(7):
                p.resetJointState(robot, joints[f"panda_joint{k + 1}"], q[k], physicsClientId=cid)
            state = p.getLinkState(robot, links["panda_grasptarget"], computeForwardKinematics=True, physicsClientId=cid)
            np.testing.assert_allclose(panda_fk(q), state[4], atol=2e-5)
            rot = np.array(p.getMatrixFromQuaternion(state[5])).reshape(3, 3)
            np.testing.assert_allclose(panda_fk_matrix(q)[:3, :3], rot, atol=1e-4)
    finally:
        p.disconnect(cid)


def test_fk_helpers():
    home = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
    x = panda_fk(home)
    assert 0.2 < x[0] < 0.5 and abs(x[1]) < 1e-6 and 0.2 < x[2] < 0.6  # in front of the base, gripper down
    np.testing.assert_allclose(fk_for("panda", base=(1.0, 2.0, 0.5))(home), x + np.array([1.0, 2.0, 0.5]))
    assert fk_for("ur5") is None
    with pytest.raises(ValueError, match="7 joint"):
        panda_fk(np.zeros(6))
