"""Headless camera rendering (PyBullet TinyRenderer) for the fixed scene camera and the wrist camera.

Rendering is the dominant cost of an env step, so every call skips what we do not use: no shadow
pass and no segmentation mask (together ~2x faster than panda-gym's defaults), RGB only.
"""

from __future__ import annotations

import numpy as np
import pybullet as p

from jafm_robot.sim.scene import CameraSpec, WristCameraSpec


def projection(fov: float, near: float, far: float, aspect: float = 1.0) -> list[float]:
    return p.computeProjectionMatrixFOV(fov=fov, aspect=aspect, nearVal=near, farVal=far)


def scene_view(cam: CameraSpec) -> list[float]:
    return p.computeViewMatrix(cam.eye, cam.target, cam.up)


def wrist_view(client: int, body_id: int, link: int, cam: WristCameraSpec) -> list[float]:
    """View matrix of a camera rigidly mounted on ``link`` (offset/look/up in the link frame)."""
    s = p.getLinkState(body_id, link, computeForwardKinematics=True, physicsClientId=client)
    pos, orn = np.asarray(s[4]), s[5]
    rot = np.asarray(p.getMatrixFromQuaternion(orn)).reshape(3, 3)
    eye = pos + rot @ np.asarray(cam.offset)
    target = eye + rot @ np.asarray(cam.look)
    up = rot @ np.asarray(cam.up)
    return p.computeViewMatrix(eye.tolist(), target.tolist(), up.tolist())


def render(
    client: int,
    width: int,
    height: int,
    view: list[float],
    proj: list[float],
    light_direction: np.ndarray,
    light_color: np.ndarray,
    ambient: float,
    diffuse: float,
    specular: float,
) -> np.ndarray:
    """uint8[height, width, 3] RGB frame."""
    out = p.getCameraImage(
        width,
        height,
        viewMatrix=view,
        projectionMatrix=proj,
        shadow=0,
        lightDirection=[float(x) for x in light_direction],
        lightColor=[float(x) for x in light_color],
        lightAmbientCoeff=ambient,
        lightDiffuseCoeff=diffuse,
        lightSpecularCoeff=specular,
        flags=p.ER_NO_SEGMENTATION_MASK,
        renderer=p.ER_TINY_RENDERER,
        physicsClientId=client,
    )
    rgba = np.asarray(out[2], dtype=np.uint8).reshape(height, width, 4)
    return np.ascontiguousarray(rgba[:, :, :3])
