"""Multi-process training (2 gloo ranks via torch.distributed.run) and the whole pipeline on the
real env + scripted expert: record -> train -> export -> ONNX Runtime policy stepping the env."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset
from jafm_robot.policies.checkpoint import read_checkpoint


def test_ddp_two_gloo_processes(tmp_path, synthetic_dataset):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "jafm_robot.cli.main", "train", "--dataset", str(synthetic_dataset), "--config", "tiny",
           "--steps", "4", "--batch-size", "8", "--out", str(out), "--device", "cpu", "--chunk-len", "4",
           "--log-every", "2", "--json", str(tmp_path / "summary.json"), "--frames-cache", str(tmp_path / "cache")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JAFM_QUIET": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 4
    cfg = json.loads((out / "train_config.json").read_text())
    assert cfg["world_size"] == 2
    ckpt = read_checkpoint(out / "checkpoints/last.pt")
    assert ckpt["step"] == 4 and np.isfinite(ckpt["loss"])
    # each rank decoded the frames into its own cache file, never both into one
    frames = LeRobotV3Dataset(synthetic_dataset).images("image")
    for rank in (0, 1):
        np.testing.assert_array_equal(np.load(tmp_path / f"cache/rank{rank}/image.npy", mmap_mode="r"), frames)


@pytest.fixture(scope="module")
def reach_dataset(tmp_path_factory):
    from jafm_robot.datasets.recording import record

    root = tmp_path_factory.mktemp("reach") / "ds"
    res = record("Reach", 2, root, ["en", "ja"], seed=0, image_size=64, command="jafm-robot record --task Reach")
    assert res.written == 2
    return root


def test_record_real_env_then_append(reach_dataset, tmp_path):
    ds = LeRobotV3Dataset(reach_dataset)
    assert ds.num_episodes == 2 and ds.cameras == ["image", "wrist_image"]
    assert ds.languages() == ["en", "ja"] and ds.env_tasks() == ["Reach"]
    assert ds.info["jafm_scene"]["name"] == "factory" and len(ds.info["jafm_scene"]["sha256"]) == 64
    assert [e["success"] for e in ds.episodes] == [True, True]
    img = ds.images("image")
    assert img.shape == (len(ds), 64, 64, 3) and img.std() > 5  # a real scene, not a blank frame
    # actions are the expert's absolute targets: the state follows them
    a, b = ds.episode_bounds(0)
    err_follow = np.abs(ds.action[a:b - 1, :7] - ds.state[a + 1:b, :7]).mean()
    err_hold = np.abs(ds.state[a:b - 1, :7] - ds.state[a + 1:b, :7]).mean()
    assert err_follow < err_hold
    # a Japanese episode carries a Japanese instruction
    assert any(ord(c) > 0x3000 for c in ds.task_text(ds.episode_bounds(1)[0]))
    # --episodes is what the folder holds: a larger count appends only what is missing (new seeds,
    # new indices), the same count again appends nothing
    from jafm_robot.datasets.recording import record

    root = tmp_path / "copy"
    shutil.copytree(reach_dataset, root)
    assert record("Reach", 2, root, ["en"], seed=0, image_size=64).written == 0
    res = record("Reach", 3, root, ["en"], seed=0, image_size=64, command="jafm-robot record --episodes 3")
    ds2 = LeRobotV3Dataset(root)
    assert ds2.info["jafm_record_commands"][0] == "jafm-robot record --task Reach"
    assert ds2.info["jafm_record_commands"][-1] == "jafm-robot record --episodes 3"
    assert res.written == 1 and ds2.num_episodes == 3
    assert [e["seed"] for e in ds2.episodes] == [0, 1, 2]
    assert ds2.episode_bounds(2)[0] == len(ds)


def test_pipeline_record_train_export_run_in_env(reach_dataset, tmp_path):
    from jafm_robot.cli.main import main

    run = tmp_path / "run"
    assert main(["train", "--dataset", str(reach_dataset), "--config", "tiny", "--steps", "4", "--batch-size", "8",
                 "--out", str(run), "--log-every", "2"]) == 0
    model = tmp_path / "models/reach_tiny.onnx"
    assert main(["export", "--checkpoint", str(run / "checkpoints/last.pt"), "--out", str(model)]) == 0
    out_json = tmp_path / "eval.json"
    assert main(["eval", "--policy", str(model), "--task", "Reach", "--episodes", "1", "--seed", "500",
                 "--lang", "ja", "--max-steps", "8", "--replan-every", "3", "--json", str(out_json), "--card"]) == 0
    res = json.loads(out_json.read_text())
    assert res["episodes"] == 1 and res["policy_kind"] == "onnx" and res["language"] == "ja"
    assert res["execution"] == "runtime"  # targets move between action points as in run's control loop
    assert res["per_episode"][0]["steps"] == 8 and res["inference_ms"]["n"] == 3  # steps 0, 3, 6
    assert 0.0 <= res["ci95"][0] <= res["success_rate"] <= res["ci95"][1] <= 1.0
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["success"]["Reach/ja"]["episodes"] == 1 and card["tasks"] == ["Reach"]
    assert card["commands"]["eval Reach/ja"].startswith("jafm-robot ")  # how the figure was measured
    assert card["commands"]["record"] == ["jafm-robot record --task Reach"]  # and the data behind it
    # the policy refuses a task it was not trained on, with a clear message
    assert main(["eval", "--policy", str(model), "--task", "Stack", "--episodes", "1"]) == 2
    assert main(["eval", "--policy", str(model), "--task", "Reach", "--episodes", "1", "--max-steps", "2",
                 "--execution", "step", "--json", str(out_json)]) == 0
    assert json.loads(out_json.read_text())["execution"] == "step"
