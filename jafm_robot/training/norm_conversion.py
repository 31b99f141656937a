"""GroupNorm encoder -> affine-norm encoder, calibrated on real frames (``train --norm affine``).

Why: GroupNorm normalises every image by its own statistics, which ONNX Runtime cannot merge into
the conv before it; on the 2-core development box it costs the student about a fifth of its batch-1
latency (an InstanceNormalization plus NCHWc layout reorders around each of the twelve convs). An
affine norm (:class:`~jafm_robot.policies.vla.modeling_vla.ChannelAffine`) folds into the conv, so
the exported graph runs the convs alone. Retraining the whole chain of a shipped model from scratch
would take hours; converting a trained encoder and fine-tuning it takes one ordinary run.

How: the affine network starts from the GroupNorm network's weights (the parameter names are the
same). Then, layer by layer in forward order, each affine norm is set to the least-squares fit, per
channel, of the GroupNorm output ``y`` on the affine network's own input to that layer ``x`` over
the calibration frames: ``scale = cov(x, y) / var(x)``, ``shift = mean(y) - scale * mean(x)``.
Fitting on the affine network's inputs (not the GroupNorm network's) lets each layer absorb the
error of the ones before it. Where every calibration frame has the same statistics the fit is
exact; across varied scenes it is an approximation that the fine-tune then corrects, and the
report gives each layer's fraction of variance explained (R^2) so the size of that gap is visible.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from jafm_robot.policies.vla.modeling_vla import VLAPolicy


def _fit(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel least squares ``y ~ scale * x + shift`` over [N, C, H, W]; returns (scale,
    shift, R^2 per channel)."""
    c = x.shape[1]
    xs = x.transpose(0, 1).reshape(c, -1).double()
    ys = y.transpose(0, 1).reshape(c, -1).double()
    mx, my = xs.mean(1), ys.mean(1)
    dx, dy = xs - mx[:, None], ys - my[:, None]
    var_x = (dx * dx).mean(1)
    cov = (dx * dy).mean(1)
    # a channel that never varies (a dead ReLU upstream) has no slope to fit: keep it at its mean
    scale = torch.where(var_x > 1e-12, cov / var_x.clamp_min(1e-12), torch.zeros_like(cov))
    shift = my - scale * mx
    resid = dy - scale[:, None] * dx
    var_y = (dy * dy).mean(1)
    r2 = torch.where(var_y > 1e-12, 1.0 - (resid * resid).mean(1) / var_y.clamp_min(1e-12), torch.ones_like(var_y))
    return scale.float(), shift.float(), r2.float()


def _capture(module: nn.Module, run: Any, want: str) -> torch.Tensor:
    """The input (``want="in"``) or output of ``module`` during ``run()``."""
    got: list[torch.Tensor] = []

    def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        got.append((inputs[0] if want == "in" else output).detach())

    h = module.register_forward_hook(hook)
    try:
        run()
    finally:
        h.remove()
    return got[0]


@torch.no_grad()
def affine_from_group_norms(policy: VLAPolicy, images: dict[str, torch.Tensor],
                            instruction: torch.Tensor) -> tuple[VLAPolicy, dict[str, Any]]:
    """A ``vision.norm = "affine"`` copy of the GroupNorm ``policy``, its norms calibrated on
    ``images`` (uint8 [N, H, W, 3] per camera) and ``instruction`` (uint8 [N, 128], for FiLM);
    returns (new policy in eval mode, report with per-layer R^2)."""
    if policy.cfg.vision.norm != "group":
        raise ValueError(f"the policy's encoder norm is {policy.cfg.vision.norm!r}, not 'group': nothing to convert")
    missing = [c for c in policy.cfg.cameras if c not in images]
    if missing:
        raise ValueError(f"calibration frames are missing cameras {missing}")
    was_training = policy.training
    policy.eval()
    cfg = policy.cfg.with_(vision=replace(policy.cfg.vision, norm="affine"))
    new = VLAPolicy(cfg).to(next(policy.parameters()).device)
    new.load_state_dict(policy.state_dict())  # same names and shapes: GroupNorm weight/bias -> scale/shift
    new.eval()

    def cond_of(p: VLAPolicy) -> torch.Tensor | None:
        if p.text_pool is None:
            return None
        return p.text_pool(*p.text(instruction))

    cond_old, cond_new = cond_of(policy), cond_of(new)
    layers: list[dict[str, Any]] = []
    for cam in cfg.cameras:
        old_enc, new_enc = policy.cameras[cam], new.cameras[cam]
        for k, ((_, gn), (_, aff)) in enumerate(zip(old_enc.conv_norm_pairs(), new_enc.conv_norm_pairs(), strict=True)):
            y = _capture(gn, lambda e=old_enc, im=images[cam]: e(im, cond_old), "out")
            x = _capture(aff, lambda e=new_enc, im=images[cam]: e(im, cond_new), "in")
            scale, shift, r2 = _fit(x, y)
            aff.weight.copy_(scale)
            aff.bias.copy_(shift)
            layers.append({"camera": cam, "layer": k, "channels": int(scale.numel()),
                           "r2_mean": float(r2.mean()), "r2_min": float(r2.min())})
    policy.train(was_training)
    report = {"frames": int(instruction.shape[0]), "layers": layers,
              "r2_mean": float(sum(d["r2_mean"] for d in layers) / max(1, len(layers)))}
    return new, report
