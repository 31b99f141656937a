"""A shipped ONNX policy rebuilt as a torch network (``train --init X.onnx``, ``bench latency``
without ``--checkpoint``): the same weights, the same outputs, clear errors for files it cannot
rebuild, and fine-tuning that leaves the recovered weights alone while a missing head warms up."""

from __future__ import annotations

import onnx
import pytest
import torch

from jafm_robot.paths import shipped_policy
from jafm_robot.policies.checkpoint import read_checkpoint, save_checkpoint
from jafm_robot.policies.export import export_onnx
from jafm_robot.policies.onnx_import import checkpoint_from_onnx, policy_from_onnx
from jafm_robot.runtime.metadata import ModelFileError
from jafm_robot.training.trainer import TrainConfig, train


def test_exported_file_gives_back_every_parameter(trained_run, tmp_path):
    out, _ = trained_run
    path = tmp_path / "tiny.onnx"
    export_onnx(out / "checkpoints/last.pt", path)
    want = read_checkpoint(out / "checkpoints/last.pt")["model"]
    policy, report = policy_from_onnx(path)
    got = policy.state_dict()
    params = {n for n, _ in policy.named_parameters()}
    assert params.isdisjoint(report["fresh"])  # tiny has no training-only head: nothing left fresh
    for name in params | {"state_mean", "state_std", "delta_mean", "delta_std"}:
        assert torch.equal(got[name], want[name]), name
    assert report["parity_max_abs_diff"] <= 1e-5
    ckpt = checkpoint_from_onnx(path)  # what read_checkpoint returns for an .onnx path
    assert read_checkpoint(path)["vla_config"] == ckpt["vla_config"] == policy.cfg.to_dict()
    assert ckpt["dataset"]["languages"] and ckpt["from_onnx"]["source"] == str(path)


def test_files_it_cannot_rebuild_are_clear_errors(trained_run, tmp_path):
    out, _ = trained_run
    path = tmp_path / "tiny.onnx"
    export_onnx(out / "checkpoints/last.pt", path)
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        policy_from_onnx(trunc)
    m = onnx.load(str(path))
    for prop in m.metadata_props:  # the metadata claims a network the weights do not fit
        if prop.key == "training":
            prop.value = prop.value.replace('"size": "tiny"', '"size": "small"')
    lying = tmp_path / "lying.onnx"
    onnx.save(m, str(lying))
    with pytest.raises(ModelFileError, match="small"):
        policy_from_onnx(lying)
    for prop in m.metadata_props:
        if prop.key == "training":
            prop.value = prop.value.replace('"size": "small"', '"size": "huge"')
    onnx.save(m, str(lying))
    with pytest.raises(ModelFileError, match="not a known VLA size"):
        read_checkpoint(lying)


def test_fine_tuning_from_onnx_warms_up_only_what_the_file_lacked(trained_run, synthetic_dataset, tmp_path):
    """The recovered weights stay put for ``fresh_warmup`` steps while the parameters the file did
    not give learn; the card's chain names the ONNX file and the runs behind it."""
    out, _ = trained_run
    path = tmp_path / "tiny.onnx"
    export_onnx(out / "checkpoints/last.pt", path)
    ckpt = checkpoint_from_onnx(path)
    # tiny has no training-only head; pretend the file lacked the action head to watch the warm-up
    ckpt["from_onnx"]["fresh"] = ["head.weight", "head.bias"]
    init = tmp_path / "from_onnx.pt"
    save_checkpoint(init, ckpt)
    kw = dict(dataset=str(synthetic_dataset), config="tiny", batch_size=8, log_every=1, chunk_len=4, save_every=100)
    train(TrainConfig(steps=3, out=str(tmp_path / "ft"), init=str(init), fresh_warmup=3, **kw))
    after = read_checkpoint(tmp_path / "ft/checkpoints/last.pt")["model"]
    assert not torch.equal(after["head.weight"], ckpt["model"]["head.weight"])
    for name in ("queries", "state_proj.weight", "blocks.0.qkv.weight", "cameras.image.blocks.0.0.weight"):
        assert torch.equal(after[name], ckpt["model"][name]), name

    train(TrainConfig(steps=2, out=str(tmp_path / "ft2"), init=str(path), **kw), argv=["jafm-robot", "train", "--out", "ft2"])
    card = export_onnx(tmp_path / "ft2/checkpoints/last.pt", tmp_path / "ft2.onnx")
    first = card["training"]["init_chain"][-1]
    assert first["checkpoint"] == str(path) and len(first["sha256"]) == 64
    assert card["commands"]["train"] == "jafm-robot train --out ft2"


def test_shipped_policy_rebuilds_within_parity():
    path = shipped_policy()
    if path is None:
        pytest.skip("no shipped policy under models/")
    policy, report = policy_from_onnx(path)
    assert report["parity_max_abs_diff"] <= 1e-4
    # only the training-only auxiliary head (and unused absolute-action stats) are not in the graph
    assert set(report["fresh"]) <= {"aux_head.weight", "aux_head.bias", "action_mean", "action_std"}
    assert policy.num_parameters() > 100_000


def test_a_file_whose_equal_weights_the_exporter_merged_rebuilds_too(tmp_path):
    """A freshly initialised network has many equal tensors (every norm's weight is ones): the
    exporter merges them behind Identity nodes and numbers its anonymous constants differently
    from the probe's; the rebuild follows the graph's structure, not those names."""
    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy
    from jafm_robot.training.trainer import policy_stats

    torch.manual_seed(1)
    model = VLAPolicy(get_config("student", image_size=64))
    pt = tmp_path / "fresh.pt"
    save_checkpoint(pt, {"step": 0, "model": model.state_dict(), "vla_config": model.cfg.to_dict(),
                         "stats": policy_stats(model), "dataset": {}})
    export_onnx(pt, tmp_path / "fresh.onnx")
    policy, report = policy_from_onnx(tmp_path / "fresh.onnx")
    got = policy.state_dict()
    for name, p in model.named_parameters():
        if not name.startswith("aux_head"):
            assert torch.equal(got[name], p.detach()), name
    assert set(report["fresh"]) <= {"aux_head.weight", "aux_head.bias", "action_mean", "action_std"}
