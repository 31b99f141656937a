"""Normalisation statistics and observation preprocessing for the VLA policy (NumPy only).

The statistics are computed once from the dataset and then baked into the network as buffers, so
the exported graph takes raw uint8 images, raw state and raw instruction bytes and returns absolute
targets: no host has to know or apply them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM, INSTRUCTION_LEN, STATE_DIM, encode_instruction

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


def check_observation(obs: dict[str, Any], cameras: tuple[str, ...] | list[str], image_size: int) -> None:
    """Raise a clear ValueError when an observation does not fit the policy (instead of a shape error deep inside)."""
    if not isinstance(obs, dict):
        raise ValueError(f"observation must be a dict, got {type(obs).__name__}")
    for cam in cameras:
        if cam not in obs:
            raise ValueError(f"observation lacks {cam!r} (the policy uses cameras {list(cameras)})")
        im = np.asarray(obs[cam])
        if im.dtype != np.uint8 or im.shape[-3:] != (image_size, image_size, 3):
            raise ValueError(f"observation {cam!r} must be uint8 [..,{image_size},{image_size},3], got {im.dtype} {im.shape}")
    st = np.asarray(obs.get("state"))
    if st.shape[-1:] != (STATE_DIM,) or not np.all(np.isfinite(st.astype(np.float64))):
        raise ValueError(f"observation 'state' must be {STATE_DIM} finite numbers, got {st.shape}")


def batch_observation(obs: dict[str, Any], cameras: tuple[str, ...] | list[str], image_size: int) -> dict[str, np.ndarray]:
    """One env observation -> batch-1 arrays named and typed as the policy inputs.

    ``instruction`` may be the uint8[128] array or a string (encoded here).
    """
    check_observation(obs, cameras, image_size)
    out = {cam: np.ascontiguousarray(np.asarray(obs[cam], np.uint8).reshape(1, image_size, image_size, 3)) for cam in cameras}
    out["state"] = np.asarray(obs["state"], np.float32).reshape(1, STATE_DIM)
    ins = obs.get("instruction")
    if isinstance(ins, str):
        ins = encode_instruction(ins)
    ins = np.asarray(ins if ins is not None else np.zeros(INSTRUCTION_LEN), dtype=np.uint8)
    if ins.shape[-1:] != (INSTRUCTION_LEN,):
        raise ValueError(f"observation 'instruction' must be uint8[{INSTRUCTION_LEN}], got {ins.shape}")
    out["instruction"] = ins.reshape(1, INSTRUCTION_LEN)
    return out


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
