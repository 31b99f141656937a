"""Auxiliary training targets: where the demonstration grasped and where it released.

Behaviour cloning from a few hundred demonstrations first learns the *average* reach, a hand's
width from every part: the action loss says little about which pixels matter. Asking the network
to also say, from any frame, where the named part is picked and where it is put (an auxiliary loss
on privileged information, as in e.g. "Learning to See before Learning to Act") makes the vision
and language paths ground the instruction long before the action loss alone would.

The targets need no extra recording: the expert closes its fingers on the part and opens them over
the bin, so the end-effector position (forward kinematics of the recorded joint state) at those two
moments *is* the pick point and the place point. They are used only in training; the deployed graph
never outputs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jafm_robot.runtime.kinematics import panda_fk, panda_fk_matrix

AUX_DIM = 10  # pick xyz, place xyz (m, robot base frame), part yaw in the hand frame: cos/sin 2*yaw, 4*yaw
YAW = slice(6, 10)
CLOSE_BELOW = 0.01  # gripper target (m) under which the expert is closing on a part
OPEN_ABOVE = 0.03  # gripper target (m) above which a closed hand is releasing


def grasp_release_pairs(grip: np.ndarray) -> list[tuple[int, int]]:
    """Every (close, release) frame pair in order: a close, then the first frame after it whose
    gripper target opens."""
    closed = np.flatnonzero(grip < CLOSE_BELOW)
    opened = np.flatnonzero(grip > OPEN_ABOVE)
    pairs, i = [], 0
    while True:
        c = closed[closed >= i]
        if not len(c):
            return pairs
        o = opened[opened > c[0]]
        if not len(o):
            return pairs
        pairs.append((int(c[0]), int(o[0])))
        i = int(o[0])


def grasp_release(grip: np.ndarray) -> tuple[int, int] | None:
    """(close, release) frame of the grasp that carried the part: the *last* close that a release
    follows, or None without such a pair. An episode with a missed grasp closes, opens again to
    retry and closes once more; the first close is where the part was not, so the pick point (and
    the carried keypoint) come from the last pair."""
    pairs = grasp_release_pairs(grip)
    return pairs[-1] if pairs else None


def carried_pairs(grip: np.ndarray, several: bool = False) -> list[tuple[int, int]]:
    """The (close, release) pairs that carried a part: the last one (:func:`grasp_release`), or
    with ``several`` (a task that moves several parts, e.g. Sort) every one, each carrying the
    next part."""
    pairs = grasp_release_pairs(grip)
    return pairs if several else pairs[-1:]


def moves_several_parts(episodes: list[dict]) -> np.ndarray:
    """bool [E]: whether each recorded episode's task moves several parts one after another
    (``Task.moves_several_parts``), read from its ``env_task``."""
    from jafm_robot.envs.tasks import TASK_CLASSES

    return np.array([getattr(TASK_CLASSES.get(str(r.get("env_task"))), "moves_several_parts", False)
                     for r in episodes], bool)


def first_close(grip: np.ndarray) -> int | None:
    """The first frame whose gripper target closes, or None."""
    closed = np.flatnonzero(grip < CLOSE_BELOW)
    return int(closed[0]) if len(closed) else None


def grasp_symmetry(kind: str, size: tuple[float, ...] | np.ndarray) -> int:
    """How many yaws per turn grip a part the same way: 4 for a square box, 2 for an oblong one,
    0 (yaw does not matter) for a cylinder or a sphere."""
    if kind in ("cylinder", "sphere"):
        return 0
    return 4 if abs(float(size[0]) - float(size[1])) < 1e-4 else 2


def yaw_features(yaw: float, symmetry: int) -> tuple[np.ndarray, np.ndarray]:
    """(cos 2y, sin 2y, cos 4y, sin 4y) of a part's yaw and which of them are defined.

    A regression target has to be the same for every yaw that grips the part the same way, and
    continuous: the raw yaw of a block jumps by pi where the expert switches between its two
    equivalent grasps, and a network averaging the two sides of that jump turns the fingers onto
    the long side (measured: every PickPlace block failed that way). For an oblong part all four
    are defined (period pi); a square one has period pi/2, so only the 4y pair is; none for a
    cylinder."""
    f = np.array([np.cos(2 * yaw), np.sin(2 * yaw), np.cos(4 * yaw), np.sin(4 * yaw)], np.float32)
    valid = np.array([symmetry == 2, symmetry == 2, symmetry in (2, 4), symmetry in (2, 4)], np.float32)
    return f * valid, valid


def hand_yaw(q7: np.ndarray) -> np.ndarray:
    """Yaw (rad, about world z) of the Panda hand for joint angles [N, 7], by forward kinematics."""
    q7 = np.atleast_2d(np.asarray(q7, dtype=np.float64))
    out = np.empty(len(q7))
    for i, q in enumerate(q7):
        r = panda_fk_matrix(q[:7], tool_offset=0.0)
        out[i] = np.arctan2(r[1, 0], r[0, 0])
    return out


def in_hand_frame(features: np.ndarray, yaw_hand: np.ndarray) -> np.ndarray:
    """World yaw features [N, 4] (:func:`yaw_features`) -> the same of (part yaw - hand yaw).

    The hand frame is what the action needs: the policy predicts joint offsets from the current
    state, and the joint-7 offset that aligns the fingers is the part's yaw *relative to the
    hand*, which the wrist camera shows as the part's rotation in its image. The world yaw would
    have to be read off a 5-pixel part in the scene camera."""
    f = np.asarray(features, dtype=np.float64)
    out = np.empty_like(f)
    for j, k in ((0, 2), (2, 4)):
        c, s = np.cos(k * yaw_hand), np.sin(k * yaw_hand)
        out[:, j] = f[:, j] * c + f[:, j + 1] * s  # cos(k(y - h))
        out[:, j + 1] = f[:, j + 1] * c - f[:, j] * s  # sin(k(y - h))
    return out.astype(np.float32)


def masked_zscore_stats(aux: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-target (mean, std) over the frames where each target is defined (``valid`` 1), the
    std floored at 1e-2: how the trainer z-scores the auxiliary targets."""
    n = np.maximum(valid.sum(0), 1.0)
    mean = (aux * valid).sum(0) / n
    std = np.maximum(np.sqrt((((aux - mean) * valid) ** 2).sum(0) / n), 1e-2)
    return mean.astype(np.float32), std.astype(np.float32)


def grasp_place_targets(state: np.ndarray, action: np.ndarray, episode_index: np.ndarray,
                        part_yaw: np.ndarray | None = None, several: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: (float32[N, AUX_DIM] targets, float32[N, AUX_DIM] 1 where defined).

    Pick and place xyz are defined for an episode with a close and a release after it (not, e.g.,
    Reach): one pair per episode, or, for an episode that moves several parts (``several[e]``,
    :func:`moves_several_parts`), per frame the pair of the part it is about to carry or carries
    (the first release at or after the frame; after the last release, the last pair). The yaw
    features need ``part_yaw`` [E, 2] (the named part's yaw at the start and its
    :func:`grasp_symmetry`, from :func:`replay_recorded_episodes`), indexed by episode; they are
    the part's yaw relative to the hand of that frame (:func:`in_hand_frame`), defined up to the
    frame where the fingers close.
    """
    state = np.asarray(state, dtype=np.float64)
    action = np.asarray(action, dtype=np.float64)
    ep = np.asarray(episode_index)
    out = np.zeros((len(ep), AUX_DIM), np.float32)
    valid = np.zeros((len(ep), AUX_DIM), np.float32)
    for e in np.unique(ep):
        rows = np.flatnonzero(ep == e)
        pairs = carried_pairs(action[rows, 7], bool(several is not None and several[e]))
        if not pairs:
            continue
        start = 0
        for j, (c, o) in enumerate(pairs):
            seg = rows[start:] if j == len(pairs) - 1 else rows[start: o + 1]
            out[seg, :3] = panda_fk(state[rows[c], :7])
            out[seg, 3:6] = panda_fk(state[rows[o], :7])
            start = o + 1
        valid[rows, :6] = 1.0
        if part_yaw is not None:
            f, v = yaw_features(float(part_yaw[e, 0]), int(part_yaw[e, 1]))
            # after the first close the part turns with the hand, or a missed grasp may have
            # nudged it: its yaw at the start is known only until then
            before = rows[: first_close(action[rows, 7]) + 1]
            out[before, YAW] = in_hand_frame(np.tile(f, (len(before), 1)), hand_yaw(state[before, :7])) * v
            valid[before, YAW] = v
    return out, valid


# -- where those points appear in the cameras ------------------------------------------------------
def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """4x4 OpenGL view matrix (what ``pybullet.computeViewMatrix`` builds), NumPy only."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = s, u, -f
    m[:3, 3] = -m[:3, :3] @ eye
    return m


def perspective(fov_deg: float, near: float, far: float, aspect: float = 1.0) -> np.ndarray:
    """4x4 OpenGL projection (``pybullet.computeProjectionMatrixFOV``)."""
    f = 1.0 / np.tan(np.radians(fov_deg) / 2.0)
    return np.array([[f / aspect, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)], [0, 0, -1, 0]])


def project(points: np.ndarray, view: np.ndarray, proj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points [N,3] -> (image coordinates [N,2] in [-1, 1], x right and y *down*, as the
    spatial-softmax grid; bool [N] in front of the camera and inside the image)."""
    pts = np.c_[np.asarray(points, dtype=np.float64), np.ones(len(points))]
    clip = pts @ (proj @ view).T
    w = clip[:, 3]
    ok = w > 1e-6
    ndc = clip[:, :2] / np.where(ok, w, 1.0)[:, None]
    uv = np.c_[ndc[:, 0], -ndc[:, 1]]
    ok &= np.all(np.abs(uv) <= 1.0, axis=1)
    return uv.astype(np.float32), ok


def wrist_view_matrix(q7: np.ndarray, offset: np.ndarray, look: np.ndarray, up: np.ndarray) -> np.ndarray:
    """View matrix of the camera on ``panda_hand`` for joint angles ``q7`` (the FK's hand frame)."""
    hand = panda_fk_matrix(q7, tool_offset=0.0)
    rot, pos = hand[:3, :3], hand[:3, 3]
    eye = pos + rot @ np.asarray(offset, dtype=np.float64)
    return look_at(eye, eye + rot @ np.asarray(look, dtype=np.float64), rot @ np.asarray(up, dtype=np.float64))


def keypoint_targets(state: np.ndarray, action: np.ndarray, episode_index: np.ndarray, cameras: list[str],
                     scene: str = "factory", scene_poses: np.ndarray | None = None,
                     several: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per frame and camera, where keypoints 0 and 1 should look: (float32 [N, C, 2, 2] image
    coordinates in [-1, 1], float32 [N, C, 2] 1 where the point is in view).

    Keypoint 0 is the named part: its pick point until the grasp, the hand while it is carried, the
    place point after the release. Keypoint 1 is the place point. In an episode that moves several
    parts (``several``, as :func:`grasp_place_targets`) both follow the part carried next. The scene camera uses
    ``scene_poses[episode]`` (eye, target) when given (:func:`replay_recorded_episodes`), else the
    scene file's nominal pose, whose per-episode jitter puts a few pixels of noise on the target;
    the wrist camera follows the arm by forward kinematics of the frame's own joint state.
    """
    from jafm_robot.sim.scene import load_scene

    sc = load_scene(scene)
    cam, wc = sc.scene_camera, sc.wrist_camera
    scene_view, scene_proj = look_at(cam.eye, cam.target, cam.up), perspective(cam.fov, cam.near, cam.far)
    wrist_proj = perspective(wc.fov, wc.near, wc.far)
    state = np.asarray(state, dtype=np.float64)
    action = np.asarray(action, dtype=np.float64)
    ep = np.asarray(episode_index)
    n = len(ep)
    uv = np.zeros((n, len(cameras), 2, 2), np.float32)
    ok = np.zeros((n, len(cameras), 2), np.float32)
    points, defined = grasp_place_targets(state, action, ep, several=several)
    valid = defined[:, 0] > 0
    part = points[:, :3].astype(np.float64)
    for e in np.unique(ep):
        rows = np.flatnonzero(ep == e)
        if not valid[rows[0]]:
            continue
        pairs = carried_pairs(action[rows, 7], bool(several is not None and several[e]))
        for c, o in pairs:
            for k in range(c + 1, o + 1):  # carried: the part is in the hand
                part[rows[k]] = panda_fk(state[rows[k], :7])
        o = pairs[-1][1]
        part[rows[o + 1:]] = points[rows[o + 1:], 3:6]
    # one scene-camera view per episode (not per frame)
    episode_views = None if scene_poses is None else [look_at(eye, tgt, cam.up) for eye, tgt in scene_poses]
    for i in np.flatnonzero(valid):
        pts = np.stack([part[i], points[i, 3:6]])
        for j, c in enumerate(cameras):
            if c != "image":
                view = wrist_view_matrix(state[i, :7], wc.offset, wc.look, wc.up)
            else:
                view = scene_view if episode_views is None else episode_views[ep[i]]
            xy, inside = project(pts, view, scene_proj if c == "image" else wrist_proj)
            uv[i, j], ok[i, j] = xy, inside
    return uv, ok


@dataclass(frozen=True)
class ReplayedEpisodes:
    """What a recording does not store but a replayed reset gives back, per episode."""

    scene_poses: np.ndarray  # float64 [E, 2, 3] scene-camera eye and target
    part_yaw: np.ndarray  # float64 [E, 2]: the named part's yaw at the start, its grasp_symmetry (0 = none)


def replay_recorded_episodes(episodes: list[dict], scene: str) -> ReplayedEpisodes | None:
    """Reset each recorded episode again (its task, seed and language) and read what was drawn.

    The scene camera is jittered per episode (scene file ``randomization``) and the recording does
    not store the draw, nor the named part's orientation; a reset with the same task, seed and
    language rebuilds the same world, so ~25 ms per episode recovers both exactly. None when an
    episode has no seed or task to replay.
    """
    from jafm_robot.envs.make import make_env

    if not episodes or any(int(r.get("seed", -1)) < 0 or not r.get("env_task") for r in episodes):
        return None
    poses = np.zeros((len(episodes), 2, 3))
    yaws = np.zeros((len(episodes), 2))
    envs: dict[str, object] = {}
    try:
        for i, r in enumerate(episodes):
            task = str(r["env_task"])
            if task not in envs:
                envs[task] = make_env(task, 32, scene=scene)
            u = envs[task].unwrapped  # type: ignore[attr-defined]
            u.reset(seed=int(r["seed"]), options={"language": r.get("language") or "en"})
            poses[i] = u.world.appearance.scene_eye, u.world.appearance.scene_target
            name = (getattr(u.task, "goal", None) or {}).get("part")
            if name:
                yaws[i] = named_part_yaw(u.world, name)
    finally:
        for e in envs.values():
            e.close()  # type: ignore[attr-defined]
    return ReplayedEpisodes(poses, yaws)


def named_part_yaw(world: Any, name: str) -> tuple[float, int]:
    """(yaw, grasp_symmetry) of part ``name`` in a live ``sim.world.World``."""
    from jafm_robot.experts.base import part_yaw  # the experts' own reading of a resting part's yaw

    part = world.part(name)
    kind = world.scene.parts.shapes[part.shape].type
    return part_yaw(world.part_pose(part)[1]), grasp_symmetry(kind, part.size)
