"""The one optimisation core behind ``jafm-robot train`` (behaviour cloning) and ``jafm-robot distill``
(DAgger): parameter groups, AdamW, gradient clipping, the LR schedule, DDP, checkpoint payload and
resume.

Both verbs fit the same network to action chunks, so they share one :class:`Learner`; what differs
is only what they feed it (a dataset's frames, or the aggregated DAgger buffer), their loss (the
trainer's weighted action + auxiliary terms, DAgger's plain chunk L1) and their schedule (warmup then
cosine over a known total, or warmup then constant over an open-ended run). A change to the
weight-decay rule, the clipping or the checkpoint format now happens in one place.

Runs unchanged under ``torchrun --nproc_per_node N``: :class:`Placement` reads the rank and world
size torchrun sets, starts the process group (gloo on CPU, NCCL on CUDA) and the learner wraps the
loss module in DDP, which averages gradients. With one process none of that is touched. There is no
mixed precision (AMP) yet: every size trains in float32 on the 2-core CPU this project targets;
:meth:`Learner.update` is the single place an autocast/GradScaler pair would go.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jafm_robot.policies.checkpoint import save_checkpoint

#: substrings of parameter names that never decay: positional embeddings, learned queries and
#: token-type embeddings are lookup tables, not weights to shrink towards zero
NO_DECAY_KEYS = ("pos", "queries", "type_emb")


def decays(name: str, p: torch.Tensor) -> bool:
    """The weight-decay rule: matrices and conv kernels decay; biases, norm scales (1-D) and the
    embedding tables named in :data:`NO_DECAY_KEYS` do not."""
    return p.ndim >= 2 and not any(k in name for k in NO_DECAY_KEYS)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups in the order checkpoints store them: [decayed, not decayed]."""
    named = list(model.named_parameters())
    return [{"params": [p for n, p in named if decays(n, p)], "weight_decay": weight_decay},
            {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}]


def cpu_threads(world: int) -> int:
    """Default torch CPU threads: OMP_NUM_THREADS if set, else half the cores per process (>= 1).

    Measured on the 2-core dev box while the simulator ran beside it: one training step of the tiny
    model took 63 ms with 1 thread and 750 ms with 2, because intra-op workers spin-wait on cores
    that are busy. Leaving cores free for the sim and the other ranks is the safe default.
    """
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return max(1, (os.cpu_count() or 1) // (2 * world))


def pick_device(spec: str, local_rank: int = 0) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` -> the device, with a clear error for CUDA without a GPU."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is available (use --device cpu or auto)")
        return torch.device("cuda", local_rank)
    if spec != "cpu":
        raise ValueError(f"unknown device {spec!r}; choose auto, cpu or cuda")
    return torch.device("cpu")


@dataclass(frozen=True)
class Placement:
    """Where this process trains: its rank among ``world`` processes and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @classmethod
    def from_environ(cls, device: str) -> Placement:
        """The rank/world size torchrun set (one process without them); starts the process group."""
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        place = cls(rank, world, local_rank, pick_device(device, local_rank))
        if place.distributed:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("nccl" if place.device.type == "cuda" else "gloo")
            if place.device.type == "cuda":
                torch.cuda.set_device(place.device)
        return place

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0 writes logs and checkpoints."""
        return self.rank == 0

    def set_threads(self, threads: int | None) -> None:
        """CPU intra-op threads for this process (``threads`` or :func:`cpu_threads`)."""
        if self.device.type == "cpu":
            torch.set_num_threads(threads or cpu_threads(self.world))

    def close(self) -> None:
        """Wait for every rank, then end the process group (nothing with one process)."""
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()


def policy_stats(policy: nn.Module) -> dict[str, list[float]]:
    """The policy's normalisation statistics as plain lists (a checkpoint's ``stats``)."""
    names = ("state_mean", "state_std", "action_mean", "action_std", "delta_mean", "delta_std")
    return {n: getattr(policy, n).detach().cpu().double().tolist() for n in names}


class Learner:
    """AdamW on ``policy`` with the shared weight-decay rule, a ``LambdaLR`` schedule, gradient
    clipping, optional parameters held still for the first steps, and the checkpoint payload.

    ``loss_module`` (optional) is what computes the loss from a batch; under DDP the learner wraps
    it (the whole forward + loss, so the gradient-sync hooks see the real computation) and
    :attr:`module` is what to call. ``schedule(step)`` is the LR factor at optimiser step ``step``
    (0-based, over the whole run): it must be a plain function or lambda, whose scheduler state
    saves as ``None`` (a callable object's attributes would be pickled into every checkpoint).
    """

    def __init__(self, policy: nn.Module, *, lr: float, weight_decay: float, grad_clip: float,
                 schedule: Callable[[int], float], loss_module: nn.Module | None = None,
                 placement: Placement | None = None) -> None:
        self.policy = policy
        self.grad_clip = float(grad_clip)
        self.schedule = schedule
        self.step = 0
        self.module: nn.Module | None = loss_module
        if loss_module is not None and placement is not None and placement.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            cuda = placement.device.type == "cuda"
            self.module = DDP(loss_module, device_ids=[placement.local_rank] if cuda else None)
        self.opt = torch.optim.AdamW(param_groups(policy, weight_decay), lr=lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, schedule)
        self._frozen: list[nn.Parameter] = []
        self._frozen_until = 0

    def hold(self, params: Sequence[nn.Parameter], until_step: int) -> None:
        """Give ``params`` no gradient before optimiser step ``until_step``: AdamW skips a parameter
        without one (no decay either), so only the others learn (a fresh head under a trained body)."""
        self._frozen, self._frozen_until = list(params), int(until_step)

    @property
    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])

    def resume(self, ckpt: dict[str, Any], lr: float | None = None) -> None:
        """Continue a checkpoint's run: its optimiser state, schedule position and step.

        A checkpoint without a scheduler state (a DAgger run saved before the two loops were one)
        continues its schedule at its step. ``lr``: a new peak LR to continue with (DAgger's
        ``--resume`` may change ``--lr``); by default the checkpoint's, as ``train --resume`` does.
        """
        self.step = int(ckpt.get("step", 0))
        if ckpt.get("optimizer"):
            self.opt.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scheduler"):
            self.sched.load_state_dict(ckpt["scheduler"])
        else:
            self.sched.last_epoch = self.step
        if lr is not None:
            self.sched.base_lrs = [float(lr)] * len(self.opt.param_groups)
        if lr is not None or not ckpt.get("scheduler"):
            for g, base in zip(self.opt.param_groups, self.sched.base_lrs, strict=True):
                g["lr"] = base * self.schedule(self.step)

    def update(self, loss: torch.Tensor) -> float:
        """One optimiser step on ``loss``; returns its value. A non-finite loss stops the run."""
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {self.step}; lower --lr")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self._frozen and self.step < self._frozen_until:
            for p in self._frozen:
                p.grad = None
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.policy.parameters(), self.grad_clip)
        self.opt.step()
        self.sched.step()
        self.step += 1
        return loss.item()

    def payload(self, **extra: Any) -> dict[str, Any]:
        """A checkpoint in the one format ``export``, ``eval``, ``load_policy`` and ``--resume`` read
        (policies.checkpoint): the learner's state, the network's config and statistics, then what
        the caller adds (its run config, dataset facts, provenance)."""
        cfg = self.policy.cfg  # type: ignore[attr-defined]
        return {"step": self.step, "model": self.policy.state_dict(), "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(), "vla_config": cfg.to_dict(), "stats": policy_stats(self.policy),
                **extra}

    def save(self, paths: Iterable[Path], **extra: Any) -> None:
        """The same :meth:`payload` to each of ``paths`` (e.g. ``step_000100.pt`` and ``last.pt``)."""
        payload = self.payload(**extra)
        for p in paths:
            save_checkpoint(p, payload)
