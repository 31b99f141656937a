"""The VLA network and its processor: sizes, shapes, normalisation inside, byte-level language input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from jafm_robot.contract import encode_instruction
from jafm_robot.policies.vla.configuration_vla import SIZES, VisionConfig, VLAConfig, get_config
from jafm_robot.policies.vla.modeling_vla import VLAPolicy
from jafm_robot.policies.vla.processor_vla import (
    NormStats,
    chunk_indices,
    compute_stats,
    random_shift,
)


def _inputs(cfg: VLAConfig, b: int = 2, texts=("pick the red cube", "赤いキューブを掴んで")):
    g = torch.Generator().manual_seed(0)
    images = {c: torch.randint(0, 256, (b, cfg.image_size, cfg.image_size, 3), dtype=torch.uint8, generator=g) for c in cfg.cameras}
    state = torch.randn(b, 8, generator=g)
    instr = torch.from_numpy(np.stack([encode_instruction(texts[i % len(texts)]) for i in range(b)]))
    return images, state, instr


def _randomize_head(m: VLAPolicy) -> None:
    torch.manual_seed(1)
    torch.nn.init.normal_(m.head.weight, std=0.5)


def test_sizes_and_param_budget():
    tiny = VLAPolicy(get_config("tiny"))
    assert tiny.num_parameters() < 100_000
    counts = [VLAPolicy(get_config(n)).num_parameters() for n in ("tiny", "small", "base")]
    assert counts == sorted(counts) and len(set(counts)) == 3
    assert set(SIZES) == {"tiny", "small", "student", "base", "large", "foundation"}
    with pytest.raises(ValueError, match="unknown VLA size"):
        get_config("huge")
    with pytest.raises(ValueError, match="divisible by n_heads"):
        get_config("tiny", d_model=33)
    with pytest.raises(ValueError, match="cameras"):
        get_config("tiny", cameras=("depth",))
    with pytest.raises(ValueError, match="image_size"):
        get_config("tiny", image_size=20)
    cfg = get_config("small", cameras=("image",), image_size=64)
    assert VLAConfig.from_dict(cfg.to_dict()) == cfg
    # a 4x4 patch stem: same token grid, one conv fewer at full resolution
    patch = get_config("tiny", image_size=64, vision=VisionConfig((8, 16), 4, stem_stride=4))
    assert patch.vision.downsample == 8
    images, state, instr = _inputs(patch, 1)
    assert VLAPolicy(patch)(images, state, instr).shape == (1, patch.chunk_len, 8)
    assert VLAConfig.from_dict(patch.to_dict()) == patch


def test_forward_shapes_and_language_conditioning():
    cfg = get_config("tiny", image_size=64, chunk_len=6)
    m = VLAPolicy(cfg).eval()
    _randomize_head(m)
    images, state, instr = _inputs(cfg, 2)
    with torch.no_grad():
        out = m(images, state, instr)
        assert out.shape == (2, 6, 8) and out.dtype == torch.float32
        # the instruction bytes change the output (English and Japanese alike) ...
        other = torch.from_numpy(np.stack([encode_instruction("place it in the blue bin"), encode_instruction("青い箱に置いて")]))
        assert (m(images, state, other) - out).abs().amax(dim=(1, 2)).min() > 1e-4
        # ... and the padding bytes do not (masked), so only the text decides
        assert torch.equal(m(images, state, instr), out)
        # batch elements are independent
        single = m({c: v[1:] for c, v in images.items()}, state[1:], instr[1:])
        torch.testing.assert_close(single[0], out[1], atol=1e-5, rtol=1e-5)


def test_film_keypoint_encoder_grounds_language_and_exports(tmp_path):
    """The student's encoder: FiLM from the pooled instruction, spatial-softmax keypoint tokens."""
    import onnxruntime as ort

    from jafm_robot.policies.vla.modeling_vla import OnnxVLA, onnx_input_order

    cfg = get_config("tiny", image_size=64, chunk_len=4, vision=VisionConfig((8, 16), 2, film=True, keypoints=4))
    assert VLAConfig.from_dict(cfg.to_dict()) == cfg
    m = VLAPolicy(cfg).eval()
    _randomize_head(m)
    for film in m.cameras["image"].films:  # FiLM starts as identity; give it something to do
        torch.nn.init.normal_(film.lin.weight, std=0.5)
    images, state, instr = _inputs(cfg, 2)
    with torch.no_grad():
        out = m(images, state, instr)
        enc = m.cameras["image"]
        assert enc(images["image"]).shape == (2, 2 * 2 + 4, cfg.d_model)  # grid tokens + keypoint tokens
        kp = enc.keypoints(torch.rand(2, 16, 16, 16))
        assert kp.shape == (2, 4, 2) and kp.abs().max() <= 1.0
        # word order matters: swapping part colour and bin colour changes the action
        a = torch.from_numpy(np.stack([encode_instruction("put the red cube in the blue bin")] * 2))
        b = torch.from_numpy(np.stack([encode_instruction("put the blue cube in the red bin")] * 2))
        assert (m(images, state, a) - m(images, state, b)).abs().max() > 1e-4
        assert torch.equal(m(images, state, instr), out)  # padding bytes are masked
        single = m({c: v[1:] for c, v in images.items()}, state[1:], instr[1:])
        torch.testing.assert_close(single[0], out[1], atol=1e-5, rtol=1e-5)
    names = onnx_input_order(cfg)
    feeds = {"state": state.numpy(), "instruction": instr.numpy(), **{c: v.numpy() for c, v in images.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer notices (as in policies.export)
        torch.onnx.export(OnnxVLA(m), tuple(torch.from_numpy(feeds[n]) for n in names), str(tmp_path / "m.onnx"),
                          input_names=names, output_names=["actions"], dynamo=False,
                          dynamic_axes={**{n: {0: "B"} for n in names}, "actions": {0: "B"}})
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(["actions"], feeds)[0]
    assert np.max(np.abs(got - out.numpy())) <= 1e-4


def test_normalisation_lives_inside():
    """A zero head predicts 'the mean offset from the current state': absolute targets come out."""
    cfg = get_config("tiny", image_size=64, chunk_len=4)
    stats = NormStats.identity()
    stats.delta_mean = np.full(8, 0.25, np.float32)
    stats.delta_std = np.full(8, 2.0, np.float32)
    m = VLAPolicy(cfg, stats).eval()
    images, state, instr = _inputs(cfg, 2)
    with torch.no_grad():
        out = m(images, state, instr)
    torch.testing.assert_close(out, state[:, None, :].expand(-1, 4, -1) + 0.25)
    target = torch.randn(2, 4, 8)
    torch.testing.assert_close(m.denormalize_actions(m.normalize_actions(target, state), state), target)
    absolute = VLAPolicy(cfg.with_(predict_delta=False), stats)
    torch.testing.assert_close(absolute.denormalize_actions(absolute.normalize_actions(target, state), state), target)


def test_chunk_indices_clamp_at_episode_end():
    ep = np.array([0, 0, 0, 1, 1])
    idx = chunk_indices(ep, 3)
    assert idx.tolist() == [[0, 1, 2], [1, 2, 2], [2, 2, 2], [3, 4, 4], [4, 4, 4]]


def test_compute_stats_and_roundtrip():
    rng = np.random.default_rng(0)
    state = rng.normal(size=(50, 8)).astype(np.float32)
    state[:, 7] = 0.04  # a constant column gets the std floor, never 0
    action = state + 0.1
    st = compute_stats(state, action, np.repeat([0, 1], 25), 5)
    assert np.all(st.state_std > 0) and st.state_std[7] == pytest.approx(1e-3)
    np.testing.assert_allclose(st.state_mean, state.mean(0), atol=1e-6)
    back = NormStats.from_dict(st.to_dict())
    np.testing.assert_allclose(back.delta_mean, st.delta_mean)
    bad = st.to_dict()
    bad["action_std"] = [1.0] * 7
    with pytest.raises(ValueError, match="action_std"):
        NormStats.from_dict(bad)


def test_random_shift_moves_content_within_pad():
    rng = np.random.default_rng(0)
    img = np.zeros((16, 20, 20, 3), np.uint8)
    img[:, 8:12, 8:12] = 255
    out = random_shift(img, 2, rng)
    assert out.shape == img.shape and out.dtype == np.uint8
    ys, xs = np.nonzero(out[..., 0].max(0))
    assert ys.min() >= 6 and ys.max() <= 13 and xs.min() >= 6 and xs.max() <= 13
    assert len({out[i].tobytes() for i in range(16)}) > 1
    assert random_shift(img, 0, rng) is img
