"""Iterated inverse kinematics for top-down grasps, respecting the robot config's joint limits.

PyBullet's ``calculateInverseKinematics`` with null-space arguments (limits, ranges, rest poses) is
fast but inexact: one call typically leaves several millimetres of error, and it may return joints
slightly outside the limits. Experts need sub-millimetre accuracy (a 45 mm cube in an 80 mm
gripper leaves little room), so :class:`IKSolver` re-runs the solver from its own result in a
*private* DIRECT PyBullet client that holds a copy of the arm: resetting joint states there never
disturbs the physics of the live scene. After each call the result is clipped to the config limits
and checked by forward kinematics; it stops at 1 mm / 0.01 rad. If the null-space solver stalls, a
few damped-least-squares steps with PyBullet's analytic Jacobian finish the job.

Only experts (and tests) import this module, so it is the one place in ``experts`` that needs
pybullet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p
import pybullet_data

from jafm_robot.robots.config import RobotConfig, load_robot_config

POS_TOL = 1e-3  # m
ORN_TOL = 1e-2  # rad


def top_down_quat(yaw: float) -> np.ndarray:
    """Quaternion (x, y, z, w) of a gripper pointing straight down, rotated ``yaw`` about world z.

    At yaw 0 the hand's x axis is world +x and the fingers open along world y (the Panda's home
    orientation), so a part's yaw maps directly onto this argument.
    """
    return np.asarray(p.getQuaternionFromEuler([np.pi, 0.0, float(yaw)]), dtype=np.float64)


def quat_angle(q1: np.ndarray, q2: np.ndarray) -> float:
    """Angle (rad) of the rotation between two unit quaternions (sign-agnostic)."""
    d = abs(float(np.dot(np.asarray(q1, float), np.asarray(q2, float))))
    return float(2.0 * np.arccos(min(1.0, d)))


def wrap_yaw_symmetric(yaw: float, period: float, reference: float) -> float:
    """The yaw equivalent to ``yaw`` under a ``period`` symmetry that is closest to ``reference``.

    A cube looks the same every 90 deg and a parallel gripper every 180 deg, so the expert may pick
    whichever equivalent grasp yaw keeps the wrist (joint 7) far from its limits.
    """
    k = np.round((reference - yaw) / period)
    return float(yaw + k * period)


@dataclass
class IKResult:
    q: np.ndarray  # 7 joint positions, inside the config limits
    pos_err: float  # m
    orn_err: float  # rad
    iterations: int

    @property
    def ok(self) -> bool:
        return self.pos_err < POS_TOL and self.orn_err < ORN_TOL


class IKSolver:
    """Iterated IK on a private copy of the arm.

    ``solve(pos, quat, q_seed)`` returns an :class:`IKResult`; the rest pose of the null space is
    the config's home pose, so solutions stay in the same elbow-up family as the arm's start.
    Positions are in the world frame of a robot whose base sits at ``cfg.base_position``.
    """

    def __init__(
        self,
        cfg: RobotConfig | None = None,
        urdf_path: str | None = None,
        base_position: tuple[float, float, float] | None = None,
    ) -> None:
        self.cfg = cfg or load_robot_config("panda")
        base = tuple(self.cfg.base_position if base_position is None else base_position)
        self.client = p.connect(p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
        urdf = urdf_path or self.cfg.urdf
        self.body = p.loadURDF(
            urdf, basePosition=base, useFixedBase=True, physicsClientId=self.client
        )
        names = {}
        links = {}
        for j in range(p.getNumJoints(self.body, physicsClientId=self.client)):
            info = p.getJointInfo(self.body, j, physicsClientId=self.client)
            names[info[1].decode()] = j
            links[info[12].decode()] = j
        missing = [n for n in self.cfg.joint_names if n not in names]
        if missing or self.cfg.ee_link not in links:
            raise ValueError(f"IK: URDF {urdf} lacks joints {missing} or EE link {self.cfg.ee_link!r}")
        self.joint_indices = [names[n] for n in self.cfg.joint_names]
        self.ee_link = links[self.cfg.ee_link]
        # calculateInverseKinematics wants null-space lists over all movable joints, in index order.
        self._movable = [
            j
            for j in range(p.getNumJoints(self.body, physicsClientId=self.client))
            if p.getJointInfo(self.body, j, physicsClientId=self.client)[2] != p.JOINT_FIXED
        ]
        lo, hi, rest = [], [], []
        for j in self._movable:
            info = p.getJointInfo(self.body, j, physicsClientId=self.client)
            if j in self.joint_indices:
                k = self.joint_indices.index(j)
                # A small margin inside the limits: a target exactly on a limit is refused by a
                # real controller and by our safety filter.
                lo.append(self.cfg.position_lower[k] + 1e-3)
                hi.append(self.cfg.position_upper[k] - 1e-3)
                rest.append(self.cfg.home[k])
            else:
                lo.append(info[8])
                hi.append(info[9])
                rest.append(0.5 * (info[8] + info[9]))
        self._lo = np.asarray(lo)
        self._hi = np.asarray(hi)
        self._rest = np.asarray(rest)
        self._arm_cols = [self._movable.index(j) for j in self.joint_indices]
        self.lower = self._lo[self._arm_cols]
        self.upper = self._hi[self._arm_cols]

    def close(self) -> None:
        if self.client is not None and p.isConnected(self.client):
            p.disconnect(self.client)
        self.client = None

    def __del__(self) -> None:  # the private client is a C resource; free it with the solver
        try:
            self.close()
        except Exception:
            pass

    # -- forward kinematics ---------------------------------------------------------------
    def _set(self, q: np.ndarray) -> None:
        for j, v in zip(self.joint_indices, q, strict=True):
            p.resetJointState(self.body, j, float(v), physicsClientId=self.client)

    def fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """EE position and quaternion for arm joints ``q``."""
        self._set(np.asarray(q, dtype=np.float64))
        s = p.getLinkState(self.body, self.ee_link, computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(s[4]), np.asarray(s[5])

    # -- inverse kinematics ---------------------------------------------------------------
    def _errors(self, q: np.ndarray, pos: np.ndarray, quat: np.ndarray) -> tuple[float, float]:
        cp, cq = self.fk(q)
        return float(np.linalg.norm(cp - pos)), quat_angle(cq, quat)

    def _dls_step(self, q: np.ndarray, pos: np.ndarray, quat: np.ndarray, damping: float = 1e-3) -> np.ndarray:
        """One damped-least-squares step toward the pose, with a pull toward home in the null space."""
        cp, cq = self.fk(q)
        full_q = [p.getJointState(self.body, j, physicsClientId=self.client)[0] for j in self._movable]
        zeros = [0.0] * len(self._movable)
        jl, ja = p.calculateJacobian(
            self.body, self.ee_link, [0, 0, 0], full_q, zeros, zeros, physicsClientId=self.client
        )
        jac = np.vstack([np.asarray(jl)[:, self._arm_cols], np.asarray(ja)[:, self._arm_cols]])
        # orientation error as a rotation vector in the world frame
        dq = p.getDifferenceQuaternion(cq.tolist(), quat.tolist())
        axis, angle = p.getAxisAngleFromQuaternion(dq)
        if angle > np.pi:
            angle -= 2 * np.pi
        err = np.concatenate([pos - cp, np.asarray(axis) * angle])
        jjt = jac @ jac.T + damping * np.eye(6)
        step = jac.T @ np.linalg.solve(jjt, err)
        pinv = jac.T @ np.linalg.solve(jjt, jac)
        step += (np.eye(7) - pinv) @ (0.1 * (self.cfg.home - q))
        return q + step

    def solve(
        self,
        pos: np.ndarray,
        quat: np.ndarray,
        q_seed: np.ndarray | None = None,
        max_iters: int = 8,
        tol: float = 2e-4,
    ) -> IKResult:
        """Joint positions reaching ``pos``/``quat`` within 1 mm / 0.01 rad, never outside the limits.

        Iterates until the position error is below ``tol`` (default 0.2 mm, so that a chain of
        solutions along a path does not accumulate the 1 mm acceptance error). Returns the best
        solution found with its errors; the caller checks ``result.ok`` (an
        unreachable target gives the closest reachable pose instead of an exception, so an expert
        can decide to hold or retreat).
        """
        pos = np.asarray(pos, dtype=np.float64).reshape(3)
        quat = np.asarray(quat, dtype=np.float64).reshape(4)
        quat = quat / np.linalg.norm(quat)
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat))):
            raise ValueError(f"IK target must be finite, got pos={pos} quat={quat}")
        q = np.asarray(self.cfg.home if q_seed is None else q_seed, dtype=np.float64)[:7].copy()
        q = np.clip(q, self.lower, self.upper)
        best = IKResult(q.copy(), *self._errors(q, pos, quat), 0)
        if best.pos_err < tol and best.orn_err < ORN_TOL:
            return best
        it = 0
        for it in range(1, max_iters + 1):
            self._set(q)
            # The first pass uses the null space (limits, ranges, rest pose = home) to pick the
            # posture; it carries a ~2 mm bias, so later passes run the plain solver from the
            # previous result, which stays in that posture and converges to micrometres.
            extra = {}
            if it == 1:
                extra = {
                    "lowerLimits": self._lo.tolist(),
                    "upperLimits": self._hi.tolist(),
                    "jointRanges": (self._hi - self._lo).tolist(),
                    "restPoses": self._rest.tolist(),
                }
            full = p.calculateInverseKinematics(
                self.body,
                self.ee_link,
                pos.tolist(),
                quat.tolist(),
                maxNumIterations=100,
                residualThreshold=1e-6,
                physicsClientId=self.client,
                **extra,
            )
            q_new = np.clip(np.asarray(full)[self._arm_cols], self.lower, self.upper)
            pe, oe = self._errors(q_new, pos, quat)
            if pe + 0.1 * oe < best.pos_err + 0.1 * best.orn_err:
                best = IKResult(q_new.copy(), pe, oe, it)
                if pe < tol and oe < ORN_TOL:
                    return best
            if np.max(np.abs(q_new - q)) < 1e-7:
                break  # stalled (typically on a joint limit); refine with DLS below
            q = q_new
        q = best.q.copy()
        for k in range(30):
            q = np.clip(self._dls_step(q, pos, quat), self.lower, self.upper)
            pe, oe = self._errors(q, pos, quat)
            if pe + 0.1 * oe < best.pos_err + 0.1 * best.orn_err:
                best = IKResult(q.copy(), pe, oe, it + k + 1)
                if pe < tol and oe < ORN_TOL:
                    break
        return best
