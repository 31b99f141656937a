"""Several recorded datasets read as one (``jafm-robot train --dataset A,B,C``).

Recording is one process per dataset (PyBullet and the expert are single-threaded), so on a
machine with many cores the quickest way to a large dataset is N recorders writing N folders with
disjoint seeds. Training then reads them together: frames concatenated, episode indices offset,
instruction tables merged. Folders must agree on what a frame is (fps, image size, cameras), or the
combination is refused. They may come from different scenes (a multi-task student learns
ConveyorPick in the conveyor cell beside PickPlace on the table): ``scenes`` lists each folder's,
``info["jafm_scene"]`` holds the scene only when every folder shares it, and what re-creates the
recorded cameras (keypoint and pick/place targets) does so folder by folder (:func:`scene_segments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.datasets.lerobot_v3 import DatasetError, FrameTable, LeRobotV3Dataset, scene_label


class ConcatDataset(FrameTable):
    """The subset of :class:`LeRobotV3Dataset` that training reads, over several folders."""

    def __init__(self, roots: list[str | Path]) -> None:
        if len(roots) < 2:
            raise ValueError("ConcatDataset needs at least two dataset folders")
        self.parts = [LeRobotV3Dataset(r) for r in roots]
        first = self.parts[0]
        for d in self.parts[1:]:
            for what, a, b in (("fps", first.fps, d.fps), ("image size", first.image_size, d.image_size),
                               ("cameras", first.cameras, d.cameras)):
                if a != b:
                    raise DatasetError(f"cannot train on {first.root} and {d.root} together: {what} {a} vs {b}")
        self.root = Path(", ".join(str(d.root) for d in self.parts))
        self.info: dict[str, Any] = dict(first.info)
        #: each folder's scene ({"name", "sha256"} or None), in folder order
        self.scenes: list[dict[str, Any] | None] = [d.info.get("jafm_scene") for d in self.parts]
        known = {scene_label(s): s for s in self.scenes if s}
        self.info["jafm_scene"] = next(iter(known.values())) if len(known) == 1 else None
        if len(known) > 1:
            self.info["jafm_scenes"] = sorted(known)
        self.fps, self.image_size, self.cameras = first.fps, first.image_size, list(first.cameras)
        self.tasks: list[str] = sorted({t for d in self.parts for t in d.tasks})
        lookup = {t: i for i, t in enumerate(self.tasks)}
        ep_off, states, actions, eps, tasks = 0, [], [], [], []
        self.episodes: list[dict[str, Any]] = []
        for d in self.parts:
            states.append(d.state)
            actions.append(d.action)
            eps.append(d.episode_index + ep_off)
            remap = np.array([lookup[t] for t in d.tasks], dtype=np.int64)
            tasks.append(remap[d.task_index])
            self.episodes += d.episodes
            ep_off += d.num_episodes
        self.state, self.action = np.concatenate(states), np.concatenate(actions)
        self.episode_index, self.task_index = np.concatenate(eps), np.concatenate(tasks)
        self.info["total_episodes"], self.info["total_frames"] = ep_off, len(self.state)
        self._images: dict[str, np.ndarray] = {}

    def images(self, camera: str, progress: bool = False) -> np.ndarray:
        if camera not in self._images:
            # one preallocated array (or frames_cache file) filled part by part, each part's copy
            # dropped once copied: the peak is the result plus one part (np.concatenate of every
            # decoded part held the images twice, which ran 2,700 PickPlace episodes out of 24 GiB).
            # The constructor has checked that every part has this image size and camera.
            out = self.frames_array(camera)
            a = 0
            for d in self.parts:
                b = a + len(d)
                out[a:b] = d.images(camera, progress)
                d._images.pop(camera, None)
                a = b
            self._images[camera] = out
        return self._images[camera]


@dataclass(frozen=True)
class SceneSegment:
    """One recorded folder's rows in a (possibly concatenated) dataset, and the scene it was
    recorded in: what re-creates the recorded cameras (replayed resets, keypoint projections)
    has to use each folder's own scene."""

    frames: slice
    episodes: slice
    scene: str


def scene_segments(ds: LeRobotV3Dataset | ConcatDataset, override: str | None = None) -> list[SceneSegment]:
    """The dataset's folders with their scenes. ``override`` (``train --scene``) names the scene
    of a dataset that does not record one, and must agree with one that does; a folder that
    records none is taken as ``factory``."""
    if isinstance(ds, ConcatDataset):
        frames = np.cumsum([0] + [len(d) for d in ds.parts])
        episodes = np.cumsum([0] + [d.num_episodes for d in ds.parts])
        spans = [(slice(int(f0), int(f1)), slice(int(e0), int(e1)))
                 for (f0, f1), (e0, e1) in zip(pairwise(frames), pairwise(episodes), strict=True)]
        recorded = ds.scenes
    else:
        spans, recorded = [(slice(0, len(ds.state)), slice(0, len(ds.episodes)))], [ds.info.get("jafm_scene")]
    out = []
    for (frames, episodes), rec in zip(spans, recorded, strict=True):
        name = (rec or {}).get("name")
        if override and name and override != name:
            raise ValueError(f"--scene {override!r}, but {ds.root} holds episodes recorded in scene {name!r}")
        out.append(SceneSegment(frames, episodes, name or override or "factory"))
    return out


def open_dataset(spec: str | Path) -> LeRobotV3Dataset | ConcatDataset:
    """One folder, or several separated by commas."""
    roots = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not roots:
        raise ValueError("no dataset folder given")
    return LeRobotV3Dataset(roots[0]) if len(roots) == 1 else ConcatDataset(roots)
