"""A robot arm + parallel gripper in PyBullet, driven by joint position targets.

Everything about the arm (URDF, joint names, limits, end-effector link, home pose) comes from a
:class:`~jafm_robot.robots.config.RobotConfig`, so another arm is another YAML file. The contract's
8-vector is used throughout: 7 joint positions (rad) + gripper opening width (m); the width is
split evenly between the two prismatic finger joints.

Position control uses PyBullet's joint motors with ``maxVelocity`` set to the config's velocity
limits, so a far target is approached at a realistic speed instead of in one physics step.
"""

from __future__ import annotations

import numpy as np
import pybullet as p

from jafm_robot.robots.config import RobotConfig
from jafm_robot.sim.assets import lowpoly_urdf, resolve_urdf

# Link colours for the low-poly arm (collision OBJ files carry no material).
_WHITE = (0.92, 0.92, 0.93, 1.0)
_DARK = (0.18, 0.18, 0.2, 1.0)


class BulletRobot:
    """The arm in one PyBullet client.

    ``command`` only sets motor targets; physics advances elsewhere (``stepSimulation``), so the
    same object serves the gymnasium env (fixed 0.1 s steps) and hosts that run their own clock.
    """

    # Motor gains: kp is PyBullet's positionGain (fraction of the error corrected per step through
    # the velocity constraint), chosen so that a 0.1 s action point is tracked to within ~1 mrad.
    position_gain = 0.3
    velocity_gain = 1.0
    finger_force = 40.0  # N per finger: holds a 0.1 kg part by friction with margin

    def __init__(
        self,
        client: int,
        cfg: RobotConfig,
        visual: str = "collision",
        base_position: tuple[float, float, float] | None = None,
    ) -> None:
        if visual not in ("collision", "full"):
            raise ValueError(f"robot visual must be 'collision' or 'full', got {visual!r}")
        self.client = client
        self.cfg = cfg
        urdf = resolve_urdf(cfg.urdf)
        path = lowpoly_urdf(urdf) if visual == "collision" else urdf
        pos = base_position if base_position is not None else cfg.base_position
        self.body_id = p.loadURDF(
            str(path),
            basePosition=pos,
            useFixedBase=True,
            flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES | (p.URDF_USE_INERTIA_FROM_FILE if cfg.inertia == "urdf" else 0),
            physicsClientId=client,
        )
        joints: dict[str, int] = {}
        links: dict[str, int] = {}
        self._lower: dict[int, float] = {}
        for j in range(p.getNumJoints(self.body_id, physicsClientId=client)):
            info = p.getJointInfo(self.body_id, j, physicsClientId=client)
            joints[info[1].decode()] = j
            links[info[12].decode()] = j
        missing = [n for n in (*cfg.joint_names, *cfg.finger_joint_names) if n not in joints]
        if missing:
            raise ValueError(f"robot {cfg.name!r}: joints {missing} not in {path.name}")
        if cfg.ee_link not in links:
            raise ValueError(f"robot {cfg.name!r}: ee_link {cfg.ee_link!r} not in {path.name}")
        self.joint_indices: list[int] = [joints[n] for n in cfg.joint_names]
        self.finger_indices: list[int] = [joints[n] for n in cfg.finger_joint_names]
        self.ee_link_index: int = links[cfg.ee_link]
        self.link_indices: dict[str, int] = links
        self.max_joint_velocity: np.ndarray = cfg.velocity_limit8.copy()
        self._forces = [
            float(p.getJointInfo(self.body_id, j, physicsClientId=client)[10]) or 100.0
            for j in self.joint_indices
        ]
        self._target = cfg.home8.astype(np.float64).copy()
        for link in range(-1, p.getNumJoints(self.body_id, physicsClientId=client)):
            if link in self.finger_indices:
                # Grasps hold by friction only: rubbery fingertips, a little torsional friction so a
                # held part does not spin about the finger axis.
                p.changeDynamics(self.body_id, link, lateralFriction=1.5, spinningFriction=0.003,
                                 frictionAnchor=1, physicsClientId=client)
            if visual == "collision":
                dark = link in self.finger_indices
                p.changeVisualShape(self.body_id, link, rgbaColor=_DARK if dark else _WHITE, physicsClientId=client)
        self.finger_coupling: int | None = None
        if len(self.finger_indices) == 2:
            # The real gripper drives both fingers through one mechanism; without this coupling two
            # independent position motors let a grasped part wander sideways between the fingers.
            self.finger_coupling = p.createConstraint(
                self.body_id, self.finger_indices[0], self.body_id, self.finger_indices[1],
                jointType=p.JOINT_GEAR, jointAxis=[1, 0, 0], parentFramePosition=[0, 0, 0],
                childFramePosition=[0, 0, 0], physicsClientId=client,
            )
            p.changeConstraint(self.finger_coupling, gearRatio=-1, erp=0.1, maxForce=100,
                               physicsClientId=client)
        self.reset_joints(cfg.home8)

    # -- state -------------------------------------------------------------------------------
    def reset_joints(self, q8: np.ndarray) -> None:
        """Teleport to ``q8`` (zero velocity) and hold it: used on env reset only."""
        q8 = np.asarray(q8, dtype=np.float64)
        for j, q in zip(self.joint_indices, q8[:7], strict=False):
            p.resetJointState(self.body_id, j, float(q), 0.0, physicsClientId=self.client)
        for j in self.finger_indices:
            p.resetJointState(self.body_id, j, float(q8[7]) / 2, 0.0, physicsClientId=self.client)
        self.command(q8)

    def state(self) -> np.ndarray:
        """float32[8]: 7 joint positions + gripper width (sum of the finger joints)."""
        states = p.getJointStates(self.body_id, self.joint_indices + self.finger_indices, physicsClientId=self.client)
        q = [s[0] for s in states]
        n = len(self.joint_indices)
        return np.array([*q[:n], sum(q[n:])], dtype=np.float32)

    def joint_velocities(self) -> np.ndarray:
        states = p.getJointStates(self.body_id, self.joint_indices + self.finger_indices, physicsClientId=self.client)
        v = [s[1] for s in states]
        n = len(self.joint_indices)
        return np.array([*v[:n], sum(v[n:])], dtype=np.float32)

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World position [3] and quaternion xyzw [4] of the end-effector (grasp target) link."""
        s = p.getLinkState(self.body_id, self.ee_link_index, computeForwardKinematics=True,
                           physicsClientId=self.client)
        return np.array(s[4], dtype=np.float64), np.array(s[5], dtype=np.float64)

    def link_pose(self, link: str | int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.link_indices[link] if isinstance(link, str) else link
        s = p.getLinkState(self.body_id, idx, computeForwardKinematics=True, physicsClientId=self.client)
        return np.array(s[4], dtype=np.float64), np.array(s[5], dtype=np.float64)

    @property
    def target(self) -> np.ndarray:
        """The last commanded (already clipped) 8-vector target."""
        return self._target.copy()

    # -- control -----------------------------------------------------------------------------
    def command(self, target8: np.ndarray) -> None:
        """Set the motor targets (the caller has clipped/validated ``target8``); no physics step."""
        t = np.asarray(target8, dtype=np.float64)
        self._target = t.copy()
        c = self.client
        for j, q, v, f in zip(self.joint_indices, t[:7], self.max_joint_velocity[:7], self._forces, strict=False):
            p.setJointMotorControl2(self.body_id, j, p.POSITION_CONTROL, targetPosition=float(q),
                                    force=f, maxVelocity=float(v), positionGain=self.position_gain,
                                    velocityGain=self.velocity_gain, physicsClientId=c)
        half_v = float(self.max_joint_velocity[7]) / 2
        for j in self.finger_indices:
            p.setJointMotorControl2(self.body_id, j, p.POSITION_CONTROL, targetPosition=float(t[7]) / 2,
                                    force=self.finger_force, maxVelocity=half_v,
                                    positionGain=self.position_gain, velocityGain=self.velocity_gain,
                                    physicsClientId=c)
