"""LeRobot v3.0 writer/reader: layout and schema, video fidelity, append, crash safety, corruption."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from jafm_robot.datasets.lerobot_v3 import DatasetError, LeRobotV3Dataset, LeRobotV3Writer
from jafm_robot.video import write_video

from .conftest import IMG, synthetic_episode, write_synthetic


def test_layout_and_schema(synthetic_dataset):
    root = synthetic_dataset
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["fps"] == 10
    assert info["total_episodes"] == 3 and info["total_frames"] == 12 + 13 + 14
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert info["chunks_size"] == 1000
    f = info["features"]
    for cam in ("image", "wrist_image"):
        v = f[f"observation.images.{cam}"]
        assert v["dtype"] == "video" and v["shape"] == [IMG, IMG, 3] and v["names"] == ["height", "width", "channels"]
        assert v["info"]["video.fps"] == 10
        assert (root / f"videos/observation.images.{cam}/chunk-000/file-000.mp4").is_file()
    assert f["observation.state"]["dtype"] == "float32" and f["observation.state"]["shape"] == [8]
    assert f["action"]["names"][-1] == "gripper_width" and len(f["action"]["names"]) == 8
    for k in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert k in f

    data = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pandas()
    assert list(data["index"]) == list(range(39))
    assert list(data["frame_index"][:12]) == list(range(12))
    assert data["timestamp"].iloc[1] == pytest.approx(0.1)
    assert len(data["observation.state"].iloc[0]) == 8

    eps = pd.read_parquet(root / "meta/episodes/chunk-000/file-000.parquet")
    for col in ("episode_index", "tasks", "length", "data/chunk_index", "data/file_index", "dataset_from_index",
                "dataset_to_index", "videos/observation.images.image/from_timestamp", "meta/episodes/chunk_index",
                "stats/action/mean", "language"):
        assert col in eps.columns, col
    assert list(eps["dataset_to_index"]) == [12, 25, 39]
    assert list(eps["language"]) == ["en", "ja", "en"]

    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.index.name == "task" and list(tasks["task_index"]) == [0, 1]
    assert "赤いキューブを箱に入れて" in tasks.index

    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.asarray(stats["observation.images.image"]["mean"]).shape == (3, 1, 1)
    assert stats["action"]["count"] == [39]
    ds = LeRobotV3Dataset(root)
    np.testing.assert_allclose(stats["observation.state"]["mean"], ds.state.mean(0), atol=1e-5)
    np.testing.assert_allclose(stats["observation.state"]["std"], ds.state.std(0), atol=1e-5)


def test_decoded_frames_match_recorded(synthetic_dataset):
    ds = LeRobotV3Dataset(synthetic_dataset)
    for ep in range(ds.num_episodes):
        want = synthetic_episode(ep, 12 + ep, "en" if ep % 2 == 0 else "ja")
        for cam in ("image", "wrist_image"):
            got = ds.episode_images(ep, cam)
            assert got.shape == want.images[cam].shape
            err = np.abs(got.astype(int) - want.images[cam].astype(int))
            assert err.mean() < 3.0, (ep, cam, err.mean())
        np.testing.assert_array_equal(ds.state[slice(*ds.episode_bounds(ep))], want.state)
    assert ds.task_text(0) == "pick up the red cube and put it in the bin"
    assert ds.task_text(13) == "赤いキューブを箱に入れて"


def test_append_continues_indices(tmp_path):
    root = tmp_path / "ds"
    write_synthetic(root, 2)
    w = LeRobotV3Writer(root, fps=10, image_size=IMG)
    assert w.num_episodes == 2
    assert w.add_episode(synthetic_episode(7, 9, "ja")) == 2
    ds = LeRobotV3Dataset(root)
    assert ds.num_episodes == 3 and len(ds) == 12 + 13 + 9
    assert ds.episode_bounds(2) == (25, 34)
    assert set(ds.episode_index[25:]) == {2}
    assert (root / "videos/observation.images.image/chunk-000/file-002.mp4").is_file()
    with pytest.raises(DatasetError, match="cannot append"):
        LeRobotV3Writer(root, fps=10, image_size=32)


def test_scene_provenance_is_kept_and_mixing_scenes_refused(tmp_path):
    root = tmp_path / "ds"
    a = {"name": "factory", "sha256": "a" * 64}
    w = LeRobotV3Writer(root, fps=10, image_size=IMG, scene=a)
    w.add_episode(synthetic_episode(0, 9))
    assert LeRobotV3Dataset(root).info["jafm_scene"] == a
    LeRobotV3Writer(root, fps=10, image_size=IMG, scene=a).add_episode(synthetic_episode(1, 9))  # same scene: appends
    with pytest.raises(DatasetError, match=r"recorded in scene 'factory'.*record into a new folder"):
        LeRobotV3Writer(root, fps=10, image_size=IMG, scene={"name": "factory", "sha256": "b" * 64})
    assert LeRobotV3Dataset(root).num_episodes == 2


def test_killed_recording_loses_only_the_episode_in_progress(tmp_path):
    root = tmp_path / "ds"
    write_synthetic(root, 2)
    committed_info = (root / "meta/info.json").read_bytes()
    # The third episode gets as far as its data, videos, episodes row and stats ... and the process
    # dies before the commit (info.json). Reproduce exactly that on-disk state:
    LeRobotV3Writer(root, fps=10, image_size=IMG).add_episode(synthetic_episode(2, 14))
    (root / "meta/info.json").write_bytes(committed_info)
    (root / "data/chunk-000/file-000.parquet.tmp").write_bytes(b"half a file")
    assert pq.read_table(root / "data/chunk-000/file-000.parquet").num_rows == 39  # the orphan rows are there

    ds = LeRobotV3Dataset(root)  # readers see the committed episodes only
    assert ds.num_episodes == 2 and len(ds) == 25
    w = LeRobotV3Writer(root, fps=10, image_size=IMG)  # the next recording rolls back and appends
    assert pq.read_table(root / "data/chunk-000/file-000.parquet").num_rows == 25
    assert not list(root.rglob("*.tmp"))
    w.add_episode(synthetic_episode(5, 10))
    ds = LeRobotV3Dataset(root)
    assert ds.num_episodes == 3 and len(ds) == 35
    assert list(ds.frame_index[25:]) == list(range(10))
    np.testing.assert_array_equal(ds.state[25:], synthetic_episode(5, 10).state)


def test_corrupt_datasets_give_clear_errors(tmp_path, synthetic_dataset):
    with pytest.raises(DatasetError, match="does not exist"):
        LeRobotV3Dataset(tmp_path / "nope")

    root = tmp_path / "a"
    shutil.copytree(synthetic_dataset, root)
    (root / "meta/info.json").unlink()
    with pytest.raises(DatasetError, match=r"info\.json is missing"):
        LeRobotV3Dataset(root)

    root = tmp_path / "b"
    shutil.copytree(synthetic_dataset, root)
    p = root / "data/chunk-000/file-000.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"data/chunk-000/file-000\.parquet is corrupt or truncated"):
        LeRobotV3Dataset(root)

    root = tmp_path / "c"
    shutil.copytree(synthetic_dataset, root)
    video = root / "videos/observation.images.wrist_image/chunk-000/file-001.mp4"
    write_video(video, synthetic_episode(1, 5).images["wrist_image"], fps=10)  # shorter than the data
    ds = LeRobotV3Dataset(root)
    with pytest.raises(DatasetError, match=r"wrist_image/chunk-000/file-001\.mp4 holds 5 frames .*\(truncated"):
        ds.images("wrist_image")

    root = tmp_path / "d"
    shutil.copytree(synthetic_dataset, root)
    (root / "videos/observation.images.image/chunk-000/file-000.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(DatasetError, match=r"image/chunk-000/file-000\.mp4"):
        LeRobotV3Dataset(root).episode_images(0, "image")

    root = tmp_path / "e"
    shutil.copytree(synthetic_dataset, root)
    (root / "meta/info.json").write_text("{ not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        LeRobotV3Dataset(root)


def test_bad_episodes_are_refused(tmp_path):
    w = LeRobotV3Writer(tmp_path / "ds", fps=10, image_size=IMG)
    ep = synthetic_episode(0, 5)
    ep.state[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        w.add_episode(ep)
    ep = synthetic_episode(0, 5)
    ep.images["image"] = ep.images["image"][:, :32]
    with pytest.raises(ValueError, match="camera 'image'"):
        w.add_episode(ep)
    assert w.num_episodes == 0 and not (tmp_path / "ds/meta/info.json").exists()


def test_several_datasets_train_as_one(tmp_path):
    from jafm_robot.datasets.concat import ConcatDataset, open_dataset
    from jafm_robot.training.data import ChunkSamples

    write_synthetic(tmp_path / "a", 2)
    write_synthetic(tmp_path / "b", 3, start_seed=10)
    a, b = LeRobotV3Dataset(tmp_path / "a"), LeRobotV3Dataset(tmp_path / "b")
    ds = open_dataset(f"{tmp_path / 'a'},{tmp_path / 'b'}")
    assert isinstance(ds, ConcatDataset) and isinstance(open_dataset(tmp_path / "a"), LeRobotV3Dataset)
    assert len(ds) == len(a) + len(b) and ds.num_episodes == 5 and ds.languages() == ["en", "ja"]
    assert list(np.unique(ds.episode_index)) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(ds.images("image")[:len(a)], a.images("image"))
    np.testing.assert_array_equal(ds.images("image")[len(a):], b.images("image"))
    for i in (0, len(a), len(ds) - 1):  # every frame keeps its own instruction
        src, j = (a, i) if i < len(a) else (b, i - len(a))
        assert ds.task_text(i) == src.task_text(j)
    s = ChunkSamples(ds, ["image"], 4)
    last = s.batch(np.array([len(a) - 1]))  # a chunk never runs into the next dataset's episode
    np.testing.assert_array_equal(last.actions[0], np.repeat(a.action[-1:], 4, 0))
    # decoded into a frames cache: the same frames, held in a memory-mapped file rather than in RAM
    cached = open_dataset(f"{tmp_path / 'a'},{tmp_path / 'b'}")
    cached.frames_cache = tmp_path / "cache"
    im = cached.images("wrist_image")
    assert isinstance(im, np.memmap) and (tmp_path / "cache/wrist_image.npy").is_file()
    np.testing.assert_array_equal(im, ds.images("wrist_image"))
    np.testing.assert_array_equal(np.load(tmp_path / "cache/wrist_image.npy", mmap_mode="r")[-1], b.images("wrist_image")[-1])
    write_synthetic(tmp_path / "c", 1)
    LeRobotV3Writer(tmp_path / "d", fps=5, image_size=IMG).add_episode(synthetic_episode(0, 9))
    with pytest.raises(DatasetError, match="fps 10 vs 5"):
        open_dataset(f"{tmp_path / 'c'},{tmp_path / 'd'}")


def test_skipped_actions_are_stored_and_left_out_of_the_action_loss(tmp_path):
    """An episode's ``skip_actions`` (a deliberate miss in a recovery demonstration) is kept in the
    episodes table, also when appended to a dataset recorded without the column, and masks every
    frame whose action chunk reaches into it, only in that episode and also across a
    ConcatDataset; layout frames appended to such a batch stay masked too."""
    from jafm_robot.datasets.concat import open_dataset
    from jafm_robot.training.data import Batch, ChunkSamples, append_layouts, imitation_mask

    write_synthetic(tmp_path / "a", 2)  # 12 + 13 frames, nothing skipped
    episodes = tmp_path / "a/meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(episodes)  # as recorded before the skip columns existed
    pq.write_table(table.drop_columns(["skip_actions_from", "skip_actions_to"]), episodes)
    assert all("skip_actions_from" not in r for r in LeRobotV3Dataset(tmp_path / "a").episodes)
    w = LeRobotV3Writer(tmp_path / "a", fps=10, image_size=IMG)
    ep = synthetic_episode(5, 15, "ja")
    ep.skip_actions = (6, 9)
    w.add_episode(ep)
    ds = LeRobotV3Dataset(tmp_path / "a")
    assert [(r["skip_actions_from"], r["skip_actions_to"]) for r in ds.episodes] == [(-1, -1), (-1, -1), (6, 9)]
    s = ChunkSamples(ds, ["image"], 4)
    mask = s.act_valid
    assert mask is not None and mask[:25].all()
    # chunks of frames 3..8 hold one of actions 6..8; frame 9's chunk starts after them
    np.testing.assert_array_equal(np.flatnonzero(mask == 0), 25 + np.arange(3, 9))
    np.testing.assert_array_equal(s.batch(np.array([0, 28, 34])).act_valid, [1, 0, 1])
    # in a concatenation the mask follows its episode
    write_synthetic(tmp_path / "b", 1, start_seed=20)
    cat = open_dataset(f"{tmp_path / 'b'},{tmp_path / 'a'}")
    np.testing.assert_array_equal(np.flatnonzero(imitation_mask(cat.episode_index, cat.episodes, 4) == 0), 12 + 25 + np.arange(3, 9))
    assert imitation_mask(LeRobotV3Dataset(tmp_path / "b").episode_index, LeRobotV3Dataset(tmp_path / "b").episodes, 4) is None

    from types import SimpleNamespace

    layouts = SimpleNamespace(state=np.zeros((2, 8), np.float32), images={"image": np.zeros((2, IMG, IMG, 3), np.uint8)},
                              instruction=np.zeros((2, 128), np.uint8), kp=np.zeros((2, 1, 2, 2), np.float32),
                              kp_valid=np.ones((2, 1, 2), np.float32))  # the LayoutSamples fields append_layouts reads
    b = s.batch(np.array([28, 34]))
    b = Batch(images=b.images, state=b.state, instruction=b.instruction, actions=b.actions, kp=np.zeros((2, 1, 2, 2), np.float32),
              kp_valid=np.ones((2, 1, 2), np.float32), act_valid=b.act_valid)
    np.testing.assert_array_equal(append_layouts(b, layouts, np.array([0, 1])).act_valid, [0, 1, 0, 0])
    bad = synthetic_episode(6, 10)
    bad.skip_actions = (4, 11)
    with pytest.raises(ValueError, match="skip_actions"):
        w.add_episode(bad)


def test_record_with_a_student_hands_over_to_the_expert_and_masks_the_students_actions(tmp_path):
    """``record --student``: the shipped policy drives each episode until the expert takes over
    (at a seeded step in MIN..MAX, or earlier where the policy starts to close the fingers); the
    expert finishes it, and the policy's actions are stored as skipped (left out of the action
    loss). A policy that cannot see the recording's frames, or a mix with a deliberate miss, is a
    clear error."""
    from jafm_robot.datasets.recording import record
    from jafm_robot.paths import models_dir
    from jafm_robot.training.data import imitation_mask

    student = models_dir() / "pick_place_v0.onnx"  # the PickPlace policy this check was measured with
    if not student.is_file():
        pytest.skip("no shipped policy models/pick_place_v0.onnx")
    res = record("PickPlace", 2, tmp_path / "d", ["en", "ja"], seed=23000, student=student, takeover_steps=(5, 40))
    assert res.written == 2 and len(res.takeover_steps) == 2
    ds = LeRobotV3Dataset(tmp_path / "d")
    assert [(r["skip_actions_from"], r["skip_actions_to"]) for r in ds.episodes] == [(0, t) for t in res.takeover_steps]
    assert all(5 <= t <= 40 for t in res.takeover_steps)
    first = ds.episode_index == 0
    t0 = res.takeover_steps[0]
    widths = ds.action[first][:, 7]
    assert (widths[:t0] >= 0.05).all()  # the policy never commanded a close before the takeover
    assert (widths[t0:] < 0.01).any()  # the expert closed on the part ...
    assert all(r["success"] for r in ds.episodes)  # ... and finished the task
    mask = imitation_mask(ds.episode_index, ds.episodes, 10)
    assert mask is not None and not mask[first][:t0].any() and mask[first][t0:].all()
    with pytest.raises(ValueError, match="128 px"):
        record("PickPlace", 1, tmp_path / "e", ["en"], image_size=64, student=student)
    with pytest.raises(ValueError, match="--miss-first-grasp"):
        record("PickPlace", 1, tmp_path / "f", ["en"], student=student, miss_first_grasp_cm=(2.0, 3.0))
    with pytest.raises(ValueError, match="--takeover must be MIN,MAX steps"):
        record("PickPlace", 1, tmp_path / "g", ["en"], student=student, takeover_steps=(40, 10))
    assert not any((tmp_path / d).exists() for d in "efg")  # refused before touching the folder


def test_correction_frames_follow_the_skipped_actions_and_weight_the_sampling(tmp_path):
    """``train --correction-weight``: the frames right after each episode's skipped actions (an
    expert's correction after a takeover) are the ones oversampled, cut at the episode's end; a
    dataset without skipped actions, or a weight below 1, is refused before any frame is decoded."""
    from jafm_robot.training.data import correction_frames
    from jafm_robot.training.trainer import TrainConfig, _correction_frames, train

    write_synthetic(tmp_path / "a", 2)  # 12 + 13 frames, nothing skipped
    with pytest.raises(ValueError, match="no skipped actions"):
        train(TrainConfig(dataset=str(tmp_path / "a"), out=str(tmp_path / "r0"), config="tiny", steps=2, correction_weight=3))
    with pytest.raises(ValueError, match="--correction-weight must be"):
        train(TrainConfig(dataset=str(tmp_path / "a"), out=str(tmp_path / "r0"), config="tiny", steps=2, correction_weight=0))
    assert not (tmp_path / "r0").exists()
    w = LeRobotV3Writer(tmp_path / "a", fps=10, image_size=IMG)
    ep = synthetic_episode(5, 15, "ja")
    ep.skip_actions = (0, 9)  # a takeover at step 9
    w.add_episode(ep)
    ds = LeRobotV3Dataset(tmp_path / "a")
    np.testing.assert_array_equal(correction_frames(ds.episode_index, ds.episodes, 3), 25 + np.arange(9, 12))
    np.testing.assert_array_equal(correction_frames(ds.episode_index, ds.episodes, 10), 25 + np.arange(9, 15))
    with pytest.raises(ValueError, match="--correction-window"):
        correction_frames(ds.episode_index, ds.episodes, 0)
    cfg = TrainConfig(dataset=str(tmp_path / "a"), out=str(tmp_path / "r"), config="tiny", steps=3, batch_size=4,
                      correction_weight=4, correction_window=3)
    np.testing.assert_array_equal(_correction_frames(cfg, ds), 25 + np.arange(9, 12))
    summary = train(cfg)
    assert summary["step"] == 3 and np.isfinite(summary["loss"])
    config = json.loads((tmp_path / "r/train_config.json").read_text())
    assert config["correction_weight"] == 4
    assert config["dataset"]["sampled_per_epoch"] == 40 + 3 * 3  # each correction frame 4 times in all


def test_datasets_from_two_scenes_train_together_with_each_folders_scene_targets(tmp_path):
    """A five-task student learns ConveyorPick (conveyor cell) beside PickPlace (table): folders
    from different scenes read as one, each keeps its scene, and what re-creates the recorded
    cameras (replayed resets, keypoint projections) does it per folder, in that folder's scene."""
    from jafm_robot.datasets.auxiliary import keypoint_targets
    from jafm_robot.datasets.concat import open_dataset, scene_segments
    from jafm_robot.training.data import ChunkSamples
    from jafm_robot.training.trainer import TrainConfig, train

    for name, scene, task, seed in (("table", "factory", "PickPlace", 0), ("belt", "factory_conveyor", "ConveyorPick", 10)):
        w = LeRobotV3Writer(tmp_path / name, fps=10, image_size=IMG, scene={"name": scene, "sha256": scene * 2})
        for i in range(2):
            ep = synthetic_episode(seed + i, 12, "en" if i % 2 == 0 else "ja")
            ep.action[:, 7] = 0.08
            ep.action[4:8, 7] = 0.0  # closes on the part at 4, releases it at 8
            ep.env_task = task
            w.add_episode(ep)
    spec = f"{tmp_path / 'table'},{tmp_path / 'belt'}"
    ds = open_dataset(spec)
    assert [s["name"] for s in ds.scenes] == ["factory", "factory_conveyor"]
    assert ds.info["jafm_scene"] is None and ds.info["jafm_scenes"] == sorted(ds.info["jafm_scenes"])
    same = open_dataset(f"{tmp_path / 'table'},{tmp_path / 'table'}")
    assert same.info["jafm_scene"]["name"] == "factory" and "jafm_scenes" not in same.info
    segments = scene_segments(ds)
    assert [(s.scene, s.frames, s.episodes) for s in segments] == [
        ("factory", slice(0, 24), slice(0, 2)), ("factory_conveyor", slice(24, 48), slice(2, 4))]

    cams = ["image", "wrist_image"]
    samples = ChunkSamples(ds, cams, 4)
    samples.add_auxiliary()
    assert samples.kp is None and samples.aux_valid[:, 0].all()
    samples.add_keypoint_targets()
    rep = samples.replayed()
    belt = segments[1]
    args = (ds.state[belt.frames], ds.action[belt.frames], ds.episode_index[belt.frames] - belt.episodes.start, cams)
    own, _ = keypoint_targets(*args, "factory_conveyor", rep.scene_poses[belt.episodes])
    table_cameras, _ = keypoint_targets(*args, "factory")
    np.testing.assert_array_equal(samples.kp[belt.frames], own)
    assert np.abs(samples.kp[belt.frames][:, 0] - table_cameras[:, 0]).max() > 0.05  # the scene camera differs
    np.testing.assert_array_equal(samples.kp[belt.frames][:, 1], table_cameras[:, 1])  # the wrist camera does not
    with pytest.raises(ValueError, match="recorded in scene 'factory_conveyor'"):
        train(TrainConfig(dataset=spec, out=str(tmp_path / "bad"), config="student", steps=1, batch_size=2,
                          chunk_len=4, scene="factory"))
    summary = train(TrainConfig(dataset=spec, out=str(tmp_path / "run"), config="student", steps=2, batch_size=4,
                                chunk_len=4))
    assert (tmp_path / "run/checkpoints/last.pt").is_file() and summary["step"] == 2
    log = pd.read_csv(tmp_path / "run/train_log.csv")
    assert (log["aux_loss"] > 0).all() and (log["kp_loss"] > 0).all()  # both scenes' targets train
