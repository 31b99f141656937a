"""PolicyEngine against real ONNX files (built with onnx.helper) run by real ONNX Runtime sessions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jafm_robot.contract import encode_instruction
from jafm_robot.runtime.engine import PolicyEngine, ProviderError, physical_cores
from jafm_robot.runtime.metadata import ModelFileError, PolicyMetadata, card_path
from jafm_robot.runtime.testing import make_dummy_policy, write_card


def _obs(size: int = 128, seed: int = 0, wrist: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    obs = {
        "image": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        "state": np.array([0.1, -0.7, 0.05, -2.3, 0.0, 1.6, 0.8, 0.04], np.float32),
        "instruction": "pick up the red cube",
    }
    if wrist:
        obs["wrist_image"] = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return obs


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {
        "hold": make_dummy_policy(d / "hold.onnx", kind="hold"),
        "linear": make_dummy_policy(d / "linear.onnx", kind="linear"),
        "garbage": make_dummy_policy(d / "garbage.onnx", kind="garbage"),
        "wrist": make_dummy_policy(
            d / "wrist.onnx", PolicyMetadata(cameras=["image", "wrist_image"], chunk_len=5), kind="linear"
        ),
    }


def test_loads_and_infers_on_cpu(models):
    eng = PolicyEngine(models["hold"], provider="auto")
    assert eng.provider == "CPUExecutionProvider"
    assert eng.fell_back is False
    assert eng.metadata.chunk_len == 10 and eng.action_dt == pytest.approx(0.1)
    obs = _obs()
    out = eng.infer(obs)
    assert out.dtype == np.float32 and out.shape == (10, 8)
    np.testing.assert_array_equal(out, np.broadcast_to(obs["state"], (10, 8)))  # hold = state everywhere
    stats = eng.latency_stats()
    assert stats["n"] == 1 and stats["p50_ms"] > 0 and stats["provider"] == "CPUExecutionProvider"
    assert 1 <= eng.intra_op_threads == physical_cores()


def test_linear_policy_reads_every_input(models):
    eng = PolicyEngine(models["linear"], provider="cpu", intra_op_threads=1)
    base = eng.infer(_obs(seed=0))
    assert not np.allclose(base, np.broadcast_to(_obs()["state"], base.shape))  # a real offset
    assert not np.allclose(base, eng.infer(_obs(seed=1)))  # depends on the image
    other = _obs(seed=0)
    other["instruction"] = "ロボット、青い箱を持ち上げて"
    assert not np.allclose(base, eng.infer(other))  # depends on the instruction
    encoded = _obs(seed=0)
    encoded["instruction"] = encode_instruction(encoded["instruction"])
    np.testing.assert_array_equal(base, eng.infer(encoded))  # str and uint8[128] are the same input


def test_io_binding_path_gives_the_same_actions(models):
    plain = PolicyEngine(models["linear"], provider="cpu")
    bound = PolicyEngine(models["linear"], provider="cpu", io_binding=True)
    assert bound.io_binding and not plain.io_binding
    for seed in range(3):  # the bound buffers are updated in place: each call sees its own inputs
        np.testing.assert_allclose(bound.infer(_obs(seed=seed)), plain.infer(_obs(seed=seed)), rtol=1e-5, atol=1e-6)


def test_wrist_camera_model_requires_the_wrist_image(models):
    eng = PolicyEngine(models["wrist"])
    assert eng.infer(_obs(wrist=True)).shape == (5, 8)
    with pytest.raises(ValueError, match="wrist_image"):
        eng.infer(_obs(wrist=False))


def test_garbage_policy_output_is_passed_through_raw(models):
    out = PolicyEngine(models["garbage"]).infer(_obs())
    assert np.isnan(out).any() and np.isinf(out).any()  # the safety filter, not the engine, judges it


def test_sha256_mismatch_is_a_model_file_error(tmp_path):
    p = make_dummy_policy(tmp_path / "m.onnx", kind="hold")
    card = json.loads(card_path(p).read_text())
    card["sha256"] = "0" * 64
    card_path(p).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="sha256"):
        PolicyEngine(p)


def test_truncated_file(tmp_path):
    p = make_dummy_policy(tmp_path / "m.onnx", kind="linear")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="sha256"):  # with its card: caught by the checksum
        PolicyEngine(p)
    write_card(p)  # even with a matching card, or without verification: a clear error, no crash
    with pytest.raises(ModelFileError, match="cannot load"):
        PolicyEngine(p)
    with pytest.raises(ModelFileError, match="cannot load"):
        PolicyEngine(p, verify=False)


def test_not_an_onnx_file(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"this is not a protobuf at all" * 10)
    with pytest.raises(ModelFileError, match="cannot load"):
        PolicyEngine(p, verify=False)


def test_missing_card_needs_verify_false(tmp_path):
    p = make_dummy_policy(tmp_path / "m.onnx", kind="hold", card=False)
    with pytest.raises(ModelFileError, match="no model card"):
        PolicyEngine(p)
    assert PolicyEngine(p, verify=False).infer(_obs()).shape == (10, 8)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        PolicyEngine(tmp_path / "nope.onnx")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"props_override": {"jafm.schema_version": "99"}}, "schema version"),
        ({"props_override": {"chunk_len": None}}, "lacks chunk_len"),
        ({"props_override": {"cameras": "not json"}}, "malformed JSON"),
        ({"props_override": {"chunk_len": "5"}}, r"output 'actions' axis 1 must be 5"),
        ({"props_override": {"image_size": "64"}}, r"input 'image' axis 1 must be 64"),
        ({"props_override": {"cameras": '["image", "wrist_image"]'}}, "wrist_image missing"),
        ({"omit_inputs": ("state",)}, "state missing"),
        ({"input_types": {"image": "float32"}}, "input 'image' must be uint8"),
        ({"input_types": {"state": "uint8"}}, "input 'state' must be float32"),
    ],
)
def test_contract_mismatch_names_the_problem(tmp_path, kwargs, message):
    p = make_dummy_policy(tmp_path / "bad.onnx", kind="hold", **kwargs)
    with pytest.raises(ModelFileError, match=message):
        PolicyEngine(p)


def test_unexpected_extra_input(tmp_path):
    # a wrist camera in the graph that the metadata does not announce
    meta = PolicyMetadata(cameras=["image", "wrist_image"])
    p = make_dummy_policy(tmp_path / "bad.onnx", meta, kind="hold", props_override={"cameras": '["image"]'})
    with pytest.raises(ModelFileError, match="unexpected input"):
        PolicyEngine(p)


@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_gpu_request_without_gpu(models, provider):
    import onnxruntime as ort

    if f"{'CUDA' if provider == 'cuda' else 'Tensorrt'}ExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has the GPU provider")
    with pytest.raises(ProviderError, match="allow_fallback"):
        PolicyEngine(models["hold"], provider=provider)
    eng = PolicyEngine(models["hold"], provider=provider, allow_fallback=True)
    assert eng.provider == "CPUExecutionProvider" and eng.fell_back is True
    assert eng.infer(_obs()).shape == (10, 8)


def test_unknown_provider(models):
    with pytest.raises(ValueError, match="unknown provider"):
        PolicyEngine(models["hold"], provider="tpu")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": np.zeros((256, 256, 3), np.uint8)}, r"image must be uint8\[128,128,3\].*uint8\[256, 256, 3\]"),
        ({"image": np.zeros((128, 128), np.uint8)}, r"image must be uint8\[128,128,3\]"),
        ({"image": np.zeros((128, 128, 1), np.uint8)}, r"image must be uint8\[128,128,3\]"),
        ({"image": np.zeros((128, 128, 3), np.float32)}, r"image must be uint8.*float32"),
        ({"image": [[0, 0, 0]]}, r"image must be uint8.*list"),
        ({"state": np.array([np.nan] + [0.0] * 7, np.float32)}, "NaN"),
        ({"state": np.zeros(7, np.float32)}, r"state must be float32\[8\]"),
        ({"state": "abc"}, r"state must be float32\[8\]"),
        ({"instruction": np.zeros(64, np.uint8)}, r"instruction must be a str or uint8\[128\]"),
        ({"instruction": 42}, "instruction must be"),
    ],
)
def test_bad_observation_is_a_value_error(models, change, message):
    eng = PolicyEngine(models["hold"])
    obs = _obs()
    obs.update(change)
    with pytest.raises(ValueError, match=message):
        eng.infer(obs)
    with pytest.raises(ValueError, match="lacks 'image'"):
        eng.infer({"state": np.zeros(8, np.float32), "instruction": "x"})
    with pytest.raises(ValueError, match="must be a dict"):
        eng.infer([1, 2, 3])


def test_card_without_sha256(tmp_path):
    p = make_dummy_policy(tmp_path / "m.onnx", kind="hold")
    card_path(p).write_text(json.dumps({"name": "m"}))
    with pytest.raises(ModelFileError, match="no sha256"):
        PolicyEngine(p)
    card_path(p).write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        PolicyEngine(p)


def test_write_card_records_the_file(tmp_path):
    p = make_dummy_policy(tmp_path / "m.onnx", kind="hold", card_extra={"success": {"Reach": {"en": 1.0}}})
    card = json.loads(card_path(p).read_text())
    assert card["file"] == "m.onnx" and card["bytes"] == p.stat().st_size and len(card["sha256"]) == 64
    assert card["success"] == {"Reach": {"en": 1.0}}
    assert PolicyEngine(p).card["sha256"] == card["sha256"]
    with pytest.raises(FileNotFoundError):
        write_card(tmp_path / "missing.onnx")


def test_graph_that_loads_but_cannot_run_fails_at_load(tmp_path):
    """Valid ONNX whose every run fails (80 values reshaped by 7): ModelFileError at load. With the
    batch axis pinned to 1 ONNX Runtime's shape inference sees it while loading; a graph it cannot
    see through would fail in the warm-up, which raises the same error type."""
    import onnx
    from onnx import helper

    p = make_dummy_policy(tmp_path / "m.onnx", kind="hold", card=False)
    model = onnx.load(str(p))
    g = model.graph
    ident = next(n for n in g.node if n.op_type == "Identity")
    g.initializer.append(onnx.numpy_helper.from_array(np.array([-1, 7], np.int64), "bad_shape"))
    g.initializer.append(onnx.numpy_helper.from_array(np.array([-1, 10, 8], np.int64), "good_shape"))
    g.node.remove(ident)
    g.node.append(helper.make_node("Reshape", [ident.input[0], "bad_shape"], ["bad"]))
    g.node.append(helper.make_node("Reshape", ["bad", "good_shape"], ["actions"]))
    onnx.save(model, str(p))
    with pytest.raises(ModelFileError, match="Reshape"):
        PolicyEngine(p, verify=False)
