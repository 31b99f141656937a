"""Uniform weight averaging of fine-tunes that share one initialisation (``jafm-robot average``).

Why: two runs fine-tuned from the same network sit in one basin of the loss, and the average of
their weights often generalises better than either ("model soups", Wortsman et al. 2022; WiSE-FT,
the average of a network and its fine-tune). Measured here in session 11: the average of the
shipped s11 and its fine-tune s18 succeeded in 722 of 800 held-out PickPlace episodes, against 708
and 717 for the two alone.

The result is an ordinary checkpoint: the first ``.pt`` source's metadata (dataset facts, training
command, init chain) with the averaged weights, and an ``average`` entry naming every source with
its sha256, which the export copies into the model card.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import torch

from jafm_robot.policies.checkpoint import read_checkpoint, save_checkpoint, training_command
from jafm_robot.policies.vla.configuration_vla import VLAConfig
from jafm_robot.runtime.metadata import sha256_file


def average_checkpoints(sources: list[str | Path], out: str | Path, argv: list[str] | None = None) -> dict[str, Any]:
    """Write the uniform average of ``sources`` (``.pt`` checkpoints or jafm_robot ``.onnx``
    files, at least one ``.pt``) to ``out``; returns its ``average`` entry. Every source must be
    the same network: the same configuration and the same parameter shapes."""
    if len(sources) < 2:
        raise ValueError("average needs at least two checkpoints")
    ckpts = [read_checkpoint(s) for s in sources]
    pts = [i for i, s in enumerate(sources) if str(s).endswith(".pt")]
    if not pts:
        raise ValueError("average needs at least one .pt checkpoint (its metadata becomes the result's)")
    base = ckpts[pts[0]]
    cfg = VLAConfig.from_dict(base["vla_config"])  # through the dataclass: older checkpoints lack newer keys
    for s, c in zip(sources, ckpts, strict=True):
        other = VLAConfig.from_dict(c["vla_config"])
        if other != cfg:
            raise ValueError(f"{s} is a different network ({other.name}, not {cfg.name}): only runs of the same "
                             "configuration average")
    model: dict[str, torch.Tensor] = {}
    for key, ref in base["model"].items():
        vals = []
        for s, c in zip(sources, ckpts, strict=True):
            if key in set((c.get("from_onnx") or {}).get("fresh") or []):
                continue  # not in that ONNX file (the training-only head): its fresh values would be noise
            v = c["model"].get(key)
            if v is None or v.shape != ref.shape:
                raise ValueError(f"{s}: parameter {key} is missing or has another shape ({None if v is None else tuple(v.shape)} "
                                 f"vs {tuple(ref.shape)})")
            vals.append(v.float())
        model[key] = torch.stack(vals).mean(0).to(ref.dtype) if ref.is_floating_point() else ref.clone()
    entry = {"sources": [{"path": str(s), "sha256": sha256_file(s), "step": int(c.get("step", 0)),
                          "command": training_command(c)} for s, c in zip(sources, ckpts, strict=True)],
             "command": shlex.join(argv or [])}
    payload = {k: v for k, v in base.items() if k not in ("optimizer", "scheduler", "model")}
    payload.update(model=model, average=entry)
    save_checkpoint(out, payload)
    return entry
