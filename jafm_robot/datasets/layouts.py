"""Layout frames: many seeded scenes, rendered once each, with where the named part appears.

Behaviour cloning sees as many part layouts as it has demonstrations (600 took 17 minutes to
record on one core), and a policy trained on them learned to find the named part in *those*
layouts: on the first frame of 300 training layouts keypoint 0 was 1.8 / 3.0 px off (scene /
wrist camera), on 300 unseen layouts 8.2 / 6.9 px. Grounding "the green block" among a green cube
and a red block is a perception problem, and perception needs layouts, not trajectories. A layout
frame costs one reset and one render (~25 ms), so thousands take a minute.

Each frame: both camera images, the joint state (home, or a pose drawn from recorded states so the
wrist camera also sees the table from where the arm goes), the instruction, the image coordinates
of the named part in each camera (from the simulator's own camera matrices of that episode), and
the auxiliary targets a layout defines: the part's xy (the pick point's) and its grasp-yaw
features. ``jafm-robot train --layouts FILE`` adds them to batches for the keypoint and those
auxiliary losses only. Frames spread over workers (``--workers``); each depends on its seed only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM
from jafm_robot.datasets.auxiliary import AUX_DIM, YAW, hand_yaw, in_hand_frame
from jafm_robot.workers import Cluster, run_all


def _matrix(m: Any) -> np.ndarray:
    """PyBullet's column-major 16-list -> a 4x4 matrix that acts on column vectors."""
    return np.asarray(m, dtype=np.float64).reshape(4, 4).T


@dataclass(frozen=True, eq=False)
class LayoutSpec:
    """What a worker needs to render layouts: the env, and how the arm is posed in each frame."""

    task: str
    image_size: int = 128
    scene: str | None = None
    poses: np.ndarray | None = None
    pose_fraction: float = 0.5
    hover_fraction: float = 0.0


class LayoutWorker:
    """An env built once, then one layout frame per call ``(seed, language)``.

    The arm's pose is drawn from ``np.random.default_rng([seed, 17])``, so a frame depends on its
    seed only and any number of workers renders the frames of one."""

    def __init__(self, spec: LayoutSpec) -> None:
        from jafm_robot.envs.make import make_env

        self.spec = spec
        self.env = make_env(spec.task, spec.image_size, **({"scene": spec.scene} if spec.scene else {}))

    def __call__(self, job: tuple[int, str]) -> dict[str, Any]:
        import pybullet as p

        from jafm_robot.datasets.auxiliary import named_part_yaw, project, yaw_features

        seed, language = job
        spec, u = self.spec, self.env.unwrapped
        rng = np.random.default_rng([seed, 17])
        posed_share = spec.pose_fraction if spec.poses is not None else 0.0
        obs, _ = self.env.reset(seed=seed, options={"language": language})
        q, hover = None, False
        if spec.poses is not None and rng.random() < spec.pose_fraction:
            q = spec.poses[int(rng.integers(len(spec.poses)))]
        elif spec.hover_fraction and rng.random() < spec.hover_fraction / (1.0 - posed_share):
            q = _hover_pose(u, rng)
            hover = q is not None
        if q is not None:
            u.robot.reset_joints(q)
            u.command(q)  # hold the pose (the motors' target), as a recorded frame would
            obs = u.get_obs()
        pid = u.task.goal["part_id"]
        pos = np.asarray(p.getBasePositionAndOrientation(pid, physicsClientId=u.client)[0])
        kp = np.zeros((2, 2, 2), np.float32)  # [cameras (image, wrist_image), keypoints 0/1, xy]
        kp_valid = np.zeros((2, 2), np.float32)  # keypoint 1 (the place point) is not labelled here
        matrices = u.camera_matrices()
        for j, (view, proj) in enumerate((matrices["image"], matrices["wrist_image"])):
            xy, inside = project(pos[None], _matrix(view), _matrix(proj))
            kp[j, 0], kp_valid[j, 0] = xy[0], float(inside[0])
        aux = np.zeros(AUX_DIM, np.float32)  # raw (not z-scored) datasets.auxiliary targets
        aux_valid = np.zeros(AUX_DIM, np.float32)  # pick xy and the yaw features only
        aux[:2], aux_valid[:2] = pos[:2], 1.0
        # world yaw features: LayoutSamples turns them into the hand frame of the frame's state
        aux[YAW], aux_valid[YAW] = yaw_features(*named_part_yaw(u.world, u.task.goal["part"]))
        return {"image": obs["image"], "wrist_image": obs["wrist_image"], "state": obs["state"],
                "instruction": obs["instruction"], "kp": kp, "kp_valid": kp_valid, "aux": aux,
                "aux_valid": aux_valid, "hover": hover}

    def scene(self) -> dict[str, str]:
        from jafm_robot.datasets.recording import scene_identity

        return scene_identity(self.env.unwrapped.scene_config)

    def close(self) -> None:
        self.env.close()


def record_layouts(task: str, count: int, out: str | Path, *, seed: int = 200_000, languages: tuple[str, ...] = ("en", "ja"),
                   image_size: int = 128, poses: np.ndarray | None = None, pose_fraction: float = 0.5,
                   scene: str | None = None, command: str | None = None, hover_fraction: float = 0.0,
                   cluster: Cluster | None = None, progress: bool = True) -> dict[str, Any]:
    """Render ``count`` layouts (seeds ``seed``.., language ``languages[i % n]``) into ``out``
    (.npz); returns a summary. ``cluster`` spreads the frames over workers (same file whatever
    their number: frames are gathered in seed order).

    ``hover_fraction`` of the frames pose the open hand over the named part, where an expert
    starts its descent (``Expert.approach_height`` above the part's top, up to 1.5 cm off its
    centre), at a yaw drawn uniformly over half a turn: the wrist camera then shows the part large
    and turned by a known angle, which is what the grasp-yaw target needs to be learnt from (a
    recorded pose shows a part the expert has already aligned to)."""
    if count < 1:
        raise ValueError(f"--count must be >= 1, got {count}")
    if poses is not None and (poses.ndim != 2 or poses.shape[1] != ACTION_DIM or not len(poses)):
        raise ValueError(f"poses must be a non-empty [N, {ACTION_DIM}] array of joint states, got {poses.shape}")
    posed_share = pose_fraction if poses is not None else 0.0
    if not 0.0 <= hover_fraction <= 1.0 - posed_share:
        raise ValueError(f"--hover-fraction must be in [0, {1.0 - posed_share:g}] (the frames not posed from recorded "
                         f"states), got {hover_fraction}")
    spec = LayoutSpec(task, image_size, scene, poses, pose_fraction, hover_fraction)
    probe = LayoutWorker(spec)  # the scene's identity (and a clear error for a bad scene before any worker starts)
    try:
        ident = probe.scene()
    finally:
        probe.close()
    n = int(count)
    jobs = ((seed + i, (seed + i, languages[i % len(languages)])) for i in range(n))
    t0 = time.perf_counter()
    frames = [f for _, f in run_all(partial(LayoutWorker, spec), jobs, cluster or Cluster(), desc=f"layouts {task}",
                                    total=n, progress=progress)]
    cat = {k: np.stack([f[k] for f in frames]) for k in frames[0] if k != "hover"}
    n_hover = sum(f["hover"] for f in frames)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"task": task, "count": n, "seed": seed, "languages": list(languages), "image_size": image_size,
            "scene": ident, "posed": poses is not None, "hover": n_hover, "command": command}
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, **cat, meta=np.array(json.dumps(meta)))
    tmp.replace(out)
    return {**meta, "out": str(out), "in_view": cat["kp_valid"][:, :, 0].mean(0).tolist(),
            "seconds": time.perf_counter() - t0}


def _hover_pose(u: Any, rng: np.random.Generator) -> np.ndarray | None:
    """Joint state (gripper open) of a top-down hand hovering over the named part at a random yaw;
    None where the iterated IK cannot reach it within tolerance."""
    from jafm_robot.experts.base import Expert, solver_for
    from jafm_robot.experts.ik import top_down_quat

    part = u.world.part(u.task.goal["part"])
    pos = np.asarray(u.world.part_position(part), dtype=np.float64)
    target = pos + np.array([*rng.uniform(-0.015, 0.015, 2), float(part.half_height) + Expert.approach_height])
    ik = solver_for(u.robot)
    res = ik.solve(target, top_down_quat(float(rng.uniform(-np.pi / 2, np.pi / 2))), np.asarray(u.robot.cfg.home)[:7],
                   max_iters=20)
    if not res.ok:
        return None
    return np.append(res.q, u.robot.cfg.gripper_width_limit[1]).astype(np.float32)


def aux_targets(aux: np.ndarray, aux_valid: np.ndarray, state: np.ndarray) -> np.ndarray:
    """A layout file's auxiliary targets as the trainer uses them (raw, not z-scored): the files
    hold the part's world yaw features, the trainer's are in the hand frame of each frame's state."""
    out = np.asarray(aux, np.float32).copy()
    out[:, YAW] = in_hand_frame(out[:, YAW], hand_yaw(np.asarray(state)[:, :7])) * aux_valid[:, YAW]
    return out


class LayoutSamples:
    """Layout frames from one or more ``.npz`` files, in memory, batched like training samples."""

    def __init__(self, spec: str, cameras: list[str], image_size: int, scene: dict[str, str] | None = None) -> None:
        files = [Path(s.strip()) for s in str(spec).split(",") if s.strip()]
        if not files:
            raise ValueError("--layouts: no file given")
        parts: dict[str, list[np.ndarray]] = {}
        self.meta: list[dict[str, Any]] = []
        for f in files:
            if not f.is_file():
                raise FileNotFoundError(f"--layouts: no file {f} (make one with `jafm-robot layouts`)")
            try:
                with np.load(f) as z:
                    meta = json.loads(str(z["meta"]))
                    arrays = {k: z[k] for k in ("image", "wrist_image", "state", "instruction", "kp", "kp_valid")}
                    n = len(arrays["state"])
                    # files from before layouts carried auxiliary targets: none defined
                    for k in ("aux", "aux_valid"):
                        arrays[k] = z[k] if k in z.files else np.zeros((n, AUX_DIM), np.float32)
            except (KeyError, ValueError, OSError) as e:
                raise ValueError(f"--layouts {f}: not a layouts file ({e})") from e
            if meta["image_size"] != image_size:
                raise ValueError(f"--layouts {f}: image size {meta['image_size']}, the policy's is {image_size}")
            if scene and meta.get("scene") and meta["scene"] != scene:
                raise ValueError(f"--layouts {f}: rendered in scene {meta['scene']}, the dataset in {scene}")
            self.meta.append(meta)
            for k, v in arrays.items():
                parts.setdefault(k, []).append(v)
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        cam_index = {"image": 0, "wrist_image": 1}
        self.cameras = list(cameras)
        self.images = {c: cat[c] for c in self.cameras}
        sel = [cam_index[c] for c in self.cameras]
        self.state, self.instruction = cat["state"], cat["instruction"]
        self.kp, self.kp_valid = cat["kp"][:, sel], cat["kp_valid"][:, sel]
        self.aux_valid = cat["aux_valid"]
        self.aux_raw = aux_targets(cat["aux"], self.aux_valid, self.state)
        self.aux = self.aux_raw * self.aux_valid

    def normalise_aux(self, mean: np.ndarray, std: np.ndarray) -> None:
        """z-score the auxiliary targets with the demonstrations' statistics (ChunkSamples.add_auxiliary)."""
        self.aux = ((self.aux_raw - mean) / std * self.aux_valid).astype(np.float32)

    def aux_rows(self, idx: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(targets, defined) of rows ``idx``, for a policy with ``dim`` auxiliary outputs."""
        if dim != self.aux.shape[1]:
            raise ValueError(f"the policy has {dim} auxiliary outputs, the layout files {self.aux.shape[1]}")
        return self.aux[idx], self.aux_valid[idx]

    def __len__(self) -> int:
        return len(self.state)

    def commands(self) -> list[str]:
        return [m["command"] for m in self.meta if m.get("command")]
