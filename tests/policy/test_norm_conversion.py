"""Affine encoder norms (``train --norm affine``): a GroupNorm network converts by calibration, the
export folds each affine norm into its conv (no norm node left in the graph), and the file
rebuilds as a torch network like any other."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from jafm_robot.bench.latency import bench
from jafm_robot.contract import encode_instruction
from jafm_robot.policies.checkpoint import read_checkpoint
from jafm_robot.policies.export import export_onnx
from jafm_robot.policies.onnx_import import policy_from_onnx
from jafm_robot.policies.vla.configuration_vla import get_config
from jafm_robot.policies.vla.modeling_vla import ChannelAffine, VLAPolicy, fold_affine_norms
from jafm_robot.runtime.metadata import ModelFileError
from jafm_robot.training.norm_conversion import affine_from_group_norms
from jafm_robot.training.trainer import TrainConfig, train


def _gn_policy(seed: int = 0) -> VLAPolicy:
    torch.manual_seed(seed)
    policy = VLAPolicy(get_config("tiny", image_size=64)).eval()
    with torch.no_grad():  # GroupNorm affines away from (1, 0), so the conversion has something to carry
        for m in policy.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
        policy.head.weight.normal_(0, 0.1)  # a zero head would hide every difference upstream
    return policy


def _obs(n: int, same: bool, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k = 1 if same else n
    images = {c: torch.randint(0, 256, (k, 64, 64, 3), dtype=torch.uint8, generator=g).repeat(n // k, 1, 1, 1)
              for c in ("image", "wrist_image")}
    instruction = torch.from_numpy(np.stack([encode_instruction("pick up the red cube")] * n))
    return images, torch.randn(n, 8, generator=g) * 0.1, instruction


def test_conversion_is_exact_where_every_frame_has_the_same_statistics():
    """GroupNorm's per-image statistics are then constants, so the per-channel fit is exact; on
    varied frames it is an approximation, and the report's R^2 says so."""
    policy = _gn_policy()
    images, state, instruction = _obs(8, same=True)
    converted, report = affine_from_group_norms(policy, images, instruction)
    assert converted.cfg.vision.norm == "affine" and policy.cfg.vision.norm == "group"
    assert sum(isinstance(m, ChannelAffine) for m in converted.modules()) == len(report["layers"]) == 6
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in converted.modules())
    with torch.no_grad():
        want, got = policy(images, state, instruction), converted(images, state, instruction)
    assert want.abs().max() > 1e-3  # the comparison below is not of two zeros
    assert torch.allclose(got, want, atol=1e-4)
    assert report["r2_mean"] > 0.9999

    varied, state, instruction = _obs(8, same=False, seed=1)
    converted, report = affine_from_group_norms(policy, varied, instruction)
    assert 0.0 < report["r2_mean"] < 0.9999
    with torch.no_grad():
        assert not torch.allclose(converted(varied, state, instruction), policy(varied, state, instruction), atol=1e-4)


def test_folding_keeps_the_function_and_leaves_no_norm_after_a_conv():
    policy = _gn_policy()
    images, state, instruction = _obs(4, same=False)
    converted, _ = affine_from_group_norms(policy, images, instruction)
    folded = fold_affine_norms(converted)
    assert not any(isinstance(m, ChannelAffine) for m in folded.modules())
    assert any(isinstance(m, ChannelAffine) for m in converted.modules())  # a copy: the original keeps its norms
    with torch.no_grad():
        assert torch.allclose(folded(images, state, instruction), converted(images, state, instruction), atol=1e-5)
    assert fold_affine_norms(policy) is policy  # GroupNorm cannot fold: returned as it is


def test_train_norm_affine_converts_exports_folded_and_rebuilds(trained_run, synthetic_dataset, tmp_path):
    out, _ = trained_run
    kw = dict(dataset=str(synthetic_dataset), config="tiny", batch_size=8, log_every=1, chunk_len=4, save_every=100)
    summary = train(TrainConfig(steps=2, out=str(tmp_path / "aff"), init=str(out / "checkpoints/last.pt"), norm="affine",
                                norm_calib_frames=16, **kw))
    assert summary["norm_conversion"]["frames"] == 16 and len(summary["norm_conversion"]["layers"]) == 6
    ckpt = read_checkpoint(tmp_path / "aff/checkpoints/last.pt")
    assert ckpt["vla_config"]["vision"]["norm"] == "affine"

    path = tmp_path / "aff.onnx"
    card = export_onnx(tmp_path / "aff/checkpoints/last.pt", path)  # parity against the unfolded network inside
    assert card["training"]["vision_norm"] == "affine"
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "InstanceNormalization" not in ops and "BatchNormalization" not in ops
    # per camera 3 stage convs + the 1x1 token projection (tiny: no keypoints), + the byte encoder's Conv1d
    assert ops.count("Conv") == 2 * (3 + 1) + 1

    m = onnx.load(str(path))
    for prop in m.metadata_props:
        if prop.key == "training":
            prop.value = prop.value.replace('"vision_norm": "affine"', '"vision_norm": "batch"')
    onnx.save(m, str(tmp_path / "lying.onnx"))
    with pytest.raises(ModelFileError, match="vision_norm 'batch'"):
        policy_from_onnx(tmp_path / "lying.onnx")

    policy, report = policy_from_onnx(path)
    assert policy.cfg.vision.norm == "affine" and report["parity_max_abs_diff"] <= 1e-5
    assert not any("blocks" in k for k in report["fresh"])  # folded norms are not reported as missing

    # bench latency times the folded module the export traced (and the network as trained, apart)
    res = bench(str(path), None, "tiny", ["cpu"], iters=3, warmup=1, threads=1)
    assert res["vision_norm"] == "affine"
    assert set(res["results"]) == {"torch_eager_cpu", "torch_eager_cpu_unfolded", "onnxruntime_cpu",
                                   "onnxruntime_cpu_grounded"}
    assert res["results"]["onnxruntime_cpu"]["max_abs_diff_vs_torch"] <= 1e-4

    # resuming or fine-tuning the converted run keeps its norms; asking to go back is an error
    train(TrainConfig(steps=3, out=str(tmp_path / "aff"), resume=True, norm="affine", **kw))
    with pytest.raises(ValueError, match="only a GroupNorm encoder converts"):
        train(TrainConfig(steps=1, out=str(tmp_path / "back"), init=str(path), norm="group", **kw))
    with pytest.raises(ValueError, match="unknown --norm"):
        train(TrainConfig(steps=1, out=str(tmp_path / "bad"), norm="batch", **kw))


def test_unknown_norm_in_a_config_or_a_file_is_a_clear_error():
    cfg = get_config("tiny")
    with pytest.raises(ValueError, match=r"vision\.norm"):
        cfg.with_(vision=replace(cfg.vision, norm="batch"))
    with pytest.raises(ValueError, match="not 'group'"):
        affine_from_group_norms(VLAPolicy(cfg.with_(vision=replace(cfg.vision, norm="affine"))), {}, torch.zeros(1, 128))
