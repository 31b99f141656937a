"""A shipped ONNX policy -> a torch checkpoint that training can start from (``train --init X.onnx``).

Why: a project that ships only ``models/*.onnx`` (the ``.pt`` files live in git-ignored run
folders) would otherwise have to repeat a shipped model's whole training chain before it can be
fine-tuned, or before ``bench latency`` can time it in torch.

How: the exporter (``policies.export``) keeps most parameters under their own names, but constant
folding turns some into anonymous initializers (a linear layer's weight becomes a transposed
``onnx::MatMul_N``, a GroupNorm's affine a ``[C, 1, 1]`` ``onnx::Mul_N``, a row of ``type_emb`` an
``onnx::Add_N``). Rather than guessing those names, we *probe*: give every parameter of a fresh
network of the same configuration distinct random values, export that with the same exporter
call (``policies.onnx_graph.export_graph``), and find each initializer's source by its values (as
is, transposed, or one row). The constant that the same node reads at the same input slot in the
shipped file then fills that parameter (followed through Identity nodes: the exporter merges
equal weights, and its anonymous names then shift). Parameters the graph does not use
(the training-only auxiliary head) keep a fresh initialisation and are listed in the result, and
the rebuilt network must reproduce the file's outputs (``PARITY_TOL``) or loading fails.
"""

from __future__ import annotations

import io
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jafm_robot.policies.onnx_graph import OPSET, PARITY_TOL, example_inputs, export_graph, torch_predict
from jafm_robot.policies.vla.configuration_vla import NORMS, SIZES, get_config
from jafm_robot.policies.vla.modeling_vla import ChannelAffine, VLAPolicy, onnx_input_order
from jafm_robot.policies.vla.processor_vla import NormStats
from jafm_robot.runtime.metadata import ModelFileError, PolicyMetadata

#: normalisation buffers the graph reads (action_mean/std are unused when predicting offsets)
_STAT_BUFFERS = ("state_mean", "state_std", "delta_mean", "delta_std", "action_mean", "action_std")


def _export_to_memory(policy: VLAPolicy, opset: int) -> Any:
    import onnx

    buf = io.BytesIO()
    export_graph(policy, example_inputs(policy, 1), buf, opset)
    return onnx.load_from_string(buf.getvalue())


def _initializers(model: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _resolver(model: Any) -> Any:
    """name -> the constant array behind it (an initializer, or one seen through Identity nodes,
    which the exporter inserts where it merged equal initializers), or None."""
    inits = _initializers(model)
    identity = {node.output[0]: node.input[0] for node in model.graph.node if node.op_type == "Identity"}

    def value_of(name: str) -> np.ndarray | None:
        for _ in range(8):
            if name in inits:
                return inits[name]
            if name not in identity:
                return None
            name = identity[name]
        return None

    return value_of


def _config_for(meta: PolicyMetadata, source: str) -> Any:
    size = str(meta.training.get("size") or "")
    if size not in SIZES:
        raise ModelFileError(f"{source}: training.size {size!r} is not a known VLA size ({', '.join(SIZES)}); "
                             "cannot rebuild its network")
    norm = str(meta.training.get("vision_norm") or "group")  # files from before the option: GroupNorm
    if norm not in NORMS:
        raise ModelFileError(f"{source}: training.vision_norm {norm!r} is not one of {', '.join(NORMS)}")
    cfg = get_config(size, cameras=tuple(meta.cameras), chunk_len=meta.chunk_len, image_size=meta.image_size)
    return cfg.with_(vision=replace(cfg.vision, norm=norm))


def _affine_keys(policy: VLAPolicy) -> list[str]:
    """State keys of the :class:`ChannelAffine` norms, which the export folds into their convs:
    the rebuilt network keeps them at identity (scale 1, shift 0) and the convs carry them."""
    return [f"{name}.{p}" for name, m in policy.named_modules() if isinstance(m, ChannelAffine) for p in ("weight", "bias")]


def _match(value: np.ndarray, probe: dict[str, torch.Tensor]) -> tuple[str, str, int] | None:
    """(parameter name, how, row) whose probe values equal ``value``: as is (reshaped), transposed,
    or one row of a 2-D parameter (``type_emb[i]`` is added on its own, so it folds to its own
    constant)."""
    flat = value.reshape(-1)
    for name, t in probe.items():
        a = t.detach().numpy()
        if a.size == value.size:
            if np.array_equal(a.reshape(-1), flat):
                return name, "reshape", -1
            if a.ndim == 2 and np.array_equal(a.T.reshape(-1), flat):
                return name, "transpose", -1
        elif a.ndim == 2 and a.shape[1] == value.size:
            rows = np.flatnonzero((a == flat).all(axis=1))
            if rows.size:
                return name, "row", int(rows[0])
    return None


def policy_from_onnx(path: str | Path, opset: int | None = None) -> tuple[VLAPolicy, dict[str, Any]]:
    """Rebuild the torch policy of a jafm_robot ONNX file; returns (policy in eval mode, report)."""
    import onnx
    import onnxruntime as ort

    path = Path(path)
    try:
        shipped = onnx.load(str(path))
    except Exception as e:  # onnx raises DecodeError and others for a bad file
        raise ModelFileError(f"{path}: cannot read ONNX file (corrupt or truncated?): {e}") from e
    meta = PolicyMetadata.from_props({p.key: p.value for p in shipped.metadata_props}, str(path))
    cfg = _config_for(meta, str(path))
    opset = opset or (shipped.opset_import[0].version if shipped.opset_import else OPSET)
    value_of = _resolver(shipped)

    gen = torch.Generator().manual_seed(0)
    probe_policy = VLAPolicy(cfg)
    with torch.no_grad():
        for t in probe_policy.parameters():
            t.copy_(torch.randn(t.shape, generator=gen))
        for name in _STAT_BUFFERS:  # the graph divides by the stds: keep them away from zero
            getattr(probe_policy, name).copy_(torch.rand(8, generator=gen) + 0.5)
        affine = _affine_keys(probe_policy)
        for key in affine:  # identity, so each folded conv keeps the probe's own values
            probe_policy.get_parameter(key).fill_(1.0 if key.endswith("weight") else 0.0)
    probe_state = {k: v for k, v in probe_policy.state_dict().items() if k.split(".")[-1] != "grid"}
    probe_model = _export_to_memory(probe_policy, opset)
    probe_inits = _initializers(probe_model)
    # where each probe initializer is read: (node name, input slot) is the same in every export of
    # this network, while anonymous initializer names shift when the exporter merges equal values
    readers: dict[str, tuple[str, int]] = {}
    for node in probe_model.graph.node:
        for k, name in enumerate(node.input):
            if name in probe_inits and node.op_type != "Identity":
                readers.setdefault(name, (node.name, k))
    shipped_nodes = {node.name: node for node in shipped.graph.node}

    policy = VLAPolicy(cfg)
    state = policy.state_dict()
    loaded: dict[str, str] = {}  # state key -> where it came from

    def put(key: str, value: np.ndarray, onnx_name: str, how: str = "reshape", row: int = -1) -> None:
        want = state[key][row] if how == "row" else state[key]
        if value.size != want.numel():
            raise ModelFileError(f"{path}: initializer {onnx_name!r} has {value.size} values, the {cfg.name!r} "
                                 f"network's {key} needs {want.numel()}")
        t = torch.tensor(np.array(value, dtype=np.float32))
        t = (t.T if how == "transpose" else t).reshape(want.shape)
        if how == "row":
            state[key][row] = t
            loaded[f"{key}[{row}]"] = onnx_name
        else:
            state[key] = t
            loaded[key] = onnx_name

    for key in probe_state:  # named parameters and buffers: as they are
        value = value_of(f"policy.{key}")
        if value is not None:
            put(key, value, f"policy.{key}")
    for onnx_name, probe_value in probe_inits.items():  # folded ones: found by the probe's values
        if onnx_name.startswith("policy."):
            continue
        hit = _match(probe_value, probe_state)
        if hit is None:
            continue  # a constant the exporter made (shapes, masks)
        node_name, slot = readers.get(onnx_name, ("", 0))
        node = shipped_nodes.get(node_name)
        value = value_of(node.input[slot]) if node is not None and slot < len(node.input) else None
        if value is None:
            raise ModelFileError(f"{path}: no constant feeds {node_name or onnx_name!r}: not a {cfg.name!r} "
                                 "network exported by this jafm_robot")
        put(hit[0], value, f"{node_name}:{slot}", hit[1], hit[2])
    policy.load_state_dict(state)
    policy.eval()
    rows_of = {k.split("[")[0] for k in loaded if "[" in k}
    fresh = sorted(k for k in probe_state if k not in loaded and k not in rows_of and k not in affine)
    for k in rows_of:  # a row-wise parameter must be complete
        missing = [i for i in range(state[k].shape[0]) if f"{k}[{i}]" not in loaded]
        if missing:
            fresh.append(f"{k}{missing}")

    feeds = example_inputs(policy, 2)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(["actions"], {n: feeds[n] for n in onnx_input_order(cfg)})[0]
    diff = float(np.max(np.abs(got - torch_predict(policy, feeds))))
    if not diff <= PARITY_TOL:
        raise ModelFileError(f"{path}: the rebuilt {cfg.name!r} network differs from the file by {diff:.2e} "
                             f"(> {PARITY_TOL}); fresh parameters: {fresh}")
    return policy, {"source": str(path), "loaded": len(loaded), "fresh": fresh, "parity_max_abs_diff": diff,
                    "metadata": meta}


def checkpoint_from_onnx(path: str | Path) -> dict[str, Any]:
    """A checkpoint payload (as ``read_checkpoint`` returns, less the ``format`` it adds) rebuilt from an ONNX policy file, so that
    ``train --init``, ``distill --student-init`` and ``bench latency`` accept a shipped model. Its dataset facts
    and training command come from the file's metadata; ``fresh`` lists what was not recovered."""
    policy, report = policy_from_onnx(path)
    meta: PolicyMetadata = report.pop("metadata")
    tr = meta.training
    stats = NormStats(**{k: getattr(policy, k).numpy().copy() for k in _STAT_BUFFERS})
    return {
        "model": policy.state_dict(),
        "vla_config": policy.cfg.to_dict(),
        "stats": stats.to_dict(),
        "step": int(tr.get("steps") or 0),
        "loss": tr.get("final_loss"),
        "argv": shlex.split(str(tr.get("command") or "")),  # the run that made the file
        "train_config": {"init": None},
        "dataset": {
            "robot": meta.robot, "joint_names": meta.joint_names, "action_dt": meta.action_dt,
            "env_tasks": meta.tasks, "languages": meta.languages, "root": tr.get("dataset"),
            "num_episodes": tr.get("episodes"), "num_frames": tr.get("frames"), "scene": tr.get("scene"),
            "record_commands": tr.get("record_commands") or [],
            "layouts": {"commands": tr.get("layouts_commands") or []},
        },
        "from_onnx": {**report, "training": tr},
    }


__all__ = ["checkpoint_from_onnx", "policy_from_onnx"]
