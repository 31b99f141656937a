"""Real ONNX policy files without torch: graphs built with ``onnx.helper``, plus the model card writer.

Why this exists: the runtime (engine, control loop, bench, ROS nodes) must be tested against *real*
policy files run by a *real* ONNX Runtime session, but the trained model comes late and torch is not a
runtime dependency. These graphs honour the policy contract of ``docs/architecture.md`` exactly (inputs,
output, ``metadata_props``, card with sha256), so a host that runs them runs a trained policy too.

Kinds:

* ``hold``    -- every action point equals the current state (the arm stays where it is).
* ``linear``  -- state plus a small offset that grows along the chunk and depends (linearly, through
  fixed random weights) on the image mean, the state and the instruction bytes: a learned-looking head.
* ``mlp``     -- realistic compute: the frames average-pooled 4x, then ``layers`` dense layers of
  ``hidden`` units with ReLU, then an offset head; one inference costs about a millisecond or a few
  on a CPU core, which is what the loop bench needs to load the machine like a small policy.
* ``garbage`` -- NaN, +/-Inf and huge values in the output, for the safety filter's tests.

``write_card`` is the one place that writes ``models/<name>.json``; the exporter reuses it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM, INSTRUCTION_LEN, STATE_DIM
from jafm_robot.runtime.metadata import PolicyMetadata, card_path, expected_inputs, sha256_file

KINDS = ("hold", "linear", "mlp", "garbage")
OPSET = 17


def write_card(model_path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``<model>.json`` beside the ONNX file with its sha256 (and ``extra`` fields); return its path.

    The sha256 is computed here, from the bytes on disk, so a card can never describe a file other
    than the one it sits beside at the moment it was written.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"cannot write a card for a missing model: {model_path}")
    card: dict[str, Any] = dict(extra or {})
    card["file"] = model_path.name
    card["sha256"] = sha256_file(model_path)
    card["bytes"] = model_path.stat().st_size
    p = card_path(model_path)
    p.write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return p


def _tensor(name: str, arr: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.ascontiguousarray(arr), name=name)


def make_dummy_policy(
    path: str | Path,
    meta: PolicyMetadata | None = None,
    kind: str = "hold",
    *,
    hidden: int = 256,
    layers: int = 2,
    seed: int = 0,
    card: bool = True,
    card_extra: dict[str, Any] | None = None,
    omit_inputs: tuple[str, ...] = (),
    input_types: dict[str, str] | None = None,
    props_override: dict[str, str | None] | None = None,
) -> Path:
    """Write a real ONNX policy graph of ``kind`` to ``path`` (and its card); return the path.

    ``omit_inputs``, ``input_types`` and ``props_override`` (a value of None deletes the key) build
    deliberately *wrong* files for the loader's error tests; leave them at their defaults for a
    policy that honours the contract.
    """
    import onnx
    from onnx import TensorProto, helper

    if kind not in KINDS:
        raise ValueError(f"unknown dummy policy kind {kind!r}; choose one of {', '.join(KINDS)}")
    meta = meta or PolicyMetadata()
    rng = np.random.default_rng(seed)
    k = meta.chunk_len
    types = {"uint8": TensorProto.UINT8, "float32": TensorProto.FLOAT}

    spec = expected_inputs(meta)
    inputs = []
    for name, (dtype, shape) in spec.items():
        if name in omit_inputs:
            continue
        dtype = (input_types or {}).get(name, dtype)
        inputs.append(helper.make_tensor_value_info(name, types[dtype], list(shape)))
    output = helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["B", k, ACTION_DIM])

    nodes: list = []
    inits: list = []
    have = {i.name for i in inputs}

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(_tensor(name, arr))
        return name

    # base = state broadcast over the chunk: [B,1,8] + zeros[1,K,8] -> [B,K,8]
    if "state" in have:
        state_in = "state"
        if (input_types or {}).get("state", "float32") != "float32":  # a wrong file: keep the graph valid
            nodes.append(helper.make_node("Cast", ["state"], ["state_cast"], to=TensorProto.FLOAT))
            state_in = "state_cast"
        nodes.append(helper.make_node("Unsqueeze", [state_in, const("ax1", np.array([1], np.int64))], ["state_u"]))
        state_src = "state_u"
    else:  # a wrong file for the loader tests: still a valid graph
        state_src = const("fake_state", np.zeros((1, 1, STATE_DIM), np.float32))
    zeros = const("zeros_k", np.zeros((1, k, ACTION_DIM), np.float32))
    nodes.append(helper.make_node("Add", [state_src, zeros], ["base"]))

    def image_features(name: str, pool: int) -> str:
        """Cast, NHWC->NCHW, average-pool by ``pool``, flatten, scale to [0, 1]: [B, 3*(s/pool)^2]."""
        nodes.append(helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT))
        nodes.append(helper.make_node("Transpose", [f"{name}_f"], [f"{name}_t"], perm=[0, 3, 1, 2]))
        nodes.append(
            helper.make_node("AveragePool", [f"{name}_t"], [f"{name}_p"], kernel_shape=[pool, pool], strides=[pool, pool])
        )
        nodes.append(helper.make_node("Flatten", [f"{name}_p"], [f"{name}_fl"], axis=1))
        nodes.append(helper.make_node("Mul", [f"{name}_fl", const(f"{name}_sc", np.array(1 / 255, np.float32))], [f"{name}_n"]))
        return f"{name}_n"

    def dense(x: str, n_in: int, n_out: int, tag: str, relu: bool, scale: float) -> str:
        w = (rng.standard_normal((n_in, n_out)) * scale / np.sqrt(n_in)).astype(np.float32)
        b = (rng.standard_normal(n_out) * 0.01).astype(np.float32)
        nodes.append(helper.make_node("MatMul", [x, const(f"{tag}_w", w)], [f"{tag}_mm"]))
        nodes.append(helper.make_node("Add", [f"{tag}_mm", const(f"{tag}_b", b)], [f"{tag}_a"]))
        if relu:
            nodes.append(helper.make_node("Relu", [f"{tag}_a"], [f"{tag}_r"]))
            return f"{tag}_r"
        return f"{tag}_a"

    if kind == "hold":
        final = "base"
    elif kind == "garbage":
        junk = np.full((1, k, ACTION_DIM), 1e9, np.float32)
        junk[0, ::4, 0] = np.nan
        junk[0, 1::4, 1] = np.inf
        junk[0, 2::4, 2] = -np.inf
        junk[0, :, 3] = -1e9
        nodes.append(helper.make_node("Add", ["base", const("junk", junk)], ["final"]))
        final = "final"
    else:
        feats: list[tuple[str, int]] = []
        pool = 8 if kind == "linear" else 4
        side = meta.image_size // pool
        for cam in ("image", "wrist_image"):
            if cam in have and types[(input_types or {}).get(cam, "uint8")] == TensorProto.UINT8:
                feats.append((image_features(cam, pool), 3 * side * side))
        if "state" in have:
            feats.append((state_in, STATE_DIM))
        if "instruction" in have:
            nodes.append(helper.make_node("Cast", ["instruction"], ["instr_f"], to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Mul", ["instr_f", const("instr_sc", np.array(1 / 255, np.float32))], ["instr_n"]))
            feats.append(("instr_n", INSTRUCTION_LEN))
        nodes.append(helper.make_node("Concat", [f for f, _ in feats], ["feat"], axis=1))
        n = sum(d for _, d in feats)
        x = "feat"
        if kind == "mlp":
            for i in range(layers):
                x = dense(x, n, hidden, f"l{i}", relu=True, scale=1.0)
                n = hidden
        x = dense(x, n, k * ACTION_DIM, "head", relu=False, scale=0.05)
        nodes.append(helper.make_node("Reshape", [x, const("shape_k8", np.array([-1, k, ACTION_DIM], np.int64))], ["off"]))
        # a drift that grows along the chunk, like a policy that moves toward a goal
        ramp = (np.arange(1, k + 1, dtype=np.float32)[None, :, None] * 0.002).astype(np.float32)
        ramp = np.broadcast_to(ramp, (1, k, ACTION_DIM)).copy()
        ramp[..., 7] = 0.0
        nodes.append(helper.make_node("Add", ["off", const("ramp", ramp)], ["off2"]))
        nodes.append(helper.make_node("Add", ["base", "off2"], ["final"]))
        final = "final"
    nodes.append(helper.make_node("Identity", [final], ["actions"]))

    graph = helper.make_graph(nodes, f"jafm_dummy_{kind}", inputs, [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="jafm_robot.testing")
    model.ir_version = 8  # readable by every ONNX Runtime this project supports
    props = meta.to_props()
    for key, val in (props_override or {}).items():
        if val is None:
            props.pop(key, None)
        else:
            props[key] = val
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    if card:
        extra = {"name": path.stem, "kind": f"dummy-{kind}", "generated_by": "jafm_robot.runtime.testing"}
        extra.update(card_extra or {})
        write_card(path, extra)
    return path
