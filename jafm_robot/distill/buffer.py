"""The aggregated DAgger dataset: observations the rollouts visited, each with the teacher's chunk.

Why not the LeRobot v3 layout: a v3 dataset stores *one* action per frame and a training chunk is
read from consecutive frames. In a student-driven episode consecutive frames hold the *student's*
actions, so the chunk the teacher gave for a frame cannot be represented there. Here every sample
stores its own label chunk ``labels[i] = float32[chunk_len, 8]``; that is the whole point of DAgger.

Storage: one compressed ``.npz`` per DAgger iteration under ``RUN/buffer/`` (written atomically,
so ``--resume`` never reads a half-written iteration), concatenated in memory for training. Each
file carries an ``episodes`` JSON table (task, language, seed, instruction, template index, who
drove, success) so the card can say exactly which phrasings the student was trained on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM, INSTRUCTION_LEN, STATE_DIM, encode_instruction
from jafm_robot.policies.vla.processor_vla import MIN_STD, NormStats, chunk_indices, random_shift


@dataclass
class Batch:
    images: dict[str, np.ndarray]  # camera -> uint8 [B,H,W,3]
    state: np.ndarray  # float32 [B,8]
    instruction: np.ndarray  # uint8 [B,128]
    actions: np.ndarray  # float32 [B,chunk_len,8] teacher labels (absolute targets)


class ChunkBuffer:
    """Samples (observation, teacher chunk); grows by whole episodes."""

    def __init__(self, cameras: list[str] | tuple[str, ...], image_size: int, chunk_len: int) -> None:
        self.cameras = list(cameras)
        self.image_size = int(image_size)
        self.chunk_len = int(chunk_len)
        self._parts: list[dict[str, np.ndarray]] = []
        self._cat: dict[str, np.ndarray] | None = None
        self.episodes: list[dict[str, Any]] = []

    # -- growing -------------------------------------------------------------------------------
    def add_episode(self, images: dict[str, np.ndarray], state: np.ndarray, instruction: np.ndarray,
                    labels: np.ndarray, info: dict[str, Any]) -> None:
        """Append one episode's samples (arrays over its T steps) and its metadata row."""
        n = len(state)
        s = self.image_size
        for cam in self.cameras:
            if images[cam].shape != (n, s, s, 3) or images[cam].dtype != np.uint8:
                raise ValueError(f"episode camera {cam!r} must be uint8 [{n},{s},{s},3], got {images[cam].dtype} {images[cam].shape}")
        if labels.shape != (n, self.chunk_len, ACTION_DIM):
            raise ValueError(f"episode labels must be [{n},{self.chunk_len},{ACTION_DIM}], got {labels.shape}")
        ep_id = len(self.episodes)
        part = {f"img.{c}": np.asarray(images[c], np.uint8) for c in self.cameras}
        part["state"] = np.asarray(state, np.float32).reshape(n, STATE_DIM)
        part["instruction"] = np.asarray(instruction, np.uint8).reshape(n, INSTRUCTION_LEN)
        part["labels"] = np.asarray(labels, np.float32)
        part["episode"] = np.full(n, ep_id, np.int64)
        self._parts.append(part)
        self._cat = None
        self.episodes.append({**info, "episode": ep_id, "frames": n})

    def extend(self, other: ChunkBuffer) -> None:
        if (other.cameras, other.image_size, other.chunk_len) != (self.cameras, self.image_size, self.chunk_len):
            raise ValueError("cannot merge buffers with different cameras / image size / chunk length")
        off = len(self.episodes)
        for part in other._parts:
            p = dict(part)
            p["episode"] = part["episode"] + off
            self._parts.append(p)
        self.episodes += [{**e, "episode": e["episode"] + off} for e in other.episodes]
        self._cat = None

    # -- reading -------------------------------------------------------------------------------
    @property
    def data(self) -> dict[str, np.ndarray]:
        if self._cat is None:
            keys = [f"img.{c}" for c in self.cameras] + ["state", "instruction", "labels", "episode"]
            if not self._parts:
                s = self.image_size
                empty = {f"img.{c}": np.zeros((0, s, s, 3), np.uint8) for c in self.cameras}
                empty.update(state=np.zeros((0, STATE_DIM), np.float32), instruction=np.zeros((0, INSTRUCTION_LEN), np.uint8),
                             labels=np.zeros((0, self.chunk_len, ACTION_DIM), np.float32), episode=np.zeros(0, np.int64))
                self._cat = empty
            else:
                self._cat = {k: np.concatenate([p[k] for p in self._parts]) for k in keys}
                self._parts = [dict(self._cat)]  # keep one copy, not parts + concatenation
        return self._cat

    def __len__(self) -> int:
        return sum(len(p["state"]) for p in self._parts)

    @property
    def labels(self) -> np.ndarray:
        return self.data["labels"]

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None, shift_pad: int = 0) -> Batch:
        d = self.data
        idx = np.asarray(idx, np.int64)
        images = {}
        for c in self.cameras:
            im = d[f"img.{c}"][idx]
            images[c] = random_shift(im, shift_pad, rng) if (rng is not None and shift_pad > 0) else im
        return Batch(images=images, state=d["state"][idx], instruction=d["instruction"][idx], actions=d["labels"][idx])

    def stats(self) -> NormStats:
        """Normalisation statistics from the labels (state, absolute action, action - state)."""
        d = self.data
        if len(d["state"]) == 0:
            raise ValueError("cannot compute normalisation statistics of an empty buffer")
        state = d["state"].astype(np.float64)
        labels = d["labels"].astype(np.float64)
        delta = (labels - state[:, None, :]).reshape(-1, ACTION_DIM)
        flat = labels.reshape(-1, ACTION_DIM)

        def std(x: np.ndarray) -> np.ndarray:
            return np.maximum(x.std(0), MIN_STD).astype(np.float32)

        return NormStats(state.mean(0).astype(np.float32), std(state), flat.mean(0).astype(np.float32), std(flat),
                         delta.mean(0).astype(np.float32), std(delta))

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        meta = {"cameras": self.cameras, "image_size": self.image_size, "chunk_len": self.chunk_len, "episodes": self.episodes}
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta, ensure_ascii=False)), **self.data)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> ChunkBuffer:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"DAgger buffer file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                buf = cls(meta["cameras"], meta["image_size"], meta["chunk_len"])
                part = {k: z[k] for k in z.files if k != "meta"}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: not a readable DAgger buffer file (corrupt or truncated?): {e}") from e
        if len(part.get("state", ())) or meta["episodes"]:
            buf._parts = [part]
        buf.episodes = list(meta["episodes"])
        return buf


def buffer_from_lerobot(root: str | Path, cameras: list[str], chunk_len: int, image_size: int,
                        exclude_templates: list[str] | None = None) -> ChunkBuffer:
    """Seed a buffer from a recorded LeRobot v3 dataset (``--dataset-init``): labels are the
    recorded next ``chunk_len`` actions, exactly what ``jafm-robot train`` would learn.

    Episodes whose instruction is a filling of one of ``exclude_templates`` (the held-out phrasings)
    are dropped, so a held-out phrasing cannot leak into training through the seed data.
    """
    from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset
    from jafm_robot.distill.phrasings import matches_any

    ds = LeRobotV3Dataset(root)
    missing = [c for c in cameras if c not in ds.cameras]
    if missing:
        raise ValueError(f"--dataset-init {root}: no camera(s) {missing} (has {ds.cameras})")
    if ds.image_size != image_size:
        raise ValueError(f"--dataset-init {root}: images are {ds.image_size}px, the student uses {image_size}px")
    images = {c: ds.images(c) for c in cameras}
    cidx = chunk_indices(ds.episode_index, chunk_len)
    buf = ChunkBuffer(cameras, image_size, chunk_len)
    for ep in range(ds.num_episodes):
        a, b = ds.episode_bounds(ep)
        text = ds.task_text(a)
        if exclude_templates and matches_any(text, exclude_templates):
            continue
        row = ds.episodes[ep]
        instr = np.repeat(encode_instruction(text)[None], b - a, 0)
        buf.add_episode({c: images[c][a:b] for c in cameras}, ds.state[a:b], instr, ds.action[cidx[a:b]],
                        {"iteration": -1, "task": row.get("env_task") or "", "language": row.get("language") or "en",
                         "seed": int(row.get("seed", -1)), "instruction": text, "template_index": None,
                         "driver": "dataset", "success": bool(row.get("success", True)), "source": str(root)})
    return buf


__all__ = ["Batch", "ChunkBuffer", "buffer_from_lerobot"]
