"""Behaviour cloning with action-chunk targets: L1 loss, AdamW + warmup/cosine, random-shift
augmentation, checkpoints, resume, CSV/TensorBoard logs and a training-curve PNG.

Runs unchanged under ``torchrun --nproc_per_node N``: the rank/world size come from the
environment torchrun sets, the process group uses gloo on CPU and NCCL on CUDA, each rank draws a
disjoint shard of every epoch (``DistributedSampler``), DDP averages gradients, and only rank 0
writes logs and checkpoints. With one process nothing of that is touched.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from jafm_robot.contract import ACTION_DIM
from jafm_robot.datasets.concat import ConcatDataset, open_dataset
from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset
from jafm_robot.policies.checkpoint import policy_from_checkpoint, read_checkpoint, save_checkpoint
from jafm_robot.policies.export import onnx_init_card
from jafm_robot.policies.vla.configuration_vla import NORMS, get_config
from jafm_robot.policies.vla.modeling_vla import VLAPolicy
from jafm_robot.policies.vla.processor_vla import compute_stats
from jafm_robot.runtime.metadata import sha256_file
from jafm_robot.training.data import ChunkSamples, append_layouts


@dataclass
class TrainConfig:
    dataset: str
    out: str
    config: str = "small"
    steps: int = 1000
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    shift_pad: int = 4
    cameras: str = "auto"  # "auto" = every camera the dataset has, or "image" / "image,wrist_image"
    chunk_len: int = 10
    device: str = "auto"
    log: str = "csv"
    log_every: int = 10
    save_every: int = 1000
    seed: int = 0
    resume: bool = False
    threads: int | None = None  # CPU intra-op threads; None = see cpu_threads()
    aux_weight: float = 1.0  # weight of the pick/place auxiliary loss (sizes with aux_dim > 0 only)
    kp_weight: float = 0.2  # weight of the keypoint supervision (sizes with aux_dim and keypoints >= 2)
    # weight of the gripper dimension in the action loss, relative to each joint's 1 (the weights are
    # rescaled to mean 1, so 1.0 is the plain L1 over all eight). The gripper is one dimension of
    # eight, but its open/close decisions (close now, keep a held part closed) decide an episode.
    gripper_weight: float = 1.0
    # frames right after each episode's skipped actions (a takeover's correction, a miss's
    # recovery; training.data.correction_frames) are sampled this many times as often (1 = plain)
    correction_weight: int = 1
    correction_window: int = 10
    init: str | None = None  # start from this checkpoint's weights (fresh optimiser and schedule); .onnx too
    # with an ONNX --init: steps during which only the parameters the file could not give (the
    # training-only auxiliary head) learn, so a random head's first gradients do not reach the
    # trained network
    fresh_warmup: int = 200
    # layout frames (datasets.layouts, `jafm-robot layouts`) for the keypoint loss: files A,B,...
    # and how many ride along per batch, as a fraction of the batch
    layouts: str | None = None
    layout_fraction: float = 0.5
    # scene whose camera poses place the keypoint targets; None = the one the dataset records
    # (info.json "jafm_scene"), else "factory"
    scene: str | None = None
    # decoded camera frames to .npy files here (read through the page cache) instead of process
    # memory: for datasets whose frames outgrow RAM (LeRobotV3Dataset.frames_array)
    frames_cache: str | None = None
    # the encoder's norm layers: None = as the config (or the --init checkpoint) has them; "affine"
    # converts a GroupNorm encoder, calibrated on ``norm_calib_frames`` training frames
    # (training.norm_conversion), so the export folds each norm into its conv
    norm: str | None = None
    norm_calib_frames: int = 256


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


def cpu_threads(world: int) -> int:
    """Default torch CPU threads: OMP_NUM_THREADS if set, else half the cores per process (>= 1).

    Measured on the 2-core dev box while the simulator ran beside it: one training step of the tiny
    model took 63 ms with 1 thread and 750 ms with 2, because intra-op workers spin-wait on cores
    that are busy. Leaving cores free for the sim and the other ranks is the safe default.
    """
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return max(1, (os.cpu_count() or 1) // (2 * world))


def _dist_info() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _pick_device(spec: str, local_rank: int) -> torch.device:
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is available (use --device cpu or auto)")
        return torch.device("cuda", local_rank)
    if spec != "cpu":
        raise ValueError(f"unknown device {spec!r}; choose auto, cpu or cuda")
    return torch.device("cpu")


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
        "scene": ds.info.get("jafm_scene"),
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


def train(cfg: TrainConfig, argv: list[str] | None = None) -> dict[str, Any]:
    """Run training; returns a summary (final loss, step, paths). Rank 0 writes everything."""
    rank, world, local_rank = _dist_info()
    device = _pick_device(cfg.device, local_rank)
    distributed = world > 1
    if distributed:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    if cfg.log not in ("csv", "tensorboard"):
        raise ValueError(f"unknown --log {cfg.log!r}; choose csv or tensorboard")
    if cfg.steps < 1 or cfg.batch_size < 1:
        raise ValueError("--steps and --batch-size must be >= 1")
    if cfg.norm is not None and cfg.norm not in NORMS:
        raise ValueError(f"unknown --norm {cfg.norm!r}; choose one of {', '.join(NORMS)}")
    out = Path(cfg.out)
    ckpt_dir = out / "checkpoints"
    last = ckpt_dir / "last.pt"

    resume_ckpt = None
    if cfg.resume:
        if not last.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {last}")
        resume_ckpt = read_checkpoint(last)

    ds = open_dataset(cfg.dataset)
    corrections = _correction_frames(cfg, ds)  # checked before the frames are decoded
    init_ckpt = read_checkpoint(cfg.init) if (cfg.init and resume_ckpt is None) else None
    # the init file's digest when training started: a path like models/pick_place_v0.onnx is later
    # overwritten by the next shipped model, and the card's init chain must not follow the new one
    init_sha256 = (sha256_file(cfg.init) if init_ckpt is not None
                   else (resume_ckpt or {}).get("init_sha256")) if cfg.init else None
    # and, for a shipped ONNX init, what its card says made it: the card's chain outlives the file
    init_card = onnx_init_card(init_ckpt, init_sha256) if init_ckpt is not None else (resume_ckpt or {}).get("init_card")
    if resume_ckpt is not None or init_ckpt is not None:
        cameras = list((resume_ckpt or init_ckpt)["vla_config"]["cameras"])
    elif cfg.cameras == "auto":
        cameras = [c for c in ("image", "wrist_image") if c in ds.cameras]
    else:
        cameras = [c.strip() for c in cfg.cameras.split(",") if c.strip()]
    cache = Path(cfg.frames_cache) if cfg.frames_cache else None
    if cache is None:
        need, avail = len(ds) * ds.image_size * ds.image_size * 3 * len(cameras), available_memory_bytes()
        if frames_need_cache(need, avail):
            # decoding into process memory would get the process OOM-killed (two trainings at once
            # on the 24 GiB box did): decode into files read through the page cache instead
            cache = out / "frames_cache"
            if rank == 0:
                print(f"decoded frames need {need / 2**30:.1f} GiB and {avail / 2**30:.1f} GiB are available: decoding "
                      f"into {cache} instead of memory (--frames-cache DIR picks the folder)", flush=True)
    if cache is not None:  # one folder per DDP rank: each decodes its own copy
        ds.frames_cache = cache / (f"rank{rank}" if world > 1 else "")
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads or cpu_threads(world))

    if resume_ckpt is not None:
        policy, _ = policy_from_checkpoint(resume_ckpt)
        start_step = int(resume_ckpt["step"])
    elif init_ckpt is not None:  # fine-tuning: weights and normalisation from the checkpoint, a new run otherwise
        policy, _ = policy_from_checkpoint(init_ckpt)
        start_step = 0
        if policy.cfg.aux_dim:
            from jafm_robot.datasets.auxiliary import AUX_DIM

            policy.resize_aux_head(AUX_DIM)  # a checkpoint from before the trainer had more targets
    else:
        vcfg = get_config(cfg.config, cameras=tuple(cameras), chunk_len=cfg.chunk_len, image_size=ds.image_size)
        stats = compute_stats(ds.state, ds.action, ds.episode_index, vcfg.chunk_len)
        policy = VLAPolicy(vcfg, stats)
        start_step = 0
    vcfg = policy.cfg
    aux_stats: dict[str, list[float]] | None = None
    samples = ChunkSamples(ds, list(vcfg.cameras), vcfg.chunk_len, progress=(rank == 0))
    norm_report: dict[str, Any] | None = None
    if cfg.norm is not None and cfg.norm != vcfg.vision.norm:
        if cfg.norm != "affine" or resume_ckpt is not None:
            raise ValueError(f"--norm {cfg.norm}: this run's encoder has {vcfg.vision.norm!r} norms; only a GroupNorm "
                             "encoder converts, to affine, at the start of a run")
        from jafm_robot.training.norm_conversion import affine_from_group_norms

        # the same frames on every DDP rank (seeded by --seed alone), so every rank converts alike
        calib = samples.batch(np.random.default_rng(cfg.seed).choice(len(samples), min(cfg.norm_calib_frames, len(samples)),
                                                                     replace=False))
        policy, norm_report = affine_from_group_norms(
            policy, {c: torch.from_numpy(v) for c, v in calib.images.items()}, torch.from_numpy(calib.instruction))
        vcfg = policy.cfg
        if rank == 0:
            print(f"--norm affine: calibrated on {norm_report['frames']} frames, mean R^2 {norm_report['r2_mean']:.3f}")
    fresh = set((init_ckpt or {}).get("from_onnx", {}).get("fresh") or []) if resume_ckpt is None else set()
    frozen = [p for n, p in policy.named_parameters() if n not in fresh] if fresh and cfg.fresh_warmup > 0 else []
    if vcfg.aux_dim:
        from jafm_robot.datasets.auxiliary import AUX_DIM

        if vcfg.aux_dim != AUX_DIM:
            raise ValueError(f"aux_dim {vcfg.aux_dim} != the {AUX_DIM} pick/place targets the trainer provides")
        recorded = (ds.info.get("jafm_scene") or {}).get("name")
        if cfg.scene and recorded and cfg.scene != recorded:
            raise ValueError(f"--scene {cfg.scene!r}, but {ds.root} was recorded in scene {recorded!r}")
        scene = cfg.scene or recorded or "factory"
        aux_mean, aux_std = samples.add_auxiliary(scene)
        aux_stats = {"mean": aux_mean.tolist(), "std": aux_std.tolist()}
        if vcfg.vision.keypoints >= 2 and cfg.kp_weight:
            samples.add_keypoint_targets(scene)
    layouts, n_layout = None, 0
    if cfg.layouts:
        if samples.kp is None:
            raise ValueError("--layouts needs keypoint supervision: a size with keypoints and an auxiliary head "
                             "(e.g. student) and --kp-weight > 0")
        from jafm_robot.datasets.layouts import LayoutSamples

        layouts = LayoutSamples(cfg.layouts, list(vcfg.cameras), vcfg.image_size, ds.info.get("jafm_scene"))
        layouts.normalise_aux(aux_mean, aux_std)
    policy.to(device).train()
    loss_module = _LossModule(policy, cfg.aux_weight if vcfg.aux_dim else 0.0,
                              cfg.kp_weight if (vcfg.aux_dim and vcfg.vision.keypoints >= 2) else 0.0,
                              cfg.gripper_weight)
    module: nn.Module = loss_module
    if distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        module = DDP(loss_module, device_ids=[local_rank] if device.type == "cuda" else None)

    decay = [p for n, p in policy.named_parameters() if p.ndim >= 2 and "pos" not in n and "queries" not in n and "type_emb" not in n]
    no_decay = [p for n, p in policy.named_parameters() if not (p.ndim >= 2 and "pos" not in n and "queries" not in n and "type_emb" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, min(cfg.warmup_steps, cfg.steps // 5), cfg.min_lr_ratio))
    if resume_ckpt is not None:
        opt.load_state_dict(resume_ckpt["optimizer"])
        sched.load_state_dict(resume_ckpt["scheduler"])

    from torch.utils.data import DistributedSampler

    # frame pool: every frame once, correction frames correction_weight times in all (none at 1)
    pool = np.concatenate([np.arange(len(samples), dtype=np.int64), np.tile(corrections, cfg.correction_weight - 1)])
    sampler = DistributedSampler(range(len(pool)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed, drop_last=False)
    per_rank = max(1, cfg.batch_size // world)  # --batch-size is the global batch
    rng = np.random.default_rng(cfg.seed * 1000 + rank + start_step)
    facts = dataset_facts(ds, list(vcfg.cameras))
    facts["sampled_per_epoch"] = len(pool)  # frames, plus correction frames drawn again
    if layouts is not None:
        n_layout = max(1, round(cfg.layout_fraction * per_rank))
        facts["layouts"] = {"files": cfg.layouts, "frames": len(layouts), "per_batch": n_layout,
                            "commands": layouts.commands()}

    def batches():
        epoch = start_step * per_rank // max(1, len(sampler))
        while True:
            sampler.set_epoch(epoch)
            order = pool[np.fromiter(iter(sampler), dtype=np.int64)]
            for i in range(0, len(order) - per_rank + 1 if len(order) >= per_rank else 1, per_rank):
                yield order[i: i + per_rank]
            epoch += 1

    log_path = out / "train_log.csv"
    tb = None
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if not cfg.resume or not log_path.is_file():
            with open(log_path, "w", newline="") as f:
                csv.writer(f).writerow(["step", "loss", "lr", "elapsed_s", *LOSS_TERMS])
        (out / "train_config.json").write_text(json.dumps({**asdict(cfg), "argv": argv, "world_size": world,
                                                            "vla_config": vcfg.to_dict(), "dataset": facts,
                                                            "norm_conversion": norm_report}, indent=2, ensure_ascii=False))
        if cfg.log == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            tb = SummaryWriter(str(out / "tb"))

    def save(step: int) -> None:
        payload = {
            "step": step,
            "model": policy.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "vla_config": vcfg.to_dict(),
            "stats": policy_stats(policy),
            "train_config": asdict(cfg),
            "dataset": facts,
            "argv": argv,
            "init_sha256": init_sha256,
            "init_card": init_card,
            "loss": last_loss,
            # how the auxiliary targets were z-scored, to read the (training-only) head back in metres
            "aux_stats": aux_stats,
            "norm_conversion": norm_report,
        }
        save_checkpoint(last, payload)
        save_checkpoint(ckpt_dir / f"step_{step:06d}.pt", payload)

    bar = None
    if rank == 0:
        from jafm_robot.reporting import progress

        bar = progress(total=cfg.steps, initial=start_step, desc="train")
    t0 = time.perf_counter()
    last_loss = float("nan")
    it = batches()
    running: list[float] = []
    term_sums: dict[str, float] = {}
    step = start_step
    for step in range(start_step, cfg.steps):
        b = samples.batch(next(it), rng, cfg.shift_pad)
        if layouts is not None:
            b = append_layouts(b, layouts, rng.integers(0, len(layouts), n_layout))
        images = {c: torch.from_numpy(v).to(device, non_blocking=True) for c, v in b.images.items()}
        aux = {k: torch.from_numpy(v).to(device) for k, v in
               (("aux", b.aux), ("aux_valid", b.aux_valid), ("kp", b.kp), ("kp_valid", b.kp_valid),
                ("act_valid", b.act_valid)) if v is not None}
        loss = module(images, torch.from_numpy(b.state).to(device), torch.from_numpy(b.instruction).to(device),
                      torch.from_numpy(b.actions).to(device), **aux)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if frozen and step < start_step + cfg.fresh_warmup:
            for p in frozen:  # AdamW skips a parameter without a gradient (no decay either)
                p.grad = None
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        running.append(loss.item())
        for k, v in loss_module.terms.items():
            term_sums[k] = term_sums.get(k, 0.0) + float(v)
        if rank == 0:
            bar.update(1)
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                last_loss = float(np.mean(running))
                terms = [f"{term_sums[k] / len(running):.6f}" if k in term_sums else "" for k in LOSS_TERMS]
                running, term_sums = [], {}
                lr = opt.param_groups[0]["lr"]
                with open(log_path, "a", newline="") as f:
                    csv.writer(f).writerow([step + 1, f"{last_loss:.6f}", f"{lr:.3e}", f"{time.perf_counter() - t0:.2f}", *terms])
                if tb is not None:
                    tb.add_scalar("loss", last_loss, step + 1)
                    tb.add_scalar("lr", lr, step + 1)
                bar.set_postfix(loss=f"{last_loss:.4f}")
            if (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
                save(step + 1)
    final_step = max(step + 1, start_step) if cfg.steps > start_step else start_step
    if rank == 0:
        bar.close()
        save(final_step)
        plot_curve(log_path, out / "training_curve.png")
        if tb is not None:
            tb.close()
    if distributed:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return {"step": final_step, "loss": last_loss, "checkpoint": str(last), "world_size": world,
            "parameters": policy.num_parameters(), "elapsed_s": time.perf_counter() - t0, "norm_conversion": norm_report}


def policy_stats(policy: VLAPolicy) -> dict[str, list[float]]:
    names = ("state_mean", "state_std", "action_mean", "action_std", "delta_mean", "delta_std")
    return {n: getattr(policy, n).detach().cpu().double().tolist() for n in names}


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

