"""One observation contract (docs/architecture.md, "Gymnasium environments" and "ONNX policy file").

A torch checkpoint (``TorchPolicy``) and its ONNX export (``OnnxPolicy`` -> ``PolicyEngine``) must
reject the same bad observation with the same error and agree on a good one; the plain-NumPy tests
pin :func:`prepare_observation` itself, class by class.
"""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.contract import INSTRUCTION_LEN, STATE_DIM, encode_instruction
from jafm_robot.runtime.observation import ObservationError, encode_instruction_text, prepare_observation

S = 64  # the tiny policy's image size (tests/policy/conftest.py)
CAMS = ("image", "wrist_image")
LONG_EN = "x" * (INSTRUCTION_LEN + 1)  # 129 bytes
LONG_JA = "赤" * 43  # 3 bytes each: 129 bytes


def _obs(seed: int = 0, instruction: object = "pick up the red cube and put it in the bin") -> dict:
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, (S, S, 3), dtype=np.uint8),
        "wrist_image": rng.integers(0, 256, (S, S, 3), dtype=np.uint8),
        "state": rng.normal(0, 0.3, STATE_DIM).astype(np.float32),
        "instruction": instruction,
    }


def _without(key: str) -> dict:
    return {k: v for k, v in _obs().items() if k != key}


#: (id, bad observation, regex its message must match). Every class of the contract's rule.
BAD: list[tuple[str, object, str]] = [
    ("not_a_dict", [1, 2, 3], r"observation must be a dict, got list"),
    ("missing_image", _without("image"), r"observation lacks 'image' \(this policy uses cameras"),
    ("missing_wrist", _without("wrist_image"), r"observation lacks 'wrist_image'"),
    ("none_image", {**_obs(), "image": None}, r"observation lacks 'image'"),
    ("missing_state", _without("state"), r"observation lacks 'state'"),
    ("missing_instruction", _without("instruction"), r"observation lacks 'instruction'"),
    ("float_image", {**_obs(), "image": np.zeros((S, S, 3), np.float32)},
     r"^image must be uint8\[64,64,3\] \(RGB, not resized here\), got float32\[64, 64, 3\]$"),
    ("gray_image", {**_obs(), "image": np.zeros((S, S), np.uint8)}, r"image must be uint8\[64,64,3\].*got uint8\[64, 64\]"),
    ("one_channel", {**_obs(), "image": np.zeros((S, S, 1), np.uint8)}, r"got uint8\[64, 64, 1\]"),
    ("rgba_image", {**_obs(), "wrist_image": np.zeros((S, S, 4), np.uint8)}, r"^wrist_image must be uint8.*got uint8\[64, 64, 4\]$"),
    ("wrong_size", {**_obs(), "image": np.zeros((32, 32, 3), np.uint8)}, r"got uint8\[32, 32, 3\]$"),
    ("list_image", {**_obs(), "image": [[0, 0, 0]]}, r"image must be uint8.*got list$"),
    ("batched_image", {**_obs(), "image": np.zeros((1, S, S, 3), np.uint8)},
     r"got uint8\[1, 64, 64, 3\] \(an extra leading batch axis"),
    ("int_state", {**_obs(), "state": np.zeros(STATE_DIM, np.int64)},
     r"^state must be float32\[8\] \(finite, floating point\), got int64\[8\]$"),
    ("text_state", {**_obs(), "state": "abc"}, r"state must be float32\[8\].*got str$"),
    ("short_state", {**_obs(), "state": np.zeros(7, np.float32)}, r"state must be float32\[8\].*got float32\[7\]$"),
    ("batched_state", {**_obs(), "state": np.zeros((1, STATE_DIM), np.float32)}, r"got float32\[1, 8\] \(an extra leading batch"),
    ("nan_state", {**_obs(), "state": np.array([np.nan] + [0.0] * 7, np.float32)}, r"state must be float32\[8\].*holds NaN/Inf: \[nan,"),
    ("inf_state", {**_obs(), "state": np.array([0.0] * 7 + [np.inf])}, r"holds NaN/Inf"),
    ("overflow_state", {**_obs(), "state": np.array([1e300] + [0.0] * 7)}, r"holds NaN/Inf"),  # inf as float32
    ("long_text", _obs(instruction=LONG_EN), r"^instruction must be at most 128 UTF-8 bytes, got 129 bytes$"),
    ("long_japanese", _obs(instruction=LONG_JA), r"at most 128 UTF-8 bytes, got 129 bytes"),
    ("long_array", _obs(instruction=np.zeros(INSTRUCTION_LEN + 1, np.uint8)),
     r"^instruction must be a str or uint8\[128\], got uint8\[129\]$"),
    ("short_array", _obs(instruction=np.zeros(64, np.uint8)), r"got uint8\[64\]$"),
    ("int_array", _obs(instruction=np.zeros(INSTRUCTION_LEN, np.int32)), r"got int32\[128\]$"),
    ("bytes", _obs(instruction=b"pick"), r"instruction must be a str or uint8\[128\], got bytes$"),
    ("batched_instruction", _obs(instruction=np.zeros((1, INSTRUCTION_LEN), np.uint8)),
     r"got uint8\[1, 128\] \(an extra leading batch"),
]


# ------------------------------------------------------------------------------ plain NumPy, no policy
@pytest.mark.parametrize(("obs", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_prepare_observation_rejects_each_bad_class(obs, message):
    with pytest.raises(ObservationError, match=message) as err:
        prepare_observation(obs, CAMS, S)
    assert isinstance(err.value, ValueError)  # hosts that catch ValueError keep working


def test_valid_observation_feeds_are_the_network_inputs_unchanged():
    """Bit-identical to what the envs hand over (eval results must not move), without a copy."""
    obs = _obs()
    feeds = prepare_observation(obs, CAMS, S)
    assert list(feeds) == [*CAMS, "state", "instruction"]
    for cam in CAMS:
        assert feeds[cam].shape == (1, S, S, 3) and feeds[cam].flags.c_contiguous
        np.testing.assert_array_equal(feeds[cam][0], obs[cam])
        assert np.shares_memory(feeds[cam], obs[cam])  # a view: no per-frame copy
    assert feeds["state"].dtype == np.float32 and feeds["state"].shape == (1, STATE_DIM)
    np.testing.assert_array_equal(feeds["state"][0], obs["state"])
    np.testing.assert_array_equal(feeds["instruction"][0], encode_instruction(obs["instruction"]))
    # the env's form of the instruction (uint8[128]) is the same input as its text
    as_bytes = prepare_observation({**obs, "instruction": encode_instruction(obs["instruction"])}, CAMS, S)
    np.testing.assert_array_equal(as_bytes["instruction"], feeds["instruction"])
    # a float64 state (robot config, ROS) is fed as float32, the graph's type
    f64 = prepare_observation({**obs, "state": obs["state"].astype(np.float64)}, CAMS, S)
    np.testing.assert_array_equal(f64["state"], feeds["state"])
    # keys the policy does not use are ignored: a one-camera policy takes the env's full observation
    one = prepare_observation({**obs, "extra": "ignored"}, ("image",), S)
    assert set(one) == {"image", "state", "instruction"}


def test_instruction_limit_is_128_utf8_bytes_exactly():
    assert encode_instruction_text("x" * INSTRUCTION_LEN)[-1] == ord("x")
    assert encode_instruction_text("赤" * 42).nonzero()[0].size == 126
    with pytest.raises(ObservationError, match="got 129 bytes"):
        encode_instruction_text("x" * 127 + "é")  # 127 + 2 bytes: the limit counts bytes, not characters
    with pytest.raises(ObservationError, match="got int"):
        encode_instruction_text(42)  # type: ignore[arg-type]


def test_batched_api_takes_a_leading_axis_and_checks_it():
    rng = np.random.default_rng(1)
    b = 3
    obs = {
        "image": rng.integers(0, 256, (b, S, S, 3), dtype=np.uint8),
        "state": rng.normal(size=(b, STATE_DIM)),
        "instruction": ["reach", "赤いキューブ", "stack"],
    }
    feeds = prepare_observation(obs, ("image",), S, batched=True)
    assert feeds["image"].shape == (b, S, S, 3) and feeds["state"].shape == (b, STATE_DIM)
    np.testing.assert_array_equal(feeds["instruction"][1], encode_instruction("赤いキューブ"))
    shared = prepare_observation({**obs, "instruction": "reach"}, ("image",), S, batched=True)
    assert shared["instruction"].shape == (b, INSTRUCTION_LEN) and (shared["instruction"] == shared["instruction"][0]).all()
    with pytest.raises(ObservationError, match=r"same batch size, got \{'image': 3, 'state': 2"):
        prepare_observation({**obs, "state": obs["state"][:2], "instruction": "reach"}, ("image",), S, batched=True)
    with pytest.raises(ObservationError, match="2 texts for a batch of 3"):
        prepare_observation({**obs, "instruction": ["a", "b"]}, ("image",), S, batched=True)
    with pytest.raises(ObservationError, match=r"image must be uint8\[B,64,64,3\].*got uint8\[64, 64, 3\]$"):
        prepare_observation({**obs, "image": obs["image"][0]}, ("image",), S, batched=True)  # one frame: no B axis
    with pytest.raises(ObservationError, match="at most 128 UTF-8 bytes"):
        prepare_observation({**obs, "instruction": ["a", LONG_EN, "b"]}, ("image",), S, batched=True)


# ------------------------------------------------------------------- torch checkpoint vs its export
@pytest.fixture(scope="module")
def torch_and_onnx(trained_run, tmp_path_factory):
    """The tiny checkpoint (conftest ``trained_run``) as TorchPolicy and its ONNX export as OnnxPolicy."""
    from jafm_robot.policies.export import export_onnx
    from jafm_robot.policies.inference import OnnxPolicy, TorchPolicy

    out, _ = trained_run
    ckpt = out / "checkpoints/last.pt"
    path = tmp_path_factory.mktemp("contract") / "tiny.onnx"
    export_onnx(ckpt, path)
    torch_pol, onnx_pol = TorchPolicy(ckpt), OnnxPolicy(path, provider="cpu", threads=1)
    assert onnx_pol.kind == "onnx" and onnx_pol.engine.image_size == S
    assert list(torch_pol.meta.cameras) == list(onnx_pol.meta.cameras) == list(CAMS)
    return torch_pol, onnx_pol


@pytest.mark.parametrize(("obs", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_torch_and_onnx_reject_a_bad_observation_alike(torch_and_onnx, obs, message):
    torch_pol, onnx_pol = torch_and_onnx
    errors = []
    for predict in (torch_pol.predict, onnx_pol.predict, onnx_pol.engine.infer):
        with pytest.raises(ObservationError, match=message) as err:
            predict(obs)
        errors.append((type(err.value), str(err.value)))
    assert errors[0] == errors[1] == errors[2]


def test_torch_and_onnx_agree_on_a_valid_observation(torch_and_onnx):
    torch_pol, onnx_pol = torch_and_onnx
    for seed, instruction in ((0, "pick up the red cube and put it in the bin"),
                              (1, encode_instruction("赤いキューブを箱に入れて")),
                              (2, "x" * INSTRUCTION_LEN)):  # exactly at the limit is valid
        obs = _obs(seed, instruction)
        t, o = torch_pol.predict(obs), onnx_pol.predict(obs)
        assert t.shape == o.shape == (4, 8) and np.isfinite(t).all()
        assert np.max(np.abs(t - o)) <= 1e-4, (seed, np.max(np.abs(t - o)))
    # the actions depend on what the contract lets through: the instruction and the state
    base = _obs(0, "pick up the red cube and put it in the bin")
    assert np.abs(onnx_pol.predict(base) - onnx_pol.predict({**base, "state": base["state"] + 0.5})).max() > 1e-4
