"""Checkpoint -> ONNX policy file per docs/architecture.md, plus its model card, plus a parity check.

The graph takes raw inputs (uint8 images NHWC, float32 state, uint8 instruction bytes) and returns
absolute targets ``actions`` float32[B, chunk_len, 8]; normalisation is inside. The batch axis is
dynamic so the same file serves batch-1 control and batched evaluation.

Exporter: the TorchScript-based exporter (``dynamo=False``). It is still shipped and supported in
torch 2.13, needs no extra package (the dynamo exporter needs ``onnxscript``), and for this network
(convs, matmuls, layer norms) produces a compact opset-17 graph that ONNX Runtime runs bit-for-bit
close to torch (parity checked at export, <= 1e-4).
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jafm_robot.contract import ACTION_DIM, INSTRUCTION_LEN
from jafm_robot.policies.checkpoint import policy_from_checkpoint, read_checkpoint, training_command
from jafm_robot.policies.onnx_graph import OPSET, PARITY_TOL, example_inputs, export_graph, torch_predict
from jafm_robot.policies.vla.modeling_vla import VLAPolicy, onnx_input_order
from jafm_robot.runtime.metadata import PolicyMetadata, card_path, sha256_file


def build_metadata(ckpt: dict[str, Any], policy: VLAPolicy) -> PolicyMetadata:
    facts = ckpt.get("dataset", {})
    tasks = facts.get("env_tasks") or []
    meta = PolicyMetadata(
        robot=facts.get("robot", "panda"),
        joint_names=list(facts.get("joint_names") or [f"panda_joint{i}" for i in range(1, 8)]),
        action_dt=float(facts.get("action_dt", 0.1)),
        chunk_len=int(policy.cfg.chunk_len),
        image_size=int(policy.cfg.image_size),
        cameras=list(policy.cfg.cameras),
        tasks=list(tasks),
        languages=list(facts.get("languages") or ["en"]),
        training={
            "policy": "vla",
            "size": policy.cfg.name,
            # what the named size does not say, and onnx_import needs to rebuild the network
            "vision_norm": policy.cfg.vision.norm,
            "parameters": policy.num_parameters(),
            "steps": int(ckpt.get("step", 0)),
            "final_loss": ckpt.get("loss"),
            "dataset": facts.get("root"),
            "episodes": facts.get("num_episodes"),
            "frames": facts.get("num_frames"),
            "scene": facts.get("scene"),
            "command": shlex.join(ckpt.get("argv") or []),
            "record_commands": list(facts.get("record_commands") or []),
            "layouts_commands": list((facts.get("layouts") or {}).get("commands") or []),
            "init_chain": init_chain(ckpt),
            # `jafm-robot average`: the checkpoints whose weights were averaged into this one
            **({"average": ckpt["average"]} if ckpt.get("average") else {}),
        },
    )
    meta.validate("export")
    return meta


def onnx_init_card(ckpt: dict[str, Any], sha256: str | None) -> dict[str, Any] | None:
    """For a checkpoint read from a jafm_robot ONNX file, what its card says made it (the run's
    command and init chain) with the file's ``sha256``; None for any other checkpoint. ``train``
    stores this for its init (``init_card``) and :func:`init_chain` follows it."""
    src = ckpt.get("from_onnx")
    if src is None:
        return None
    return {"sha256": sha256, "step": int(ckpt.get("step", 0)), "command": training_command(ckpt),
            "init_chain": list((src.get("training") or {}).get("init_chain") or [])}


def init_chain(ckpt: dict[str, Any], limit: int = 16) -> list[dict[str, Any]]:
    """The training runs this checkpoint was fine-tuned from (``train --init``), oldest first:
    each run's command and the checkpoint of it that the next run started from. A shipped ONNX init
    is taken as its card stood when the run started (``init_card``, stored by ``train``), since the
    same path later holds the next shipped model. A checkpoint that is no longer on disk, or was
    replaced since (``init_sha256``), ends the chain with a note, so the card says what it cannot
    vouch for."""
    from jafm_robot.policies.checkpoint import read_checkpoint

    chain: list[dict[str, Any]] = []
    init = (ckpt.get("train_config") or {}).get("init")
    child = ckpt
    while init and len(chain) < limit:
        # a shipped ONNX init: as its card stood when the run started from it, else as it reads now
        snap = child.get("init_card")
        if not snap:
            try:
                parent = read_checkpoint(init)
            except (FileNotFoundError, ValueError) as e:
                chain.append({"checkpoint": str(init), "missing": str(e)})
                break
            started_from = child.get("init_sha256")
            now = sha256_file(init) if (started_from or parent.get("from_onnx") is not None) else None
            if started_from and now != started_from:
                chain.append({"checkpoint": str(init), "sha256": started_from,
                              "missing": f"replaced since that run started from it: the file there now has sha256 "
                                         f"{now[:12]}..., so its history is not followed"})
                break
            snap = onnx_init_card(parent, now)
        if snap:  # its card's chain, then the run that made it
            chain.append({"checkpoint": str(init), "sha256": snap.get("sha256"), "step": int(snap.get("step", 0)),
                          "command": snap.get("command") or ""})
            chain.extend(reversed(list(snap.get("init_chain") or [])))
            break
        run_ckpt = str(init)
        if parent.get("average"):  # `jafm-robot average`: the averaging, after the run whose metadata it kept
            sources = parent["average"].get("sources") or []
            chain.append({"checkpoint": str(init), "step": int(parent.get("step", 0)),
                          "command": parent["average"].get("command") or "",
                          "average_of": [{k: src.get(k) for k in ("path", "sha256", "command")} for src in sources]})
            run_ckpt = next((str(src["path"]) for src in sources if str(src.get("path")).endswith(".pt")), run_ckpt)
        chain.append({"checkpoint": run_ckpt, "step": int(parent.get("step", 0)), "command": training_command(parent)})
        init = (parent.get("train_config") or {}).get("init")
        child = parent
    return chain[::-1]


def export_onnx(checkpoint: str | Path, out: str | Path, *, opset: int = OPSET, command: list[str] | None = None,
                parity_batch: int = 2) -> dict[str, Any]:
    """Write ``out`` (.onnx) and its card ``out.json``; returns the card. Raises if parity fails."""
    import onnx
    import onnxruntime as ort

    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"--out must end in .onnx, got {out}")
    ckpt = read_checkpoint(checkpoint)
    policy, _ = policy_from_checkpoint(ckpt)
    meta = build_metadata(ckpt, policy)
    names = onnx_input_order(policy.cfg)
    feeds = example_inputs(policy, parity_batch)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    export_graph(policy, feeds, str(tmp), opset)
    model = onnx.load(str(tmp))
    # The tracer can leave the chunk axis symbolic (the student slices its query tokens off a
    # longer sequence); the contract says [B, chunk_len, 8], and the runtime checks it.
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    for d, n in zip(out_dims[1:], (policy.cfg.chunk_len, ACTION_DIM), strict=True):
        d.ClearField("dim_param")
        d.dim_value = n
    for k, v in meta.to_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = "jafm_robot"
    onnx.checker.check_model(model)
    onnx.save(model, str(tmp))
    tmp.replace(out)

    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(["actions"], feeds)[0]
    want = torch_predict(policy, feeds)
    max_diff = float(np.max(np.abs(got - want)))
    if not max_diff <= PARITY_TOL:
        raise RuntimeError(f"{out}: ONNX Runtime and torch disagree by {max_diff:.2e} (> {PARITY_TOL}); export is wrong")

    card = {
        "name": out.stem,
        "file": out.name,
        "sha256": sha256_file(out),
        "parameters": policy.num_parameters(),
        "size": policy.cfg.name,
        "inputs": names,
        "output": "actions",
        "chunk_len": policy.cfg.chunk_len,
        "action_dt": meta.action_dt,
        "image_size": policy.cfg.image_size,
        "cameras": list(policy.cfg.cameras),
        "tasks": meta.tasks,
        "languages": meta.languages,
        "opset": opset,
        "parity_max_abs_diff": max_diff,
        "training": meta.training,
        "commands": {
            "record": meta.training.get("record_commands") or [],
            "layouts": meta.training.get("layouts_commands") or [],
            # runs fine-tuned from one another (train --init), oldest first, then the final one
            "train_chain": [c.get("command") for c in meta.training.get("init_chain") or []],
            "train": meta.training.get("command"),
            **({"average": meta.training["average"]["command"],
                # every averaged run's own training command (only the first run's is "train")
                "average_sources": [src.get("command") or "" for src in meta.training["average"].get("sources") or []]}
               if meta.training.get("average") else {}),
            "export": shlex.join(command or []),
        },
        "latency": None,  # filled by `jafm-robot bench latency --policy FILE --card`
        "success": {},  # filled by `jafm-robot eval --policy FILE --card`: task -> language -> result
        "environment": {"torch": torch.__version__, "onnxruntime": ort.__version__, "python": sys.version.split()[0],
                        "platform": platform.platform()},
    }
    card["history"] = _history(card_path(out), card["sha256"])
    card_path(out).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card


#: what a replaced model's card keeps of it, in ``history``
HISTORY_KEYS = ("sha256", "parameters", "training", "success", "teacher", "latency", "commands")


def _history(path: Path, new_sha256: str) -> list[dict[str, Any]]:
    """The ``history`` of a model shipped again under the same name: the card it replaces (its
    figures, its commands) goes first, older entries after, so the numbers of every version that
    ever shipped stay beside the new one's. A re-export of the same bytes adds nothing."""
    if not path.is_file():
        return []
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    history = list(old.get("history") or [])
    if old.get("sha256") == new_sha256:
        return history
    entry = {k: old[k] for k in HISTORY_KEYS if k in old}
    entry["training"] = {k: v for k, v in (old.get("training") or {}).items()
                         if k in ("command", "steps", "episodes", "frames", "dataset", "final_loss")}
    return [entry, *history]


def update_card(model_path: str | Path, section: str, value: Any, key: str | None = None) -> bool:
    """Put a measured result (latency, success) into an existing card, keeping everything else."""
    return update_card_entries(model_path, [(section, key, value)])


def update_card_entries(model_path: str | Path, entries: list[tuple[str, str | None, Any]]) -> bool:
    """Several (section, key or None, value) results in one read-modify-write of the card; False
    when the model has no card to update."""
    p = card_path(model_path)
    if not p.is_file():
        return False
    card = json.loads(p.read_text())
    for section, key, value in entries:
        if key is None:
            card[section] = value
            continue
        if not isinstance(card.get(section), dict):
            card[section] = {}
        card[section][key] = value
    p.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return True


__all__ = ["INSTRUCTION_LEN", "export_onnx", "update_card", "update_card_entries"]
