"""The ONNX graph of a VLA policy: the one exporter call, example inputs and the torch reference.

Both :mod:`jafm_robot.policies.export` (policy files) and :mod:`jafm_robot.policies.onnx_import`
(rebuilding a torch twin from a shipped file) export through :func:`export_graph`, so both graphs
fold alike; this module knows nothing of checkpoints, which keeps the two free of a cycle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from jafm_robot.contract import STATE_DIM, encode_instruction
from jafm_robot.policies.vla.modeling_vla import OnnxVLA, VLAPolicy, fold_affine_norms, onnx_input_order
from jafm_robot.runtime.metadata import BATCH_AXIS

OPSET = 17
PARITY_TOL = 1e-4


def example_inputs(policy: VLAPolicy, batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Random but plausible inputs: noise images, state around the data mean, real instructions."""
    rng = np.random.default_rng(seed)
    s = policy.cfg.image_size
    out: dict[str, np.ndarray] = {}
    for cam in ("image", "wrist_image"):
        if cam in policy.cfg.cameras:
            out[cam] = rng.integers(0, 256, size=(batch, s, s, 3), dtype=np.uint8)
    mean = policy.state_mean.cpu().numpy()
    std = policy.state_std.cpu().numpy()
    out["state"] = (mean + std * rng.standard_normal((batch, STATE_DIM))).astype(np.float32)
    texts = ["pick up the red cube and place it in the bin", "赤いキューブを箱に入れてください"]
    out["instruction"] = np.stack([encode_instruction(texts[i % 2]) for i in range(batch)])
    return out


def torch_predict(policy: VLAPolicy, feeds: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        images = {c: torch.from_numpy(feeds[c]) for c in policy.cfg.cameras}
        return policy(images, torch.from_numpy(feeds["state"]), torch.from_numpy(feeds["instruction"])).numpy()


def export_graph(policy: VLAPolicy, feeds: dict[str, np.ndarray], f: Any, opset: int = OPSET) -> None:
    """The one exporter call (to a path or a file object): ``export_onnx`` writes policy files with
    it, and ``onnx_import`` exports its probe network with it, so both graphs fold alike. Affine
    norms are merged into their convs first (:func:`fold_affine_norms`)."""
    names = onnx_input_order(policy.cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            OnnxVLA(fold_affine_norms(policy)).eval(), tuple(torch.from_numpy(feeds[n]) for n in names), f, input_names=names,
            output_names=["actions"], dynamic_axes={**{n: {0: BATCH_AXIS} for n in names}, "actions": {0: BATCH_AXIS}},
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )
