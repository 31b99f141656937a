"""The VLA network (torch): camera conv encoders + byte-level instruction encoder + state token,
fused by one transformer with ``chunk_len`` learned action queries (ACT-style, no VAE).

Everything a host would otherwise have to replicate lives inside ``forward``: uint8 -> float image
scaling, byte embedding, state normalisation and action de-normalisation (dataset statistics are
buffers). The exported ONNX graph therefore maps raw observations to absolute joint targets.

The attention is written out with plain matmuls and an additive mask rather than
``nn.MultiheadAttention`` so the ONNX export is a small, exact graph (no fused fast paths whose
numerics differ between torch and ONNX Runtime).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jafm_robot.contract import ACTION_DIM, STATE_DIM
from jafm_robot.policies.vla.configuration_vla import VLAConfig
from jafm_robot.policies.vla.processor_vla import NormStats

NEG = -1e4  # additive mask value; finite so a fully masked row cannot produce NaN


class FiLM(nn.Module):
    """Per-channel scale and shift from the instruction vector; zero-initialised, so a fresh
    network starts as the unconditioned encoder and learns how much to condition."""

    def __init__(self, d: int, channels: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d, 2 * channels)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        g, b = self.lin(cond)[:, :, None, None].chunk(2, dim=1)
        return x * (1.0 + g) + b


class SpatialSoftmax(nn.Module):
    """[B, C, h, w] features -> [B, K, 2] expected (x, y) in [-1, 1] of K learned attention maps."""

    def __init__(self, c_in: int, k: int, h: int, w: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(c_in, k, 1)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], -1))  # [h*w, 2]

    def forward(self, x: torch.Tensor, return_logits: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        logits = self.proj(x).flatten(2)  # [B, K, h*w]
        xy = logits.softmax(-1) @ self.grid
        return (xy, logits) if return_logits else xy


class ChannelAffine(nn.Module):
    """Per-channel ``x * weight + bias`` after a conv: ``vision.norm = "affine"``.

    It reads no statistics of its input, so it is a linear map on each channel that
    :func:`fold_affine_norms` merges into the conv before it: the exported graph is the conv alone.
    The parameter names equal GroupNorm's, so a GroupNorm checkpoint loads into it as is (and is
    then calibrated: :mod:`jafm_robot.training.norm_conversion`).
    """

    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def make_norm(norm: str, c: int) -> nn.Module:
    """The norm layer after a ``c``-channel conv (``VisionConfig.norm``)."""
    return nn.GroupNorm(min(4, c), c) if norm == "group" else ChannelAffine(c)


class ResConv(nn.Module):
    """x + relu(norm(conv3x3(x))): an extra nonlinearity at a stage's resolution."""

    def __init__(self, c: int, norm: str = "group") -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.norm = make_norm(norm, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.norm(self.conv(x)))


class CameraEncoder(nn.Module):
    """uint8 NHWC image -> [B, g*g (+K), d] tokens with a learned position per token.

    With ``vision.film`` every conv block is modulated by the instruction vector; with
    ``vision.keypoints`` K spatial-softmax keypoint tokens follow the pooled grid tokens.
    """

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        self.res = nn.ModuleList()
        self.films = nn.ModuleList() if cfg.vision.film else None
        c_in = 3
        for i, c in enumerate(cfg.vision.channels):
            if i == 0 and cfg.vision.stem_stride != 2:
                s = cfg.vision.stem_stride
                conv = nn.Conv2d(c_in, c, s, stride=s)
            else:
                conv = nn.Conv2d(c_in, c, 3, stride=2, padding=1)
            self.blocks.append(nn.Sequential(conv, make_norm(cfg.vision.norm, c)))
            self.res.append(nn.ModuleList(ResConv(c, cfg.vision.norm) for _ in range(cfg.vision.depth - 1)))
            if self.films is not None:
                self.films.append(FiLM(cfg.d_model, c))
            c_in = c
        self.grid = cfg.vision.token_grid
        self.feat = cfg.image_size // cfg.vision.downsample
        self.proj = nn.Conv2d(c_in, cfg.d_model, 1)
        k = cfg.vision.keypoints
        self.keypoints = SpatialSoftmax(c_in, k, self.feat, self.feat) if k else None
        self.kp_proj = nn.Linear(2, cfg.d_model) if k else None
        self.pos = nn.Parameter(torch.randn(1, self.grid * self.grid + k, cfg.d_model) * 0.02)

    def conv_norm_pairs(self) -> list[tuple[nn.Conv2d, nn.Module]]:
        """Every (conv, the norm right after it), in forward order."""
        pairs: list[tuple[nn.Conv2d, nn.Module]] = []
        for blk, res in zip(self.blocks, self.res, strict=True):
            pairs.append((blk[0], blk[1]))
            pairs.extend((r.conv, r.norm) for r in res)
        return pairs

    def forward(self, image_u8: torch.Tensor, cond: torch.Tensor | None = None,
                kp_logits: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Tokens; when ``kp_logits`` is a list the keypoint attention logits [B, K, h*w] are
        appended to it (training-time keypoint supervision)."""
        x = image_u8.permute(0, 3, 1, 2).float() * (1.0 / 255.0)
        x = (x - 0.5) * 4.0
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if self.films is not None and cond is not None:
                x = self.films[i](x, cond)
            x = F.relu(x)
            for r in self.res[i]:
                x = r(x)
        feats = x
        if self.feat != self.grid:
            k = self.feat // self.grid
            x = F.avg_pool2d(x, k, k)
        toks = self.proj(x).flatten(2).transpose(1, 2)  # [B, g*g, d]
        if self.keypoints is not None:
            xy, logits = self.keypoints(feats, return_logits=True)
            if kp_logits is not None:
                kp_logits.append(logits)
            toks = torch.cat([toks, self.kp_proj(xy)], 1)
        return toks + self.pos


class TextPool(nn.Module):
    """Instruction tokens -> one vector (the FiLM condition) by attention from two learned queries
    (roughly "which part" and "where to"), so word order survives: "the red cube in the blue bin"
    and "the blue cube in the red bin" must not pool to the same vector."""

    def __init__(self, d: int, n_queries: int = 2) -> None:
        super().__init__()
        self.q = nn.Parameter(torch.randn(n_queries, d) * 0.02)
        self.out = nn.Sequential(nn.Linear(n_queries * d, d), nn.GELU(), nn.Linear(d, d))
        self.scale = 1.0 / math.sqrt(d)

    def forward(self, toks: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        att = (self.q @ toks.transpose(1, 2)) * self.scale + ((1.0 - valid) * NEG)[:, None, :]  # [B, Q, L]
        pooled = att.softmax(-1) @ toks  # [B, Q, d]
        return self.out(pooled.flatten(1))


class ByteEncoder(nn.Module):
    """uint8 instruction bytes -> [B, L', d] tokens + validity mask (padding bytes are 0)."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        t = cfg.text
        self.k, self.s, self.p = t.kernel, t.stride, (t.kernel - t.stride) // 2
        self.embed = nn.Embedding(256, cfg.d_model)
        self.conv = nn.Conv1d(cfg.d_model, cfg.d_model, self.k, stride=self.s, padding=self.p)
        n_tok = (cfg.instruction_len + 2 * self.p - self.k) // self.s + 1
        self.pos = nn.Parameter(torch.randn(1, n_tok, cfg.d_model) * 0.02)

    def forward(self, instruction_u8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = instruction_u8.long()
        x = self.embed(ids).transpose(1, 2)  # [B, d, L]
        x = F.gelu(self.conv(x)).transpose(1, 2) + self.pos
        nonzero = (ids > 0).float().unsqueeze(1)
        valid = F.max_pool1d(nonzero, self.k, self.s, self.p).squeeze(1)  # [B, L']
        return x, valid


class Block(nn.Module):
    def __init__(self, d: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.h = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, ff_mult * d), nn.GELU(), nn.Linear(ff_mult * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, s, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.h)) + bias
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.mlp(self.ln2(x)))


class VLAPolicy(nn.Module):
    """Raw observation tensors in, absolute action chunk [B, chunk_len, 8] out."""

    def __init__(self, cfg: VLAConfig, stats: NormStats | None = None) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        stats = stats or NormStats.identity()
        for name, val in stats.__dict__.items():
            # a copy each: NormStats.identity() hands the same array to every mean (and std), and
            # buffers sharing storage would overwrite one another on load_state_dict
            self.register_buffer(name, torch.tensor(np.asarray(val), dtype=torch.float32).reshape(ACTION_DIM))
        d = cfg.d_model
        self.cameras = nn.ModuleDict({cam: CameraEncoder(cfg) for cam in cfg.cameras})
        self.text = ByteEncoder(cfg)
        self.text_pool = TextPool(d) if cfg.vision.film else None
        self.state_proj = nn.Linear(STATE_DIM, d)
        self.type_emb = nn.Parameter(torch.randn(len(cfg.cameras) + 3, d) * 0.02)  # cams, text, state, query
        self.queries = nn.Parameter(torch.randn(1, cfg.chunk_len, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.n_heads, cfg.ff_mult, cfg.dropout) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, ACTION_DIM)
        if cfg.aux_dim:
            self.aux_query = nn.Parameter(torch.randn(1, 1, d) * 0.02)
            self.aux_head = nn.Linear(d, cfg.aux_dim)
        nn.init.zeros_(self.head.weight)  # start from "hold the mean offset": a sane first policy
        nn.init.zeros_(self.head.bias)

    def resize_aux_head(self, aux_dim: int) -> None:
        """Give the training-only auxiliary head ``aux_dim`` outputs, keeping the learned rows it
        shares with the old head (fine-tuning a checkpoint from before a target was added). The
        exported graph does not contain this head, so deployed behaviour is unchanged."""
        if not self.cfg.aux_dim or aux_dim == self.cfg.aux_dim:
            return
        old = self.aux_head
        new = nn.Linear(old.in_features, aux_dim).to(old.weight.device)
        n = min(aux_dim, old.out_features)
        with torch.no_grad():
            new.weight[:n] = old.weight[:n]
            new.bias[:n] = old.bias[:n]
        self.aux_head = new
        self.cfg = self.cfg.with_(aux_dim=aux_dim)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def predict_normalized(self, images: dict[str, torch.Tensor], state: torch.Tensor, instruction: torch.Tensor,
                           return_aux: bool = False) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """[B, chunk_len, 8] in the normalised space the loss is computed in. With ``return_aux``
        also the training-only extras: ``aux`` [B, aux_dim] and, with keypoints, ``kp_logits``
        [B, n_cameras, K, h*w]."""
        b = state.shape[0]
        text, text_valid = self.text(instruction)
        cond = self.text_pool(text, text_valid) if self.text_pool is not None else None
        toks, valid = [], []
        kp_logits: list[torch.Tensor] | None = [] if (return_aux and self.cfg.vision.keypoints) else None
        for i, cam in enumerate(self.cfg.cameras):
            t = self.cameras[cam](images[cam], cond, kp_logits) + self.type_emb[i]
            toks.append(t)
            valid.append(torch.ones(b, t.shape[1], dtype=t.dtype, device=t.device))
        nc = len(self.cfg.cameras)
        if cond is not None:  # the pooled instruction is one token: 32 byte tokens cost 3x the transformer
            t = cond.unsqueeze(1)
            toks.append(t + self.type_emb[nc])
            valid.append(torch.ones(b, 1, dtype=t.dtype, device=t.device))
        else:
            t = text
            toks.append(t + self.type_emb[nc])
            valid.append(text_valid.to(t.dtype))
        s = (state.float() - self.state_mean) / self.state_std
        toks.append(self.state_proj(s).unsqueeze(1) + self.type_emb[nc + 1])
        valid.append(torch.ones(b, 1, dtype=t.dtype, device=t.device))
        if self.cfg.aux_dim:
            toks.append(self.aux_query.expand(b, -1, -1))
            valid.append(torch.ones(b, 1, dtype=t.dtype, device=t.device))
        toks.append(self.queries.expand(b, -1, -1) + self.type_emb[nc + 2])
        valid.append(torch.ones(b, self.cfg.chunk_len, dtype=t.dtype, device=t.device))
        x = torch.cat(toks, 1)
        bias = ((1.0 - torch.cat(valid, 1)) * NEG)[:, None, None, :]
        for blk in self.blocks:
            x = blk(x, bias)
        n_out = self.cfg.chunk_len + (1 if self.cfg.aux_dim else 0)  # the aux token sits right before the queries
        x = self.ln_f(x[:, -n_out:])  # only the tokens that are read out (LayerNorm is per token)
        actions = self.head(x[:, -self.cfg.chunk_len:])
        if not return_aux:
            return actions
        if not self.cfg.aux_dim:
            raise ValueError("this policy has no auxiliary head (aux_dim = 0)")
        extras = {"aux": self.aux_head(x[:, 0])}
        if kp_logits:
            extras["kp_logits"] = torch.stack(kp_logits, 1)
        return actions, extras

    def normalize_actions(self, actions: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Absolute targets [B,T,8] -> the normalised space of :meth:`predict_normalized`."""
        if self.cfg.predict_delta:
            return (actions - state.float().unsqueeze(1) - self.delta_mean) / self.delta_std
        return (actions - self.action_mean) / self.action_std

    def denormalize_actions(self, out: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        if self.cfg.predict_delta:
            return out * self.delta_std + self.delta_mean + state.float().unsqueeze(1)
        return out * self.action_std + self.action_mean

    def forward(self, images: dict[str, torch.Tensor], state: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor:
        return self.denormalize_actions(self.predict_normalized(images, state, instruction), state)


def fold_affine_norms(policy: VLAPolicy) -> VLAPolicy:
    """A copy of ``policy`` whose :class:`ChannelAffine` norms are merged into the convs before
    them (weight * scale, bias * scale + shift) and replaced by identities: the same function, and
    what the export writes, so that ONNX Runtime runs each conv with nothing after it. A policy with
    GroupNorm comes back as it is (not copied)."""
    import copy

    if policy.cfg.vision.norm != "affine":
        return policy
    out = copy.deepcopy(policy)
    with torch.no_grad():
        for cam in out.cameras.values():
            for conv, norm in cam.conv_norm_pairs():
                conv.weight.mul_(norm.weight[:, None, None, None])
                conv.bias.mul_(norm.weight).add_(norm.bias)
            for blk, res in zip(cam.blocks, cam.res, strict=True):
                blk[1] = nn.Identity()
                for r in res:
                    r.norm = nn.Identity()
    return out


class OnnxVLA(nn.Module):
    """Positional-argument view for export: (image[, wrist_image], state, instruction) -> actions."""

    def __init__(self, policy: VLAPolicy) -> None:
        super().__init__()
        self.policy = policy
        self.cams = list(policy.cfg.cameras)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        n = len(self.cams)
        images = dict(zip(self.cams, inputs[:n], strict=True))
        return self.policy(images, inputs[n], inputs[n + 1])


def onnx_input_order(cfg: VLAConfig) -> list[str]:
    """docs/architecture.md order: image, wrist_image (if used), state, instruction."""
    return [c for c in ("image", "wrist_image") if c in cfg.cameras] + ["state", "instruction"]
