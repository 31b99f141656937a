"""Behaviour cloning with action-chunk targets: L1 loss, AdamW + warmup/cosine, random-shift
augmentation, checkpoints, resume, CSV/TensorBoard logs and a training-curve PNG.

The optimisation itself (parameter groups, AdamW step, clipping, schedule, DDP, checkpoint payload,
resume) is :class:`~jafm_robot.training.learner.Learner`, shared with DAgger (``jafm-robot
distill``); this module is what behaviour cloning adds around it: the dataset's frames and targets,
the weighted loss, the sampling and the run's logs. :func:`train` reads as the list of those steps.

Runs unchanged under ``torchrun --nproc_per_node N``: the rank/world size come from the
environment torchrun sets (:class:`~jafm_robot.training.learner.Placement`), each rank draws a
disjoint shard of every epoch (``DistributedSampler``), DDP averages gradients, and only rank 0
writes logs and checkpoints. With one process nothing of that is touched.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from jafm_robot.contract import ACTION_DIM
from jafm_robot.datasets.concat import ConcatDataset, open_dataset
from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset
from jafm_robot.policies.checkpoint import policy_from_checkpoint, read_checkpoint
from jafm_robot.policies.export import onnx_init_card
from jafm_robot.policies.vla.configuration_vla import get_config
from jafm_robot.policies.vla.modeling_vla import VLAPolicy
from jafm_robot.policies.vla.processor_vla import compute_stats
from jafm_robot.runtime.metadata import sha256_file
from jafm_robot.training.config import TrainConfig
from jafm_robot.training.data import Batch, ChunkSamples, append_layouts
from jafm_robot.training.learner import Learner, Placement, cpu_threads, policy_stats

__all__ = ["LOSS_TERMS", "TrainConfig", "available_memory_bytes", "cpu_threads", "dataset_facts", "frames_need_cache",
           "keypoint_loss", "lr_factor", "plot_curve", "policy_stats", "train"]


class _LossModule(nn.Module):
    """What DDP wraps: the whole forward+loss, so gradient sync hooks see the real computation."""

    def __init__(self, policy: VLAPolicy, aux_weight: float = 0.0, kp_weight: float = 0.0,
                 gripper_weight: float = 1.0) -> None:
        super().__init__()
        if not (np.isfinite(gripper_weight) and gripper_weight > 0):
            raise ValueError(f"--gripper-weight must be > 0, got {gripper_weight}")
        self.policy = policy
        self.aux_weight = aux_weight
        self.kp_weight = kp_weight
        w = torch.ones(ACTION_DIM)
        w[-1] = float(gripper_weight)
        device = next(policy.parameters()).device  # the policy is on its device already
        self.register_buffer("dim_weight", (w / w.mean()).to(device), persistent=False)
        self.terms: dict[str, torch.Tensor] = {}  # the last batch's unweighted loss terms (for the log)

    def _action_loss(self, pred: torch.Tensor, actions: torch.Tensor, state: torch.Tensor,
                     act_valid: torch.Tensor | None) -> torch.Tensor:
        """L1 on the normalised chunk; rows with ``act_valid`` 0 (layout frames: keypoint targets
        only, placeholder actions) do not count, whichever other terms are on."""
        target = self.policy.normalize_actions(actions, state)
        err = (pred - target).abs() * self.dim_weight
        if act_valid is None:
            return err.mean()
        per = err.mean((1, 2))
        return (per * act_valid).sum() / act_valid.sum().clamp_min(1.0)

    def forward(self, images: dict[str, torch.Tensor], state: torch.Tensor, instruction: torch.Tensor, actions: torch.Tensor,
                aux: torch.Tensor | None = None, aux_valid: torch.Tensor | None = None,
                kp: torch.Tensor | None = None, kp_valid: torch.Tensor | None = None,
                act_valid: torch.Tensor | None = None) -> torch.Tensor:
        use_aux = aux is not None and bool(self.aux_weight)
        use_kp = kp is not None and bool(self.kp_weight)
        if not (use_aux or use_kp):
            pred = self.policy.predict_normalized(images, state, instruction)
            loss = self._action_loss(pred, actions, state, act_valid)
            self.terms = {"action_loss": loss.detach()}
            return loss
        pred, extras = self.policy.predict_normalized(images, state, instruction, return_aux=True)
        loss = self._action_loss(pred, actions, state, act_valid)
        self.terms = {"action_loss": loss.detach()}
        if use_aux:
            # aux_valid [B, aux_dim]: each target counts where it is defined (no yaw for a cylinder,
            # only where the part is for a layout frame)
            aux_loss = ((extras["aux"] - aux).abs() * aux_valid).sum() / aux_valid.sum().clamp_min(1.0)
            loss = loss + self.aux_weight * aux_loss
            self.terms["aux_loss"] = aux_loss.detach()
        if use_kp and "kp_logits" in extras:  # independent of the aux weight: --aux-weight 0 keeps keypoints
            grid = self.policy.cameras[self.policy.cfg.cameras[0]].keypoints.grid  # [h*w, 2], same for every camera
            kp_loss = keypoint_loss(extras["kp_logits"][:, :, :2], kp, kp_valid, grid)
            loss = loss + self.kp_weight * kp_loss
            self.terms["kp_loss"] = kp_loss.detach()
        return loss


LOSS_TERMS = ("action_loss", "aux_loss", "kp_loss")  # unweighted, logged beside the total


def keypoint_loss(logits: torch.Tensor, uv: torch.Tensor, valid: torch.Tensor, grid: torch.Tensor,
                  sigma_cells: float = 1.0) -> torch.Tensor:
    """Cross-entropy of keypoint attention maps [B,C,2,h*w] against Gaussian blobs at ``uv``
    [B,C,2,2]: a dense, per-pixel signal (a regression on the soft-argmax alone barely moves a
    diffuse map), averaged over the points that are in view."""
    cell = float(grid[1, 0] - grid[0, 0])
    d2 = ((grid[None, None, None] - uv[..., None, :]) ** 2).sum(-1)  # [B,C,2,h*w]
    target = torch.softmax(-d2 / (2 * (sigma_cells * cell) ** 2), -1)
    ce = -(target * torch.log_softmax(logits, -1)).sum(-1)
    return (ce * valid).sum() / valid.sum().clamp_min(1.0)


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup then cosine decay to ``min_ratio`` of the peak."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    p = min(1.0, (step - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p))


def dataset_facts(ds: LeRobotV3Dataset | ConcatDataset, cameras: list[str]) -> dict[str, Any]:
    """What the ONNX metadata will need to know about the training data."""
    names = ds.info["features"]["observation.state"].get("names") or []
    return {
        "root": ", ".join(str(Path(d.root).resolve()) for d in getattr(ds, "parts", [ds])),
        "fps": ds.fps,
        "action_dt": 1.0 / ds.fps,
        "cameras": cameras,
        "image_size": ds.image_size,
        "robot": ds.info.get("robot_type", "panda"),
        "joint_names": list(names[:7]) if len(names) >= 7 else [f"panda_joint{i}" for i in range(1, 8)],
        "env_tasks": ds.env_tasks(),
        "languages": ds.languages(),
        "num_episodes": ds.num_episodes,
        "num_frames": len(ds),
        "scene": ds.info.get("jafm_scene") or ds.info.get("jafm_scenes"),
        "record_commands": ds.record_commands(),
    }


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (what the kernel can give without swapping); None where
    there is no /proc (not Linux), which leaves the decision to the user's --frames-cache."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def frames_need_cache(need_bytes: int, available_bytes: int | None, headroom: float = 0.7) -> bool:
    """Whether decoded camera frames should go to a frames cache rather than process memory: when
    they would take more than ``headroom`` of the available memory (the model, the optimiser, the
    batches and the other frame arrays need the rest)."""
    return available_bytes is not None and need_bytes > headroom * available_bytes


def _correction_frames(cfg: TrainConfig, ds: Any) -> np.ndarray:
    """The frames ``--correction-weight`` oversamples (empty when it is 1); a clear error for a
    weight below 1 or a dataset without skipped actions."""
    if cfg.correction_weight < 1:
        raise ValueError(f"--correction-weight must be a whole number >= 1, got {cfg.correction_weight}")
    if cfg.correction_weight == 1:
        return np.zeros(0, np.int64)
    from jafm_robot.training.data import correction_frames

    frames = correction_frames(ds.episode_index, ds.episodes, cfg.correction_window)
    if len(frames) == 0:
        raise ValueError("--correction-weight: the dataset has no skipped actions, so no correction frames "
                         "(record them with --student or --miss-first-grasp)")
    return frames


# -- the run, step by step -----------------------------------------------------------------------
def _resume_checkpoint(cfg: TrainConfig, last: Path) -> dict[str, Any] | None:
    """``--resume``: the run's own last checkpoint (weights, optimiser, schedule, step)."""
    if not cfg.resume:
        return None
    if not last.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {last}")
    return read_checkpoint(last)


def _init_provenance(cfg: TrainConfig, resume_ckpt: dict[str, Any] | None
                     ) -> tuple[dict[str, Any] | None, str | None, dict[str, Any] | None]:
    """``--init``: the checkpoint to fine-tune (not re-read on --resume), its digest and card."""
    init_ckpt = read_checkpoint(cfg.init) if (cfg.init and resume_ckpt is None) else None
    # the init file's digest when training started: a path like models/pick_place_v0.onnx is later
    # overwritten by the next shipped model, and the card's init chain must not follow the new one
    init_sha256 = (sha256_file(cfg.init) if init_ckpt is not None
                   else (resume_ckpt or {}).get("init_sha256")) if cfg.init else None
    # and, for a shipped ONNX init, what its card says made it: the card's chain outlives the file
    init_card = onnx_init_card(init_ckpt, init_sha256) if init_ckpt is not None else (resume_ckpt or {}).get("init_card")
    return init_ckpt, init_sha256, init_card


def _cameras(cfg: TrainConfig, ds: Any, start_ckpt: dict[str, Any] | None) -> list[str]:
    """A started network's cameras; else --cameras (``auto``: every camera the dataset has)."""
    if start_ckpt is not None:
        return list(start_ckpt["vla_config"]["cameras"])
    if cfg.cameras == "auto":
        return [c for c in ("image", "wrist_image") if c in ds.cameras]
    return [c.strip() for c in cfg.cameras.split(",") if c.strip()]


def _use_frames_cache(cfg: TrainConfig, ds: Any, cameras: list[str], out: Path, place: Placement) -> None:
    """Send decoded frames to --frames-cache, or to OUT/frames_cache when they would not fit in memory."""
    cache = Path(cfg.frames_cache) if cfg.frames_cache else None
    if cache is None:
        need, avail = len(ds) * ds.image_size * ds.image_size * 3 * len(cameras), available_memory_bytes()
        if frames_need_cache(need, avail):
            # decoding into process memory would get the process OOM-killed (two trainings at once
            # on the 24 GiB box did): decode into files read through the page cache instead
            cache = out / "frames_cache"
            if place.main:
                print(f"decoded frames need {need / 2**30:.1f} GiB and {avail / 2**30:.1f} GiB are available: decoding "
                      f"into {cache} instead of memory (--frames-cache DIR picks the folder)", flush=True)
    if cache is not None:  # one folder per DDP rank: each decodes its own copy
        ds.frames_cache = cache / (f"rank{place.rank}" if place.distributed else "")


def _build_policy(cfg: TrainConfig, ds: Any, cameras: list[str], resume_ckpt: dict[str, Any] | None,
                  init_ckpt: dict[str, Any] | None) -> tuple[VLAPolicy, int]:
    """The network and the step it starts at: resumed, fine-tuned from --init, or new from --config
    with normalisation statistics from the dataset."""
    if resume_ckpt is not None:
        policy, _ = policy_from_checkpoint(resume_ckpt)
        return policy, int(resume_ckpt["step"])
    if init_ckpt is not None:  # fine-tuning: weights and normalisation from the checkpoint, a new run otherwise
        policy, _ = policy_from_checkpoint(init_ckpt)
        if policy.cfg.aux_dim:
            from jafm_robot.datasets.auxiliary import AUX_DIM

            policy.resize_aux_head(AUX_DIM)  # a checkpoint from before the trainer had more targets
        return policy, 0
    vcfg = get_config(cfg.config, cameras=tuple(cameras), chunk_len=cfg.chunk_len, image_size=ds.image_size)
    stats = compute_stats(ds.state, ds.action, ds.episode_index, vcfg.chunk_len)
    return VLAPolicy(vcfg, stats), 0


def _convert_norm(cfg: TrainConfig, policy: VLAPolicy, samples: ChunkSamples, resumed: bool,
                  verbose: bool) -> tuple[VLAPolicy, dict[str, Any] | None]:
    """``--norm affine`` on a GroupNorm encoder: converted, calibrated on training frames."""
    if cfg.norm is None or cfg.norm == policy.cfg.vision.norm:
        return policy, None
    if cfg.norm != "affine" or resumed:
        raise ValueError(f"--norm {cfg.norm}: this run's encoder has {policy.cfg.vision.norm!r} norms; only a GroupNorm "
                         "encoder converts, to affine, at the start of a run")
    from jafm_robot.training.norm_conversion import affine_from_group_norms

    # the same frames on every DDP rank (seeded by --seed alone), so every rank converts alike
    pick = np.random.default_rng(cfg.seed).choice(len(samples), min(cfg.norm_calib_frames, len(samples)), replace=False)
    calib = samples.batch(pick)
    policy, report = affine_from_group_norms(
        policy, {c: torch.from_numpy(v) for c, v in calib.images.items()}, torch.from_numpy(calib.instruction))
    if verbose:
        print(f"--norm affine: calibrated on {report['frames']} frames, mean R^2 {report['r2_mean']:.3f}")
    return policy, report


def _held_parameters(cfg: TrainConfig, policy: VLAPolicy, init_ckpt: dict[str, Any] | None) -> list[nn.Parameter]:
    """With an ONNX --init: every parameter the file gave, held still for --fresh-warmup steps while
    the ones it could not give (the training-only auxiliary head) learn."""
    fresh = set((init_ckpt or {}).get("from_onnx", {}).get("fresh") or [])
    return [p for n, p in policy.named_parameters() if n not in fresh] if fresh and cfg.fresh_warmup > 0 else []


def _add_targets(cfg: TrainConfig, policy: VLAPolicy, ds: Any, samples: ChunkSamples
                 ) -> tuple[dict[str, list[float]] | None, Any]:
    """Auxiliary (pick/place) and keypoint targets for sizes with an auxiliary head, and --layouts
    frames; returns the auxiliary targets' z-score statistics and the layout frames."""
    vcfg = policy.cfg
    aux_stats: dict[str, list[float]] | None = None
    uses_kp = vcfg.vision.keypoints >= 2 and bool(cfg.kp_weight)
    if vcfg.aux_dim and (cfg.aux_weight or uses_kp or cfg.layouts):
        # only a loss that reads them needs the targets; they re-create the recorded cameras, each
        # folder's in the scene it was recorded in (five tasks span the table and the conveyor cell)
        from jafm_robot.datasets.auxiliary import AUX_DIM

        if vcfg.aux_dim != AUX_DIM:
            raise ValueError(f"aux_dim {vcfg.aux_dim} != the {AUX_DIM} pick/place targets the trainer provides")
        # a --scene that contradicts a folder's recording fails in scene_segments, before any replay
        aux_mean, aux_std = samples.add_auxiliary(cfg.scene)
        aux_stats = {"mean": aux_mean.tolist(), "std": aux_std.tolist()}
        if uses_kp:
            samples.add_keypoint_targets(cfg.scene)
    if not cfg.layouts:
        return aux_stats, None
    if samples.kp is None:
        raise ValueError("--layouts needs keypoint supervision: a size with keypoints and an auxiliary head "
                         "(e.g. student) and --kp-weight > 0")
    from jafm_robot.datasets.layouts import LayoutSamples

    layouts = LayoutSamples(cfg.layouts, list(vcfg.cameras), vcfg.image_size, ds.info.get("jafm_scene"))
    layouts.normalise_aux(aux_mean, aux_std)
    return aux_stats, layouts


def _learner(cfg: TrainConfig, policy: VLAPolicy, place: Placement) -> tuple[Learner, _LossModule]:
    """The policy on its device, its loss, and the shared learner (warmup then cosine over --steps)."""
    vcfg = policy.cfg
    policy.to(place.device).train()
    loss_module = _LossModule(policy, cfg.aux_weight if vcfg.aux_dim else 0.0,
                              cfg.kp_weight if (vcfg.aux_dim and vcfg.vision.keypoints >= 2) else 0.0,
                              cfg.gripper_weight)
    warmup = min(cfg.warmup_steps, cfg.steps // 5)
    learner = Learner(policy, lr=cfg.lr, weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip,
                      schedule=lambda s: lr_factor(s, cfg.steps, warmup, cfg.min_lr_ratio),
                      loss_module=loss_module, placement=place)
    return learner, loss_module


@dataclass
class _Sampling:
    """Which frames this rank's batches hold: a pool of every frame once plus each correction frame
    ``correction_weight - 1`` more times, shuffled per epoch into disjoint rank shards."""

    pool: np.ndarray
    sampler: DistributedSampler
    per_rank: int  # --batch-size is the global batch
    n_layout: int  # layout frames appended to each batch

    @classmethod
    def build(cls, cfg: TrainConfig, n_frames: int, corrections: np.ndarray, layouts: Any, place: Placement) -> _Sampling:
        pool = np.concatenate([np.arange(n_frames, dtype=np.int64), np.tile(corrections, cfg.correction_weight - 1)])
        sampler = DistributedSampler(range(len(pool)), num_replicas=place.world, rank=place.rank, shuffle=True,
                                     seed=cfg.seed, drop_last=False)
        per_rank = max(1, cfg.batch_size // place.world)
        n_layout = max(1, round(cfg.layout_fraction * per_rank)) if layouts is not None else 0
        return cls(pool, sampler, per_rank, n_layout)

    def batches(self, start_step: int) -> Iterator[np.ndarray]:
        """Frame indices, ``per_rank`` at a time, from the epoch ``start_step`` falls in."""
        epoch = start_step * self.per_rank // max(1, len(self.sampler))
        while True:
            self.sampler.set_epoch(epoch)
            order = self.pool[np.fromiter(iter(self.sampler), dtype=np.int64)]
            n = self.per_rank
            for i in range(0, len(order) - n + 1 if len(order) >= n else 1, n):
                yield order[i: i + n]
            epoch += 1


def _facts(cfg: TrainConfig, ds: Any, policy: VLAPolicy, sampling: _Sampling, layouts: Any) -> dict[str, Any]:
    facts = dataset_facts(ds, list(policy.cfg.cameras))
    facts["sampled_per_epoch"] = len(sampling.pool)  # frames, plus correction frames drawn again
    if layouts is not None:
        facts["layouts"] = {"files": cfg.layouts, "frames": len(layouts), "per_batch": sampling.n_layout,
                            "commands": layouts.commands()}
    return facts


def _on_device(b: Batch, device: torch.device) -> tuple[tuple[Any, ...], dict[str, torch.Tensor]]:
    """The loss module's arguments from a batch: images, state, instruction, actions, and the
    optional targets the batch has."""
    images = {c: torch.from_numpy(v).to(device, non_blocking=True) for c, v in b.images.items()}
    extras = {k: torch.from_numpy(v).to(device) for k, v in
              (("aux", b.aux), ("aux_valid", b.aux_valid), ("kp", b.kp), ("kp_valid", b.kp_valid),
               ("act_valid", b.act_valid)) if v is not None}
    return (images, torch.from_numpy(b.state).to(device), torch.from_numpy(b.instruction).to(device),
            torch.from_numpy(b.actions).to(device)), extras


class _RunLog:
    """What a run writes besides checkpoints (rank 0 only): ``train_config.json``, ``train_log.csv``
    (the loss averaged over --log-every steps, its unweighted terms beside it), TensorBoard scalars
    and the progress bar. Every rank keeps the running means; only rank 0's ``last_loss`` is set."""

    def __init__(self, cfg: TrainConfig, out: Path, place: Placement) -> None:
        self.cfg, self.out, self.main = cfg, out, place.main
        self.path = out / "train_log.csv"
        self.tb: Any = None
        self.bar: Any = None
        self.last_loss = float("nan")
        self.running: list[float] = []
        self.term_sums: dict[str, float] = {}
        self.t0 = time.perf_counter()

    def start(self, record: dict[str, Any], start_step: int) -> None:
        """The CSV header (kept on --resume), ``train_config.json`` (``record``), TensorBoard, the bar."""
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            if not self.cfg.resume or not self.path.is_file():
                with open(self.path, "w", newline="") as f:
                    csv.writer(f).writerow(["step", "loss", "lr", "elapsed_s", *LOSS_TERMS])
            (self.out / "train_config.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
            if self.cfg.log == "tensorboard":
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.out / "tb"))
            from jafm_robot.reporting import progress

            self.bar = progress(total=self.cfg.steps, initial=start_step, desc="train")
        self.t0 = time.perf_counter()

    def add(self, step: int, loss: float, terms: dict[str, torch.Tensor], lr: float) -> None:
        """Step ``step``'s loss and terms; a CSV row every --log-every steps and at the last."""
        self.running.append(loss)
        for k, v in terms.items():
            self.term_sums[k] = self.term_sums.get(k, 0.0) + float(v)
        if not self.main:
            return
        self.bar.update(1)
        if (step + 1) % self.cfg.log_every == 0 or step + 1 == self.cfg.steps:
            self.last_loss = float(np.mean(self.running))
            terms_row = [f"{self.term_sums[k] / len(self.running):.6f}" if k in self.term_sums else "" for k in LOSS_TERMS]
            self.running, self.term_sums = [], {}
            with open(self.path, "a", newline="") as f:
                csv.writer(f).writerow([step + 1, f"{self.last_loss:.6f}", f"{lr:.3e}",
                                        f"{time.perf_counter() - self.t0:.2f}", *terms_row])
            if self.tb is not None:
                self.tb.add_scalar("loss", self.last_loss, step + 1)
                self.tb.add_scalar("lr", lr, step + 1)
            self.bar.set_postfix(loss=f"{self.last_loss:.4f}")

    def close(self) -> None:
        self.bar.close()

    def finish(self) -> None:
        """The training curve from the CSV; TensorBoard closed."""
        plot_curve(self.path, self.out / "training_curve.png")
        if self.tb is not None:
            self.tb.close()


def train(cfg: TrainConfig, argv: list[str] | None = None) -> dict[str, Any]:
    """Run training; returns a summary (final loss, step, paths). Rank 0 writes everything."""
    cfg.check()
    place = Placement.from_environ(cfg.device)
    out = Path(cfg.out)
    ckpt_dir = out / "checkpoints"
    last = ckpt_dir / "last.pt"
    resume_ckpt = _resume_checkpoint(cfg, last)
    ds = open_dataset(cfg.dataset)
    corrections = _correction_frames(cfg, ds)  # checked before the frames are decoded
    init_ckpt, init_sha256, init_card = _init_provenance(cfg, resume_ckpt)
    cameras = _cameras(cfg, ds, resume_ckpt or init_ckpt)
    _use_frames_cache(cfg, ds, cameras, out, place)
    torch.manual_seed(cfg.seed)
    place.set_threads(cfg.threads)

    policy, start_step = _build_policy(cfg, ds, cameras, resume_ckpt, init_ckpt)
    samples = ChunkSamples(ds, list(policy.cfg.cameras), policy.cfg.chunk_len, progress=place.main)
    policy, norm_report = _convert_norm(cfg, policy, samples, resume_ckpt is not None, place.main)
    held = _held_parameters(cfg, policy, init_ckpt) if resume_ckpt is None else []
    aux_stats, layouts = _add_targets(cfg, policy, ds, samples)
    learner, loss_module = _learner(cfg, policy, place)
    learner.hold(held, start_step + cfg.fresh_warmup)
    if resume_ckpt is not None:
        learner.resume(resume_ckpt)

    sampling = _Sampling.build(cfg, len(samples), corrections, layouts, place)
    rng = np.random.default_rng(cfg.seed * 1000 + place.rank + start_step)
    facts = _facts(cfg, ds, policy, sampling, layouts)
    log = _RunLog(cfg, out, place)
    log.start({**asdict(cfg), "argv": argv, "world_size": place.world, "vla_config": policy.cfg.to_dict(),
               "dataset": facts, "norm_conversion": norm_report}, start_step)

    def save(step: int) -> None:
        learner.save([last, ckpt_dir / f"step_{step:06d}.pt"], train_config=asdict(cfg), dataset=facts, argv=argv,
                     init_sha256=init_sha256, init_card=init_card, loss=log.last_loss,
                     # how the auxiliary targets were z-scored, to read the (training-only) head back in metres
                     aux_stats=aux_stats, norm_conversion=norm_report)

    it = sampling.batches(start_step)
    for step in range(start_step, cfg.steps):
        b = samples.batch(next(it), rng, cfg.shift_pad)
        if layouts is not None:
            b = append_layouts(b, layouts, rng.integers(0, len(layouts), sampling.n_layout))
        args, extras = _on_device(b, place.device)
        loss = learner.update(learner.module(*args, **extras))
        log.add(step, loss, loss_module.terms, learner.lr)
        if place.main and (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            save(step + 1)
    if place.main:
        log.close()
        save(learner.step)
        log.finish()
    place.close()
    return {"step": learner.step, "loss": log.last_loss, "checkpoint": str(last), "world_size": place.world,
            "parameters": policy.num_parameters(), "elapsed_s": time.perf_counter() - log.t0,
            "norm_conversion": norm_report}


def plot_curve(log_path: Path, png: Path) -> None:
    """Loss and learning rate against step from the CSV log (headless matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(log_path)))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [float(r["loss"]) for r in rows], label="total")
    for k in LOSS_TERMS:
        vals = [r.get(k) or "" for r in rows]
        if all(vals):
            ax.plot(steps, [float(v) for v in vals], label=k.replace("_", " "), alpha=0.8)
    ax.legend(loc="upper right", fontsize=7)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(steps, [float(r["lr"]) for r in rows], color="tab:orange", alpha=0.6, label="lr")
    ax2.set_ylabel("learning rate")
    ax.set_title("VLA behaviour cloning")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)

