"""Normalisation statistics and training-time preprocessing for the VLA policy (NumPy only).

The statistics are computed once from the dataset and then baked into the network as buffers, so
the exported graph takes raw uint8 images, raw state and raw instruction bytes and returns absolute
targets: no host has to know or apply them. Observations at inference are validated and batched by
the one contract every policy kind shares, :mod:`jafm_robot.runtime.observation`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM

# A joint that never moves in the data (std ~ 0) would blow up under z-scoring; this floor keeps
# its normalised value bounded (1 mrad / 1 mm scale).
MIN_STD = 1e-3


@dataclass
class NormStats:
    """Mean/std of state, action and (action - current state) over the chunk horizon."""

    state_mean: np.ndarray
    state_std: np.ndarray
    action_mean: np.ndarray
    action_std: np.ndarray
    delta_mean: np.ndarray
    delta_std: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        return {k: np.asarray(v, dtype=np.float64).tolist() for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NormStats:
        out = cls(**{k: np.asarray(d[k], dtype=np.float32) for k in cls.__dataclass_fields__})
        for k, v in out.__dict__.items():
            if v.shape != (ACTION_DIM,) or not np.all(np.isfinite(v)):
                raise ValueError(f"normalisation stats {k} must be {ACTION_DIM} finite numbers, got {v}")
        return out

    @classmethod
    def identity(cls) -> NormStats:
        z, o = np.zeros(ACTION_DIM, np.float32), np.ones(ACTION_DIM, np.float32)
        return cls(z, o, z, o, z, o)


def chunk_indices(episode_index: np.ndarray, chunk_len: int) -> np.ndarray:
    """[N, chunk_len] frame indices of the next ``chunk_len`` actions, clamped at each episode's end.

    Clamping repeats the last action, i.e. the target past the end of a demonstration is "hold where
    the expert stopped", which is what the robot should do there.
    """
    n = len(episode_index)
    idx = np.arange(n)[:, None] + np.arange(chunk_len)[None, :]
    # last frame of each frame's episode
    ends = np.empty(n, dtype=np.int64)
    change = np.flatnonzero(np.diff(episode_index)) + 1
    bounds = np.concatenate([[0], change, [n]])
    for a, b in itertools.pairwise(bounds):
        ends[a:b] = b - 1
    return np.minimum(idx, ends[:, None])


def compute_stats(state: np.ndarray, action: np.ndarray, episode_index: np.ndarray, chunk_len: int) -> NormStats:
    state = np.asarray(state, np.float64)
    action = np.asarray(action, np.float64)
    idx = chunk_indices(episode_index, chunk_len)
    delta = action[idx] - state[:, None, :]
    flat = delta.reshape(-1, ACTION_DIM)

    def std(x: np.ndarray) -> np.ndarray:
        return np.maximum(x.std(0), MIN_STD).astype(np.float32)

    return NormStats(
        state.mean(0).astype(np.float32), std(state),
        action.mean(0).astype(np.float32), std(action),
        flat.mean(0).astype(np.float32), std(flat),
    )


def random_shift(images: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    """DrQ-style augmentation: pad by edge replication, crop back at a random offset per sample.

    A few pixels of shift make the policy robust to camera jitter and small calibration errors
    without changing what the scene means. uint8 [B,H,W,3] in and out.
    """
    if pad <= 0:
        return images
    b, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    dx = rng.integers(0, 2 * pad + 1, size=b)
    dy = rng.integers(0, 2 * pad + 1, size=b)
    out = np.empty_like(images)
    for i in range(b):
        out[i] = padded[i, dy[i]: dy[i] + h, dx[i]: dx[i] + w]
    return out
