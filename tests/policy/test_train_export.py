"""Training (checkpoints, logs, resume), export (parity, metadata, card) and loading checks."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from jafm_robot.contract import METADATA_KEYS
from jafm_robot.policies.checkpoint import CheckpointError, policy_from_checkpoint, read_checkpoint
from jafm_robot.policies.export import example_inputs, export_onnx, torch_predict
from jafm_robot.policies.inference import load_policy
from jafm_robot.runtime.engine import PolicyEngine
from jafm_robot.runtime.metadata import ModelFileError, PolicyMetadata
from jafm_robot.training.trainer import TrainConfig, lr_factor, train


def test_training_writes_checkpoints_logs_and_curve(trained_run):
    out, summary = trained_run
    assert summary["step"] == 6 and np.isfinite(summary["loss"])
    assert {p.name for p in (out / "checkpoints").iterdir()} == {"last.pt", "step_000003.pt", "step_000006.pt"}
    rows = list(csv.DictReader(open(out / "train_log.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    # a size without auxiliary heads: the action term is the whole loss, the others are blank
    assert all(float(r["action_loss"]) == pytest.approx(float(r["loss"]), rel=1e-4) and r["aux_loss"] == r["kp_loss"] == ""
               for r in rows)
    assert (out / "training_curve.png").stat().st_size > 1000
    ckpt = read_checkpoint(out / "checkpoints/last.pt")
    assert ckpt["step"] == 6 and ckpt["vla_config"]["chunk_len"] == 4
    assert ckpt["dataset"]["env_tasks"] == ["PickPlace"] and ckpt["dataset"]["languages"] == ["en", "ja"]
    assert ckpt["dataset"]["action_dt"] == pytest.approx(0.1)


def test_lr_schedule_warmup_then_cosine():
    f = [lr_factor(s, 100, 10, 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(f[9:])) and f[-1] >= 0.1


def test_training_reduces_loss(tmp_path, synthetic_dataset):
    train(TrainConfig(dataset=str(synthetic_dataset), out=str(tmp_path / "r"), config="tiny", steps=60,
                                batch_size=16, log_every=10, lr=2e-3, warmup_steps=5, chunk_len=4, shift_pad=0))
    rows = list(csv.DictReader(open(tmp_path / "r/train_log.csv")))
    assert float(rows[-1]["loss"]) < 0.7 * float(rows[0]["loss"]), rows


def test_resume_continues_from_step(tmp_path, synthetic_dataset):
    kw = dict(dataset=str(synthetic_dataset), out=str(tmp_path / "r"), config="tiny", batch_size=8, log_every=1,
              chunk_len=4, save_every=100)
    train(TrainConfig(steps=3, **kw))
    before = read_checkpoint(tmp_path / "r/checkpoints/last.pt")
    summary = train(TrainConfig(steps=5, resume=True, **kw))
    after = read_checkpoint(tmp_path / "r/checkpoints/last.pt")
    assert summary["step"] == 5 and after["step"] == 5
    assert [int(r["step"]) for r in csv.DictReader(open(tmp_path / "r/train_log.csv"))] == [1, 2, 3, 4, 5]
    # the optimiser state carried over (AdamW step counter continues, not restarted)
    st_before = next(iter(before["optimizer"]["state"].values()))["step"]
    st_after = next(iter(after["optimizer"]["state"].values()))["step"]
    assert float(st_after) == float(st_before) + 2
    assert after["scheduler"]["last_epoch"] == 5
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(TrainConfig(steps=5, resume=True, **{**kw, "out": str(tmp_path / "empty")}))


def test_export_parity_metadata_and_card(trained_run, tmp_path):
    out, _ = trained_run
    path = tmp_path / "models/tiny_policy.onnx"
    card = export_onnx(out / "checkpoints/last.pt", path, command=["jafm-robot", "export"])
    assert card["parity_max_abs_diff"] <= 1e-4
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    assert set(METADATA_KEYS) <= set(props)
    meta = PolicyMetadata.from_props(props)
    assert meta.chunk_len == 4 and meta.cameras == ["image", "wrist_image"] and meta.tasks == ["PickPlace"]
    assert [i.name for i in model.graph.input] == ["image", "wrist_image", "state", "instruction"]
    assert [o.name for o in model.graph.output] == ["actions"]

    policy, _ = policy_from_checkpoint(out / "checkpoints/last.pt")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for b in (1, 3):  # dynamic batch axis
        feeds = example_inputs(policy, batch=b, seed=b)
        got = sess.run(["actions"], feeds)[0]
        assert got.shape == (b, 4, 8)
        assert np.max(np.abs(got - torch_predict(policy, feeds))) <= 1e-4

    saved = json.loads(path.with_suffix(".json").read_text())
    assert saved["sha256"] == card["sha256"] and saved["parameters"] == policy.num_parameters()
    assert "latency" in saved and "success" in saved and saved["commands"]["export"] == "jafm-robot export"
    eng = PolicyEngine(path)  # the runtime accepts it, card and all
    obs = {k: v[0] for k, v in example_inputs(policy, batch=1).items()}
    np.testing.assert_allclose(eng.infer(obs), torch_predict(policy, {k: v[None] for k, v in obs.items()})[0], atol=1e-4)


def test_a_model_shipped_again_keeps_the_old_figures_in_its_history(trained_run, tmp_path):
    """Ship early, then replace under the same name: the card of the version replaced (success,
    teacher, latency, commands) moves into ``history``, newest first; re-exporting the same bytes
    adds nothing."""
    from jafm_robot.policies.export import update_card_entries

    out, _ = trained_run
    path = tmp_path / "student.onnx"
    first = export_onnx(out / "checkpoints/step_000003.pt", path)
    assert first["history"] == []
    update_card_entries(path, [("success", "PickPlace/en", {"success_rate": 0.6}),
                               ("teacher", "PickPlace/en", {"success_rate": 1.0})])
    second = export_onnx(out / "checkpoints/last.pt", path)
    assert second["sha256"] != first["sha256"] and second["success"] == {}
    (old,) = second["history"]
    assert old["sha256"] == first["sha256"] and old["success"] == {"PickPlace/en": {"success_rate": 0.6}}
    assert old["teacher"]["PickPlace/en"]["success_rate"] == 1.0
    again = export_onnx(out / "checkpoints/last.pt", path)
    assert again["history"] == second["history"]
    third = export_onnx(out / "checkpoints/step_000003.pt", path)
    assert [h["sha256"] for h in third["history"]] == [second["sha256"], first["sha256"]]


def test_load_errors_are_clear(trained_run, tmp_path):
    out, _ = trained_run
    path = tmp_path / "p.onnx"
    export_onnx(out / "checkpoints/last.pt", path)
    pol = load_policy(path)
    obs = {"image": np.zeros((64, 64, 3), np.uint8), "wrist_image": np.zeros((64, 64, 3), np.uint8),
           "state": np.zeros(8, np.float32), "instruction": np.zeros(128, np.uint8)}
    assert pol.predict(obs).shape == (4, 8)
    with pytest.raises(ValueError):
        pol.predict({**obs, "image": np.zeros((32, 32, 3), np.uint8)})  # wrong input size
    with pytest.raises(ValueError):
        pol.predict({k: v for k, v in obs.items() if k != "wrist_image"})  # missing camera
    # a card whose sha256 does not match the file
    card = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**card, "sha256": "0" * 64}))
    with pytest.raises(ModelFileError, match="sha256"):
        load_policy(path)
    # metadata from another schema
    path.with_suffix(".json").write_text(json.dumps(card))
    m = onnx.load(str(path))
    for p in m.metadata_props:
        if p.key == "chunk_len":
            p.value = "0"
    bad = tmp_path / "bad.onnx"
    onnx.save(m, str(bad))
    with pytest.raises(ModelFileError, match="chunk_len"):
        load_policy(bad, verify=False)
    # not a checkpoint / wrong suffix / missing file
    junk = tmp_path / "junk.pt"
    torch.save({"hello": 1}, junk)
    with pytest.raises(CheckpointError, match="not a jafm_robot VLA checkpoint"):
        load_policy(junk)
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes((out / "checkpoints/last.pt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_policy(trunc)
    with pytest.raises(ValueError, match=r"\.pt checkpoint or an \.onnx"):
        load_policy(path.with_suffix(".json"))
    with pytest.raises(FileNotFoundError):
        load_policy(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match=r"must end in \.onnx"):
        export_onnx(out / "checkpoints/last.pt", tmp_path / "x.bin")


def test_card_lists_the_runs_a_model_was_fine_tuned_from(tmp_path, synthetic_dataset):
    """train --init A, then export: the card names A's command and the checkpoint (step) B started
    from, oldest first, so the whole chain can be re-run; a parent gone from disk is said, not skipped."""
    kw = dict(dataset=str(synthetic_dataset), config="tiny", batch_size=8, log_every=1, chunk_len=4, save_every=100)
    train(TrainConfig(steps=2, out=str(tmp_path / "a"), **kw), argv=["jafm-robot", "train", "--out", "a"])
    parent = tmp_path / "a/checkpoints/step_000002.pt"
    train(TrainConfig(steps=3, out=str(tmp_path / "b"), init=str(parent), **kw), argv=["jafm-robot", "train", "--out", "b"])
    card = export_onnx(tmp_path / "b/checkpoints/last.pt", tmp_path / "b.onnx")
    assert card["commands"]["train_chain"] == ["jafm-robot train --out a"]
    assert card["commands"]["train"] == "jafm-robot train --out b"
    chain = card["training"]["init_chain"]
    assert chain == [{"checkpoint": str(parent), "step": 2, "command": "jafm-robot train --out a"}]
    parent.unlink()
    card = export_onnx(tmp_path / "b/checkpoints/last.pt", tmp_path / "b2.onnx")
    assert card["training"]["init_chain"][0]["checkpoint"] == str(parent) and "missing" in card["training"]["init_chain"][0]
