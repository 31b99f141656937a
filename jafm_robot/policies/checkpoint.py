"""Checkpoint files: everything needed to resume training *and* to rebuild/export the policy.

A checkpoint carries the network config, the normalisation stats and the dataset facts the ONNX
metadata needs (fps/action_dt, cameras, tasks, languages, robot), so ``export`` and ``eval`` need
nothing but the ``.pt`` file.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import torch

from jafm_robot.policies.vla.configuration_vla import VLAConfig
from jafm_robot.policies.vla.modeling_vla import VLAPolicy
from jafm_robot.policies.vla.processor_vla import NormStats

CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """The file is not a jafm_robot VLA checkpoint, or is corrupt/truncated."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Atomic save: a run killed while saving keeps the previous ``last.pt``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A ``.pt`` checkpoint, or a shipped ``.onnx`` policy rebuilt as one
    (:func:`jafm_robot.policies.onnx_import.checkpoint_from_onnx`: no optimiser state)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".onnx":
        from jafm_robot.policies.onnx_import import checkpoint_from_onnx

        return {"format": CHECKPOINT_FORMAT, **checkpoint_from_onnx(path)}
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # torch raises several types (RuntimeError, UnpicklingError, EOFError) for bad files
        raise CheckpointError(f"{path}: cannot read checkpoint (corrupt or truncated?): {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "model" not in ckpt:
        raise CheckpointError(f"{path}: not a jafm_robot VLA checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def policy_from_checkpoint(ckpt: dict[str, Any] | str | Path, map_location: str = "cpu") -> tuple[VLAPolicy, dict[str, Any]]:
    """(policy in eval mode, checkpoint dict)."""
    if not isinstance(ckpt, dict):
        ckpt = read_checkpoint(ckpt, map_location)
    cfg = VLAConfig.from_dict(ckpt["vla_config"])
    model = VLAPolicy(cfg, NormStats.from_dict(ckpt["stats"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


def training_command(ckpt: dict[str, Any]) -> str:
    """The training command that made a checkpoint: a run's own command line, or for one read from a
    jafm_robot ONNX file the command its card names ("" where neither is known). The card's
    ``train_chain`` and an average's sources name their runs by it."""
    if ckpt.get("from_onnx") is not None:
        return str((ckpt["from_onnx"].get("training") or {}).get("command") or "")
    return shlex.join(ckpt.get("argv") or [])
