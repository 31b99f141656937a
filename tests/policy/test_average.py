"""``jafm-robot average``: the uniform weight average of fine-tunes of one network, written as an
ordinary checkpoint that exports with its sources named in the model card."""

from __future__ import annotations

import pytest
import torch

from jafm_robot.cli.main import main
from jafm_robot.policies.checkpoint import read_checkpoint
from jafm_robot.policies.export import export_onnx
from jafm_robot.training.average import average_checkpoints
from jafm_robot.training.trainer import TrainConfig, train


def test_average_of_two_fine_tunes_exports_with_its_sources(trained_run, synthetic_dataset, tmp_path):
    out, _ = trained_run
    kw = dict(dataset=str(synthetic_dataset), config="tiny", batch_size=8, log_every=1, chunk_len=4, save_every=100, steps=2,
              init=str(out / "checkpoints/last.pt"))
    train(TrainConfig(out=str(tmp_path / "a"), seed=1, **kw), argv=["jafm-robot", "train", "--out", str(tmp_path / "a")])
    train(TrainConfig(out=str(tmp_path / "b"), seed=2, lr=1e-3, **kw), argv=["jafm-robot", "train", "--out", str(tmp_path / "b")])
    a, b = (str(tmp_path / r / "checkpoints/last.pt") for r in "ab")
    onnx_b = tmp_path / "b.onnx"
    export_onnx(b, onnx_b)

    avg = tmp_path / "avg.pt"
    assert main(["average", "--checkpoints", f"{a},{onnx_b}", "--out", str(avg)]) == 0
    got, wa, wb = (read_checkpoint(p)["model"] for p in (avg, a, b))
    assert not torch.equal(wa["head.weight"], wb["head.weight"])  # two different runs
    for key in ("head.weight", "blocks.0.qkv.weight", "cameras.image.blocks.0.0.weight"):
        assert torch.allclose(got[key], (wa[key] + wb[key]) / 2, atol=1e-6), key
    entry = read_checkpoint(avg)["average"]
    assert [s["path"] for s in entry["sources"]] == [a, str(onnx_b)] and all(len(s["sha256"]) == 64 for s in entry["sources"])
    assert entry["command"].startswith("jafm-robot ")  # the process's own command line (here pytest's)

    card = export_onnx(avg, tmp_path / "avg.onnx")
    assert card["training"]["average"]["sources"][1]["path"] == str(onnx_b)
    assert card["commands"]["average"] == entry["command"]
    # both runs' own commands are in the card, not only the first's (whose metadata the average kept)
    assert card["commands"]["average_sources"] == [f"jafm-robot train --out {tmp_path / r}" for r in "ab"]

    # a run fine-tuned from the average: its chain holds the averaging and the run it kept
    train(TrainConfig(out=str(tmp_path / "c"), seed=3, **{**kw, "init": str(avg)}))
    chain = export_onnx(str(tmp_path / "c/checkpoints/last.pt"), tmp_path / "c.onnx")["training"]["init_chain"]
    assert chain[-1]["checkpoint"] == str(avg) and chain[-1]["command"] == entry["command"]
    assert [s["path"] for s in chain[-1]["average_of"]] == [a, str(onnx_b)]
    assert chain[-2]["checkpoint"] == a  # the run whose metadata the average kept


def test_init_chain_survives_or_stops_at_an_init_file_replaced_since(trained_run, synthetic_dataset, tmp_path):
    """``models/pick_place_v0.onnx`` is overwritten by each new shipped model: a run fine-tuned from
    the old file must keep the old file's history (the card as it stood), never the new file's."""
    out, _ = trained_run
    shipped = tmp_path / "shipped.onnx"
    old_card = export_onnx(str(out / "checkpoints/last.pt"), shipped)
    kw = dict(dataset=str(synthetic_dataset), config="tiny", batch_size=8, log_every=1, chunk_len=4, save_every=100, steps=2)
    train(TrainConfig(out=str(tmp_path / "ft"), seed=1, init=str(shipped), **kw))
    ft = str(tmp_path / "ft/checkpoints/last.pt")
    before = export_onnx(ft, tmp_path / "ft.onnx")["training"]["init_chain"]
    assert before[-1]["checkpoint"] == str(shipped) and before[-1]["sha256"] == old_card["sha256"]
    export_onnx(ft, shipped)  # the next model is shipped at the same path
    assert export_onnx(ft, tmp_path / "ft2.onnx")["training"]["init_chain"] == before

    legacy = read_checkpoint(ft)  # a run from before the snapshot: only the digest, so the chain stops
    legacy.pop("init_card")
    torch.save(legacy, tmp_path / "legacy.pt")
    last = export_onnx(str(tmp_path / "legacy.pt"), tmp_path / "legacy.onnx")["training"]["init_chain"][-1]
    assert last["checkpoint"] == str(shipped) and last["sha256"] == old_card["sha256"] and "replaced since" in last["missing"]


def test_what_cannot_be_averaged_is_a_clear_error(trained_run, tmp_path):
    out, _ = trained_run
    ckpt = str(out / "checkpoints/last.pt")
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints([ckpt], tmp_path / "x.pt")
    onnx_path = tmp_path / "t.onnx"
    export_onnx(ckpt, onnx_path)
    with pytest.raises(ValueError, match=r"at least one \.pt"):
        average_checkpoints([onnx_path, onnx_path], tmp_path / "x.pt")
    other = read_checkpoint(ckpt)
    other["vla_config"] = {**other["vla_config"], "d_model": 64, "name": "wider"}
    wider = tmp_path / "wider.pt"
    torch.save(other, wider)
    with pytest.raises(ValueError, match="different network"):
        average_checkpoints([ckpt, wider], tmp_path / "x.pt")
