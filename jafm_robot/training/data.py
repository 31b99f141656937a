"""Training samples from a LeRobot v3.0 dataset: observation at frame t -> the next chunk_len actions.

Everything is held as NumPy arrays in memory (camera frames decoded once) and batches are gathered
by fancy indexing: on a 2-core machine a DataLoader with worker processes costs more than it saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from jafm_robot.contract import encode_instruction
from jafm_robot.datasets.concat import ConcatDataset, scene_segments
from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset
from jafm_robot.policies.vla.processor_vla import chunk_indices, random_shift

if TYPE_CHECKING:
    from jafm_robot.datasets.auxiliary import ReplayedEpisodes


@dataclass
class Batch:
    images: dict[str, np.ndarray]  # camera -> uint8 [B,H,W,3]
    state: np.ndarray  # float32 [B,8]
    instruction: np.ndarray  # uint8 [B,128]
    actions: np.ndarray  # float32 [B,chunk_len,8] absolute targets
    aux: np.ndarray | None = None  # float32 [B,aux_dim] normalised auxiliary targets (training only)
    aux_valid: np.ndarray | None = None  # float32 [B,aux_dim] 1 where that target is defined
    kp: np.ndarray | None = None  # float32 [B,cams,2,2] where keypoints 0/1 should look (training only)
    kp_valid: np.ndarray | None = None  # float32 [B,cams,2] 1 where that point is in view
    act_valid: np.ndarray | None = None  # float32 [B] 1 where ``actions`` are real (None = all rows)


def append_layouts(b: Batch, layouts, idx: np.ndarray) -> Batch:
    """``b`` plus layout frames (datasets.layouts.LayoutSamples) ``idx``: those rows have keypoint
    targets and the auxiliary targets a layout defines (where the part is, its yaw); their actions
    (a copy of the state) and the rest are masked out."""
    n, m = len(b.state), len(idx)
    if b.kp is None:
        raise ValueError("layout frames only carry keypoint targets: train a size with keypoints and an auxiliary head")
    state = layouts.state[idx]
    cat = np.concatenate
    aux = aux_valid = None
    if b.aux is not None:  # add_auxiliary sets both
        l_aux, l_valid = layouts.aux_rows(idx, b.aux.shape[1])
        aux, aux_valid = cat([b.aux, l_aux]), cat([b.aux_valid, l_valid])
    return Batch(
        images={c: cat([v, layouts.images[c][idx]]) for c, v in b.images.items()},
        state=cat([b.state, state]),
        instruction=cat([b.instruction, layouts.instruction[idx]]),
        actions=cat([b.actions, np.repeat(state[:, None], b.actions.shape[1], 1)]),
        aux=aux,
        aux_valid=aux_valid,
        kp=cat([b.kp, layouts.kp[idx]]),
        kp_valid=cat([b.kp_valid, layouts.kp_valid[idx]]),
        act_valid=cat([np.ones(n, np.float32) if b.act_valid is None else b.act_valid, np.zeros(m, np.float32)]),
    )


def skipped_actions(row: dict) -> tuple[int, int] | None:
    """An episodes-table row's skipped actions ``[from, to)``, or None (no columns, -1, or empty:
    datasets recorded before the columns existed read as skipping nothing)."""
    a, b = (row.get(k) for k in ("skip_actions_from", "skip_actions_to"))
    a, b = -1 if a is None else int(a), -1 if b is None else int(b)
    return None if a < 0 or b <= a else (a, b)


def imitation_mask(episode_index: np.ndarray, episodes: list[dict], chunk_len: int) -> np.ndarray | None:
    """float32 [N]: 0 for frames whose action chunk reaches into an episode's skipped actions
    (``skip_actions_from``..``skip_actions_to`` in the episodes table: a deliberate miss in a
    recovery demonstration, which the student must not learn to make), 1 elsewhere; None when no
    episode skips any. ``episodes`` are indexed by the values of ``episode_index``."""
    ep = np.asarray(episode_index)
    mask = np.ones(len(ep), np.float32)
    starts = np.searchsorted(ep, np.arange(len(episodes)))  # frames are stored episode after episode
    skipped = False
    for e, row in enumerate(episodes):
        if (skip := skipped_actions(row)) is None:
            continue
        a, b = skip
        # frame t's chunk holds actions t..t+chunk_len-1: it reaches [a, b) from t = a-chunk_len+1
        lo, hi = starts[e] + max(0, a - chunk_len + 1), starts[e] + b
        mask[lo:hi] = np.where(ep[lo:hi] == e, 0.0, mask[lo:hi])
        skipped = True
    return mask if skipped else None


def correction_frames(episode_index: np.ndarray, episodes: list[dict], window: int) -> np.ndarray:
    """int64 indices of the first ``window`` frames after each episode's skipped actions (the frames
    right after ``skip_actions_to``): where an expert that took over from a policy corrects it
    (``record --student``) or recovers from its own deliberate miss. ``train --correction-weight``
    samples them more often, because the few frames of a correction are what a cloned policy lacks
    and they are drowned out by the plain demonstrations' frames."""
    if window < 1:
        raise ValueError(f"--correction-window must be >= 1 frame, got {window}")
    ep = np.asarray(episode_index)
    starts = np.searchsorted(ep, np.arange(len(episodes)))
    ends = np.searchsorted(ep, np.arange(len(episodes)), side="right")
    out = []
    for e, row in enumerate(episodes):
        if (skip := skipped_actions(row)) is None:
            continue
        lo, hi = starts[e] + skip[1], min(starts[e] + skip[1] + window, ends[e])
        out.append(np.arange(lo, hi, dtype=np.int64))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


class ChunkSamples:
    """Index i -> (observation at frame i, actions i..i+chunk_len-1 clamped at the episode end)."""

    def __init__(self, ds: LeRobotV3Dataset | ConcatDataset, cameras: tuple[str, ...] | list[str], chunk_len: int, progress: bool = False) -> None:
        missing = [c for c in cameras if c not in ds.cameras]
        if missing:
            raise ValueError(f"dataset {ds.root} has no camera(s) {missing}; it has {ds.cameras}")
        self.ds = ds
        self.cameras = list(cameras)
        self.images = {c: ds.images(c, progress=progress) for c in self.cameras}
        self.state = ds.state
        self.action = ds.action
        self.chunk_idx = chunk_indices(ds.episode_index, chunk_len)
        self.act_valid = imitation_mask(ds.episode_index, ds.episodes, chunk_len)
        self.instr_table = np.stack([encode_instruction(t) for t in ds.tasks])
        self.task_index = ds.task_index
        self.aux: np.ndarray | None = None
        self.aux_valid: np.ndarray | None = None
        self.kp: np.ndarray | None = None
        self.kp_valid: np.ndarray | None = None
        self._replayed: tuple[tuple, ReplayedEpisodes | None] | None = None

    def replayed(self, scene: str | None = None) -> ReplayedEpisodes | None:
        """The recorded episodes replayed once (scene-camera poses, named part's yaw), each folder
        in its own scene (``scene``: see :func:`~jafm_robot.datasets.concat.scene_segments`), or
        None when an episode cannot be replayed."""
        from jafm_robot.datasets.auxiliary import ReplayedEpisodes, replay_recorded_episodes

        segments = scene_segments(self.ds, scene)
        key = tuple((s.episodes.start, s.episodes.stop, s.scene) for s in segments)
        if self._replayed is None or self._replayed[0] != key:
            parts = [replay_recorded_episodes(self.ds.episodes[s.episodes], s.scene) for s in segments]
            rep = None if any(p is None for p in parts) else ReplayedEpisodes(
                np.concatenate([p.scene_poses for p in parts]), np.concatenate([p.part_yaw for p in parts]))
            self._replayed = (key, rep)
        return self._replayed[1]

    def add_auxiliary(self, scene: str | None = None, replay: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Attach auxiliary targets (see datasets.auxiliary), z-scored per target over the frames
        where it is defined; returns their (mean, std). The yaw targets need the episodes replayed
        (``replay``), each folder in the scene it was recorded in (``scene`` for one that records
        none); without a replay they are left undefined."""
        from jafm_robot.datasets.auxiliary import (
            grasp_place_targets,
            masked_zscore_stats,
            moves_several_parts,
        )

        rep = self.replayed(scene) if replay else None
        aux, valid = grasp_place_targets(self.state, self.action, self.ds.episode_index,
                                         None if rep is None else rep.part_yaw, moves_several_parts(self.ds.episodes))
        if not valid[:, 0].any():
            raise ValueError(f"dataset {self.ds.root}: no episode has a grasp and a release to take auxiliary targets from")
        mean, std = masked_zscore_stats(aux, valid)
        self.aux = ((aux - mean) / std * valid).astype(np.float32)
        self.aux_valid = valid.astype(np.float32)
        return mean, std

    def add_keypoint_targets(self, scene: str | None = None) -> float:
        """Attach keypoint targets (datasets.auxiliary.keypoint_targets), each folder's with the
        cameras of the scene it was recorded in; returns the in-view fraction."""
        from jafm_robot.datasets.auxiliary import keypoint_targets, moves_several_parts

        rep = self.replayed(scene) if "image" in self.cameras else None
        kp = np.zeros((len(self), len(self.cameras), 2, 2), np.float32)
        kp_valid = np.zeros((len(self), len(self.cameras), 2), np.float32)
        several = moves_several_parts(self.ds.episodes)
        for seg in scene_segments(self.ds, scene):
            f, e = seg.frames, seg.episodes
            kp[f], kp_valid[f] = keypoint_targets(self.state[f], self.action[f], self.ds.episode_index[f] - e.start,
                                                  self.cameras, seg.scene, None if rep is None else rep.scene_poses[e],
                                                  several[e])
        self.kp, self.kp_valid = kp, kp_valid
        return float(self.kp_valid.mean())

    def __len__(self) -> int:
        return len(self.state)

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None, shift_pad: int = 0) -> Batch:
        idx = np.asarray(idx, dtype=np.int64)
        images = {}
        for c in self.cameras:
            im = self.images[c][idx]
            images[c] = random_shift(im, shift_pad, rng) if (rng is not None and shift_pad > 0) else im
        return Batch(
            images=images,
            state=self.state[idx],
            instruction=self.instr_table[self.task_index[idx]],
            actions=self.action[self.chunk_idx[idx]],
            aux=None if self.aux is None else self.aux[idx],
            aux_valid=None if self.aux_valid is None else self.aux_valid[idx],
            kp=None if self.kp is None else self.kp[idx],
            kp_valid=None if self.kp_valid is None else self.kp_valid[idx],
            act_valid=None if self.act_valid is None else self.act_valid[idx],
        )
