"""LeRobotDataset v3.0 on disk: a crash-safe episode-by-episode writer and a reader for training.

Layout (what LeRobot's own tools read)::

    meta/info.json                                   schema, fps, path templates, totals
    meta/stats.json                                  per-feature min/max/mean/std/count
    meta/tasks.parquet                               task text (index) -> task_index
    meta/episodes/chunk-000/file-000.parquet         one row per episode: length, tasks, offsets, stats
    data/chunk-000/file-000.parquet                  one row per frame: state, action, indices
    videos/observation.images.<cam>/chunk-000/file-NNN.mp4

Crash safety: an episode is *committed* when ``meta/info.json`` (written last, atomically) counts
it. Everything else is written before it, each file atomically (temp file + ``os.replace``), so a
recording killed at any point leaves the committed episodes intact; the next writer opening the
folder drops whatever the killed one wrote beyond them (rows past ``total_frames``, episode rows past
``total_episodes``, orphan videos) and appends after them. Parquet files cannot be appended in place,
so the current data/episodes file is rewritten per episode, and a new file is started once it passes
``data_files_size_in_mb`` (the v3 convention). Each episode's camera stream is its own MP4 file
(``file_index`` = the episode's video file, ``from_timestamp`` = 0): MP4 cannot be appended without
re-encoding, and re-encoding a growing file per episode would make recording quadratic; v3 readers
locate frames through the episodes table, so this is a valid v3 dataset.

The instruction of an episode is its LeRobot *task* (the text in ``tasks.parquet``, per frame via
``task_index``); the episodes table also carries ``language``, ``env_task``, ``seed`` and ``success``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.video import (
    DEFAULT_CODEC,
    DEFAULT_CRF,
    PIX_FMT,
    VideoError,
    decode_video,
    write_video,
)

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_MB = 100
VIDEO_FILES_SIZE_MB = 500
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
CAMERAS = ("image", "wrist_image")


class DatasetError(ValueError):
    """The dataset folder is missing a file, or a file is corrupt/truncated/inconsistent (named in the message)."""


def video_key(camera: str) -> str:
    return f"observation.images.{camera}"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, (json.dumps(obj, indent=4, ensure_ascii=False) + "\n").encode())


def _atomic_write_parquet(path: Path, table) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _read_parquet(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DatasetError(f"dataset file {path} is missing")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise DatasetError(f"dataset file {path} is corrupt or truncated: {e}") from e


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(f"dataset file {path} is missing (not a LeRobot v3.0 dataset?)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"dataset file {path} is not valid JSON: {e}") from e


def build_features(image_size: int, cameras: Sequence[str], joint_names: Sequence[str], fps: int) -> dict:
    """The ``features`` block of info.json (LeRobot's dtype/shape/names per column)."""
    names8 = [*joint_names, "gripper_width"]
    feats: dict[str, Any] = {}
    for cam in cameras:
        feats[video_key(cam)] = {
            "dtype": "video",
            "shape": [image_size, image_size, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": image_size,
                "video.width": image_size,
                "video.codec": "h264" if DEFAULT_CODEC == "libx264" else DEFAULT_CODEC,
                "video.pix_fmt": PIX_FMT,
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": 3,
                "has_audio": False,
            },
        }
    feats["observation.state"] = {"dtype": "float32", "shape": [len(names8)], "names": names8}
    feats["action"] = {"dtype": "float32", "shape": [len(names8)], "names": names8}
    for k, dt in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                  ("index", "int64"), ("task_index", "int64")):
        feats[k] = {"dtype": dt, "shape": [1], "names": None}
    return feats


def _vec_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    return {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0), "count": np.array([len(x)])}


def _image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel stats in [0,1], shaped [3,1,1] as LeRobot stores image stats."""
    sub = frames[:: max(1, len(frames) // 20)].astype(np.float64) / 255.0  # a sample is enough for stats
    flat = sub.reshape(-1, 3)
    out = {k: v.reshape(3, 1, 1) for k, v in _vec_stats(flat).items() if k != "count"}
    out["count"] = np.array([len(frames)])
    return out


def aggregate_stats(per_episode: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Combine per-episode stats exactly (count-weighted mean, pooled variance), as LeRobot does."""
    out: dict[str, dict[str, np.ndarray]] = {}
    if not per_episode:
        return out
    for key in per_episode[0]:
        parts = [s[key] for s in per_episode if key in s]
        counts = np.array([float(p["count"].reshape(-1)[0]) for p in parts])
        w = counts / counts.sum()
        means = np.stack([p["mean"] for p in parts])
        stds = np.stack([p["std"] for p in parts])
        wshape = (-1,) + (1,) * (means.ndim - 1)
        mean = (means * w.reshape(wshape)).sum(0)
        var = ((stds**2 + means**2) * w.reshape(wshape)).sum(0) - mean**2
        out[key] = {
            "min": np.min(np.stack([p["min"] for p in parts]), 0),
            "max": np.max(np.stack([p["max"] for p in parts]), 0),
            "mean": mean,
            "std": np.sqrt(np.maximum(var, 0.0)),
            "count": np.array([int(counts.sum())]),
        }
    return out


def _stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    return {k: {m: np.asarray(v).tolist() for m, v in d.items()} for k, d in stats.items()}


@dataclass
class Episode:
    """One finished episode, ready to be written."""

    images: dict[str, np.ndarray]  # camera -> uint8 [T,H,W,3]
    state: np.ndarray  # float32 [T,8]
    action: np.ndarray  # float32 [T,8]
    task: str  # the instruction text (LeRobot "task")
    language: str = "en"
    env_task: str = ""
    seed: int = -1
    success: bool = False
    #: [from, to) action indices a trainer must not imitate (the deliberate miss or turned grasp of
    #: a recovery demonstration, ``Expert.unimitated``); None = imitate all of them
    skip_actions: tuple[int, int] | None = None


def scene_label(scene: dict[str, Any]) -> str:
    """``'factory' (sha256 0123456789ab)``: how errors name the scene a dataset was recorded in."""
    return f"{scene.get('name')!r} (sha256 {str(scene.get('sha256'))[:12]})"


class LeRobotV3Writer:
    """Appends episodes to a v3.0 dataset folder, committing each one before starting the next.

    Opening an existing folder checks that it was recorded with the same fps, image size and cameras
    (appending other data would make a dataset no reader can use) and rolls back anything a killed
    writer left beyond the last committed episode.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        fps: int,
        image_size: int,
        cameras: Sequence[str] = CAMERAS,
        robot: str = "panda",
        joint_names: Sequence[str] = tuple(f"panda_joint{i}" for i in range(1, 8)),
        data_files_size_in_mb: float = DATA_FILES_SIZE_MB,
        crf: int = DEFAULT_CRF,
        scene: dict[str, str] | None = None,
        command: str | None = None,
    ) -> None:
        """``scene`` ({"name", "sha256"} of the scene file) is stored as ``info["jafm_scene"]``:
        frames from two different work cells (a moved camera, new textures) must not share a
        dataset, and training needs the camera poses the frames were rendered with. ``command``
        (the recording's command line) is appended to ``info["jafm_record_commands"]``, so a model
        card can name every command behind its data."""
        self.root = Path(root)
        self.crf = crf
        bad = [c for c in cameras if c not in CAMERAS]
        if bad or not cameras:
            raise ValueError(f"unknown cameras {bad or list(cameras)}; choose from {', '.join(CAMERAS)}")
        features = build_features(image_size, cameras, joint_names, fps)
        info_path = self.root / "meta" / "info.json"
        if info_path.is_file():
            self.info = _read_json(info_path)
            if self.info.get("codebase_version") != CODEBASE_VERSION:
                raise DatasetError(f"{info_path}: codebase_version {self.info.get('codebase_version')!r}, can only append to {CODEBASE_VERSION}")
            if self.info["fps"] != fps or self.info["features"] != json.loads(json.dumps(features)):
                raise DatasetError(
                    f"{info_path}: cannot append: the dataset was recorded with fps={self.info['fps']}, "
                    f"features {sorted(self.info['features'])} (image size/cameras/joints differ from this recording)"
                )
            old_scene = self.info.get("jafm_scene")
            if scene is not None and old_scene is not None and old_scene != scene:
                raise DatasetError(
                    f"{info_path}: cannot append: the dataset was recorded in scene {scene_label(old_scene)}, "
                    f"this recording is {scene_label(scene)}; record into a new folder"
                )
            self._recover()
        else:
            self.info = {
                "codebase_version": CODEBASE_VERSION,
                "robot_type": robot,
                "total_episodes": 0,
                "total_frames": 0,
                "total_tasks": 0,
                "chunks_size": CHUNKS_SIZE,
                "data_files_size_in_mb": data_files_size_in_mb,
                "video_files_size_in_mb": VIDEO_FILES_SIZE_MB,
                "fps": int(fps),
                "splits": {},
                "data_path": DATA_PATH,
                "video_path": VIDEO_PATH,
                "features": features,
            }
            if scene is not None:
                self.info["jafm_scene"] = dict(scene)
            self._episodes_rows: list[dict] = []
            self._tasks: list[str] = []
            self._data_rows_in_file = 0
            self._data_file = (0, 0)
        if command:
            self.info.setdefault("jafm_record_commands", []).append(command)
        self.cameras = [k.split(".")[-1] for k, f in self.info["features"].items() if f["dtype"] == "video"]
        self.image_size = int(self.info["features"][video_key(self.cameras[0])]["shape"][0])
        self.fps = int(self.info["fps"])

    # ---- recovery -------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Load committed state; drop rows/files beyond ``total_episodes``/``total_frames``."""
        n_ep, n_fr = int(self.info["total_episodes"]), int(self.info["total_frames"])
        ep_table = _read_all_parquet(self.root / "meta" / "episodes") if n_ep else None
        rows = ep_table.to_pylist() if ep_table is not None else []
        rows = [r for r in rows if r["episode_index"] < n_ep]
        if len(rows) != n_ep:
            raise DatasetError(f"{self.root / 'meta' / 'episodes'}: holds {len(rows)} episodes, info.json says {n_ep}")
        self._episodes_rows = sorted(rows, key=lambda r: r["episode_index"])
        for r in self._episodes_rows:  # a dataset recorded before these columns existed skips nothing
            r.setdefault("skip_actions_from", -1)
            r.setdefault("skip_actions_to", -1)
        self._tasks = _read_tasks(self.root / "meta" / "tasks.parquet") if n_ep else []
        self._tasks = self._tasks[: int(self.info["total_tasks"])]
        if self._episodes_rows:
            last = self._episodes_rows[-1]
            self._data_file = (int(last["data/chunk_index"]), int(last["data/file_index"]))
            path = self.root / DATA_PATH.format(chunk_index=self._data_file[0], file_index=self._data_file[1])
            table = _read_parquet(path)
            first = min(int(r["dataset_from_index"]) for r in self._episodes_rows
                        if (int(r["data/chunk_index"]), int(r["data/file_index"])) == self._data_file)
            keep = n_fr - first
            if table.num_rows < keep:
                raise DatasetError(f"dataset file {path} holds {table.num_rows} frames, the episodes table expects {keep}")
            if table.num_rows > keep:  # frames of an episode that was never committed
                _atomic_write_parquet(path, table.slice(0, keep))
            self._data_rows_in_file = keep
        else:
            self._data_file, self._data_rows_in_file = (0, 0), 0
        for tmp in self.root.rglob("*.tmp"):
            tmp.unlink()

    # ---- writing --------------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return int(self.info["total_episodes"])

    def add_episode(self, ep: Episode) -> int:
        """Write and commit one episode; returns its episode_index."""
        import pyarrow as pa

        n = len(ep.state)
        state = np.asarray(ep.state, dtype=np.float32)
        action = np.asarray(ep.action, dtype=np.float32)
        if n == 0 or state.shape != (n, 8) or action.shape != (n, 8):
            raise ValueError(f"episode needs state/action float32 [T,8] with T>0, got {state.shape} {action.shape}")
        if not (np.all(np.isfinite(state)) and np.all(np.isfinite(action))):
            raise ValueError("episode state/action hold NaN or inf; refusing to record them")
        for cam in self.cameras:
            im = ep.images.get(cam)
            if im is None or im.shape != (n, self.image_size, self.image_size, 3) or im.dtype != np.uint8:
                got = None if im is None else (im.dtype, im.shape)
                raise ValueError(f"episode camera {cam!r} must be uint8 [{n},{self.image_size},{self.image_size},3], got {got}")

        ep_idx = self.num_episodes
        start = int(self.info["total_frames"])
        if ep.task not in self._tasks:
            self._tasks.append(ep.task)
        task_index = self._tasks.index(ep.task)
        row: dict[str, Any] = {"episode_index": ep_idx, "tasks": [ep.task], "length": n}

        # 1. videos (one file per episode and camera, see module docstring)
        chunk, file = divmod(ep_idx, CHUNKS_SIZE)
        for cam in self.cameras:
            key = video_key(cam)
            write_video(self.root / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file),
                        ep.images[cam], self.fps, crf=self.crf)
            row[f"videos/{key}/chunk_index"] = chunk
            row[f"videos/{key}/file_index"] = file
            row[f"videos/{key}/from_timestamp"] = 0.0
            row[f"videos/{key}/to_timestamp"] = n / self.fps

        # 2. frames
        data_chunk, data_file = self._data_file
        path = self.root / DATA_PATH.format(chunk_index=data_chunk, file_index=data_file)
        if path.is_file() and path.stat().st_size > self.info["data_files_size_in_mb"] * 1e6:
            data_file += 1
            if data_file >= CHUNKS_SIZE:
                data_chunk, data_file = data_chunk + 1, 0
            self._data_file, self._data_rows_in_file = (data_chunk, data_file), 0
            path = self.root / DATA_PATH.format(chunk_index=data_chunk, file_index=data_file)
        frames = pa.table({
            "observation.state": pa.array(list(state), type=pa.list_(pa.float32(), 8)),
            "action": pa.array(list(action), type=pa.list_(pa.float32(), 8)),
            "timestamp": pa.array(np.arange(n, dtype=np.float32) / self.fps, type=pa.float32()),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "episode_index": pa.array(np.full(n, ep_idx, dtype=np.int64)),
            "index": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "task_index": pa.array(np.full(n, task_index, dtype=np.int64)),
        })
        if self._data_rows_in_file:
            old = _read_parquet(path).slice(0, self._data_rows_in_file)
            frames = pa.concat_tables([old, frames])
        _atomic_write_parquet(path, frames)
        row.update({"data/chunk_index": data_chunk, "data/file_index": data_file,
                    "dataset_from_index": start, "dataset_to_index": start + n})

        # 3. per-episode stats + extras, episodes table
        ep_stats = {"observation.state": _vec_stats(state), "action": _vec_stats(action)}
        for cam in self.cameras:
            ep_stats[video_key(cam)] = _image_stats(ep.images[cam])
        for key, st in ep_stats.items():
            for m, v in st.items():
                row[f"stats/{key}/{m}"] = np.asarray(v).reshape(-1).tolist()
        skip = (-1, -1) if ep.skip_actions is None else tuple(int(v) for v in ep.skip_actions)
        if ep.skip_actions is not None and not 0 <= skip[0] <= skip[1] <= n:
            raise ValueError(f"episode skip_actions {ep.skip_actions} must lie within its {n} actions")
        row.update({"language": ep.language, "env_task": ep.env_task, "seed": int(ep.seed), "success": bool(ep.success),
                    "skip_actions_from": skip[0], "skip_actions_to": skip[1],
                    "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
        rows = [*self._episodes_rows, row]
        _atomic_write_parquet(self.root / EPISODES_PATH.format(chunk_index=0, file_index=0), pa.Table.from_pylist(rows))

        # 4. tasks, stats
        _write_tasks(self.root / "meta" / "tasks.parquet", self._tasks)
        all_stats = aggregate_stats([_row_stats(r) for r in rows])
        _atomic_write_json(self.root / "meta" / "stats.json", _stats_to_json(all_stats))

        # 5. commit
        info = dict(self.info)
        info.update(total_episodes=ep_idx + 1, total_frames=start + n, total_tasks=len(self._tasks),
                    splits={"train": f"0:{ep_idx + 1}"})
        _atomic_write_json(self.root / "meta" / "info.json", info)
        self.info = info
        self._episodes_rows = rows
        self._data_rows_in_file += n
        return ep_idx


def _row_stats(row: dict) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for k, v in row.items():
        if k.startswith("stats/"):
            key, m = k[len("stats/"):].rsplit("/", 1)
            arr = np.asarray(v, dtype=np.float64)
            if key.startswith("observation.images.") and m != "count":
                arr = arr.reshape(3, 1, 1)
            out.setdefault(key, {})[m] = arr
    return out


def _write_tasks(path: Path, tasks: list[str]) -> None:
    """tasks.parquet as LeRobot writes it: a pandas frame indexed by the task text, column task_index."""
    import pandas as pd
    import pyarrow as pa

    df = pd.DataFrame({"task_index": np.arange(len(tasks), dtype=np.int64)}, index=pd.Index(tasks, name="task"))
    _atomic_write_parquet(path, pa.Table.from_pandas(df))


def _read_tasks(path: Path) -> list[str]:
    table = _read_parquet(path)
    cols = table.column_names
    name = "task" if "task" in cols else ("__index_level_0__" if "__index_level_0__" in cols else None)
    if name is None or "task_index" not in cols:
        raise DatasetError(f"dataset file {path} lacks the task/task_index columns")
    pairs = sorted(zip(table.column("task_index").to_pylist(), table.column(name).to_pylist(), strict=True))
    return [t for _, t in pairs]


def _read_all_parquet(folder: Path):
    import pyarrow as pa

    files = sorted(folder.glob("chunk-*/file-*.parquet"))
    if not files:
        raise DatasetError(f"dataset folder {folder} holds no parquet files")
    return pa.concat_tables([_read_parquet(f) for f in files], promote_options="default")


class FrameTable:
    """What readers of frames share (one dataset or several): frame arrays + episode rows."""

    state: np.ndarray
    task_index: np.ndarray
    tasks: list[str]
    episodes: list[dict[str, Any]]

    image_size: int
    # where decoded camera frames go: None = process memory, else a folder of .npy files (see
    # frames_array)
    frames_cache: Path | None = None

    def __len__(self) -> int:
        return len(self.state)

    def frames_array(self, camera: str) -> np.ndarray:
        """An empty uint8 [frames,H,W,3] array for ``camera``'s decoded frames.

        With ``frames_cache`` set it is a memory-mapped ``<camera>.npy`` file there, rewritten on
        every decode and read back through the OS page cache: the kernel drops clean pages under
        pressure, so a dataset whose frames outgrow RAM still trains (slower where pages are read
        again) instead of the process being killed."""
        shape = (len(self), self.image_size, self.image_size, 3)
        if self.frames_cache is None:
            return np.empty(shape, dtype=np.uint8)
        folder = Path(self.frames_cache)
        folder.mkdir(parents=True, exist_ok=True)
        return np.lib.format.open_memmap(folder / f"{camera}.npy", mode="w+", dtype=np.uint8, shape=shape)

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    def languages(self) -> list[str]:
        return sorted({r.get("language") or "en" for r in self.episodes})

    def env_tasks(self) -> list[str]:
        return sorted({r.get("env_task") for r in self.episodes if r.get("env_task")})

    def task_text(self, frame: int) -> str:
        return self.tasks[int(self.task_index[frame])]

    def record_commands(self) -> list[str]:
        """The `jafm-robot record` command lines behind these frames (info.json of every folder)."""
        return [c for d in getattr(self, "parts", [self]) for c in d.info.get("jafm_record_commands", [])]


class LeRobotV3Dataset(FrameTable):
    """Read a v3.0 folder: frame arrays in memory, camera frames decoded on demand (then cached).

    Only committed episodes (counted in info.json) are exposed, so a folder a killed recorder left
    behind reads exactly like the folder before the interrupted episode.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist")
        self.info = _read_json(self.root / "meta" / "info.json")
        for k in ("codebase_version", "fps", "features", "total_episodes", "total_frames"):
            if k not in self.info:
                raise DatasetError(f"dataset file {self.root / 'meta/info.json'} lacks {k!r}")
        if self.info["codebase_version"] != CODEBASE_VERSION:
            raise DatasetError(f"{self.root / 'meta/info.json'}: codebase_version {self.info['codebase_version']!r}, expected {CODEBASE_VERSION}")
        self.fps = int(self.info["fps"])
        n_ep, n_fr = int(self.info["total_episodes"]), int(self.info["total_frames"])
        if n_ep == 0:
            raise DatasetError(f"dataset {self.root} holds no episodes")
        self.cameras = [k.split(".")[-1] for k, f in self.info["features"].items() if f["dtype"] == "video"]
        self.image_size = int(self.info["features"][video_key(self.cameras[0])]["shape"][0]) if self.cameras else 0
        self.tasks = _read_tasks(self.root / "meta" / "tasks.parquet")
        rows = _read_all_parquet(self.root / "meta" / "episodes").to_pylist()
        self.episodes = sorted((r for r in rows if r["episode_index"] < n_ep), key=lambda r: r["episode_index"])
        if len(self.episodes) != n_ep:
            raise DatasetError(f"{self.root / 'meta/episodes'}: holds {len(self.episodes)} episodes, info.json says {n_ep}")
        self.stats = _read_json(self.root / "meta" / "stats.json")

        import pyarrow as pa

        files = sorted({(int(r["data/chunk_index"]), int(r["data/file_index"])) for r in self.episodes})
        tables = []
        for c, f in files:
            path = self.root / DATA_PATH.format(chunk_index=c, file_index=f)
            t = _read_parquet(path)
            need = {"observation.state", "action", "episode_index", "frame_index", "index", "task_index"}
            if need - set(t.column_names):
                raise DatasetError(f"dataset file {path} lacks columns {sorted(need - set(t.column_names))}")
            tables.append(t.select(sorted(need)))
        table = pa.concat_tables(tables)
        index = table.column("index").to_numpy()
        keep = index < n_fr
        if int(keep.sum()) != n_fr:
            raise DatasetError(f"data files under {self.root / 'data'} hold {int(keep.sum())} committed frames, info.json says {n_fr} (truncated?)")
        order = np.argsort(index[keep], kind="stable")

        def col(name: str, dtype) -> np.ndarray:
            arr = table.column(name).combine_chunks()
            if pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
                width = len(arr[0])
                arr = arr.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
            else:
                arr = arr.to_numpy()
            return np.asarray(arr[keep][order], dtype=dtype)

        self.state = col("observation.state", np.float32)
        self.action = col("action", np.float32)
        self.episode_index = col("episode_index", np.int64)
        self.frame_index = col("frame_index", np.int64)
        self.task_index = col("task_index", np.int64)
        if self.task_index.size and self.task_index.max() >= len(self.tasks):
            raise DatasetError(f"{self.root / 'meta/tasks.parquet'} holds {len(self.tasks)} tasks, frames refer to task {self.task_index.max()}")
        self._images: dict[str, np.ndarray] = {}

    def episode_bounds(self, ep: int) -> tuple[int, int]:
        r = self.episodes[ep]
        return int(r["dataset_from_index"]), int(r["dataset_to_index"])

    def episode_images(self, ep: int, camera: str) -> np.ndarray:
        """Decoded frames of one episode and camera, uint8 [T,H,W,3]; checks the count against the data."""
        if camera not in self.cameras:
            raise DatasetError(f"dataset {self.root} has no camera {camera!r} (has {self.cameras})")
        r = self.episodes[ep]
        key = video_key(camera)
        path = self.root / VIDEO_PATH.format(video_key=key, chunk_index=int(r[f"videos/{key}/chunk_index"]),
                                             file_index=int(r[f"videos/{key}/file_index"]))
        try:
            frames = decode_video(path, float(r[f"videos/{key}/from_timestamp"]), float(r[f"videos/{key}/to_timestamp"]), self.fps)
        except VideoError as e:
            raise DatasetError(str(e)) from e
        n = int(r["length"])
        if len(frames) < n:
            raise DatasetError(f"video file {path} holds {len(frames)} frames of episode {ep}, the data has {n} (truncated video)")
        if frames.shape[1:] != (self.image_size, self.image_size, 3):
            raise DatasetError(f"video file {path} has frames {frames.shape[1:]}, info.json says {self.image_size}x{self.image_size}x3")
        return frames[:n]

    def images(self, camera: str, progress: bool = False) -> np.ndarray:
        """All frames of ``camera`` in dataset order (decoded once, then kept: in memory, or in
        ``frames_cache``)."""
        if camera not in self._images:
            out = self.frames_array(camera)
            it = range(self.num_episodes)
            if progress:
                from jafm_robot.reporting import progress as bar

                it = bar(it, desc=f"decode {camera}")
            for ep in it:
                a, b = self.episode_bounds(ep)
                out[a:b] = self.episode_images(ep, camera)
            self._images[camera] = out
        return self._images[camera]

    def stats_array(self, key: str, metric: str) -> np.ndarray:
        try:
            return np.asarray(self.stats[key][metric], dtype=np.float32)
        except KeyError as e:
            raise DatasetError(f"{self.root / 'meta/stats.json'} lacks {key}/{metric}") from e
