"""``jafm-robot train``: behaviour cloning of the VLA policy on a LeRobot v3.0 dataset.

Multi-process: ``python -m torch.distributed.run --nproc_per_node N -m jafm_robot.cli.main train ...``
(or ``torchrun``); the same command line, ``--batch-size`` is the global batch.
"""

from __future__ import annotations

import argparse
import sys

HELP = "train the VLA policy by behaviour cloning (action chunks, L1, AdamW+cosine; DDP under torchrun)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="LeRobot v3.0 dataset folder (from `jafm-robot record`); several as A,B,C are read as one")
    p.add_argument("--config", default="small", help="model size: tiny, small, base, large")
    p.add_argument("--steps", type=int, default=1000, help="total optimiser steps (with --resume: the new total)")
    p.add_argument("--batch-size", type=int, default=64, help="global batch size (split over DDP ranks)")
    p.add_argument("--out", required=True, help="run folder: checkpoints/, train_log.csv, training_curve.png")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (fine-tune; new optimiser and schedule): a .pt "
                   "checkpoint or a shipped .onnx policy (rebuilt; parity-checked)")
    p.add_argument("--fresh-warmup", type=int, default=200, metavar="STEPS",
                   help="with an .onnx --init: steps in which only what the file lacks (the training-only "
                        "auxiliary head) learns")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--log", default="csv", choices=["csv", "tensorboard"], help="CSV always; tensorboard adds OUT/tb")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--chunk-len", type=int, default=10)
    p.add_argument("--cameras", default="auto", help="auto (all in the dataset), image, or image,wrist_image")
    p.add_argument("--shift-pad", type=int, default=4, help="random-shift augmentation in pixels (0 = off)")
    p.add_argument("--save-every", type=int, default=1000)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="CPU threads per process (default: OMP_NUM_THREADS or cores/2)")
    p.add_argument("--aux-weight", type=float, default=1.0,
                   help="weight of the pick/place auxiliary loss (model sizes with aux_dim > 0, e.g. student)")
    p.add_argument("--kp-weight", type=float, default=0.2,
                   help="weight of the keypoint supervision (sizes with keypoints and an auxiliary head)")
    p.add_argument("--gripper-weight", type=float, default=1.0,
                   help="weight of the gripper dimension in the action loss relative to each joint's 1 (weights rescaled "
                        "to mean 1): its open/close decisions decide an episode")
    p.add_argument("--correction-weight", type=int, default=1, metavar="W",
                   help="sample the frames right after each episode's skipped actions (the expert's correction after "
                        "record --student, the recovery after --miss-first-grasp) W times as often (1: plain)")
    p.add_argument("--correction-window", type=int, default=10, metavar="N",
                   help="with --correction-weight: how many frames after the skipped actions count as the correction")
    p.add_argument("--scene", default=None,
                   help="scene the dataset was recorded in (places the keypoint targets; default: the one the dataset records)")
    p.add_argument("--layouts", default=None,
                   help="layout frames from `jafm-robot layouts` (A.npz,B.npz): more part layouts for the keypoint loss")
    p.add_argument("--layout-fraction", type=float, default=0.5, help="layout frames per batch, as a fraction of the batch")
    p.add_argument("--frames-cache", default=None,
                   help="decode camera frames into .npy files in this folder (read through the OS page cache) "
                        "instead of process memory: for datasets whose frames outgrow RAM")
    p.add_argument("--norm", default=None, choices=["group", "affine"],
                   help="encoder norm layers (default: as --config or the --init checkpoint has them). affine: a "
                        "per-channel scale and shift that the export folds into each conv (faster in ONNX Runtime); "
                        "a GroupNorm network is converted, calibrated on --norm-calib-frames training frames")
    p.add_argument("--norm-calib-frames", type=int, default=256, help="frames that calibrate the --norm affine conversion")
    p.add_argument("--json", default=None, help="write a summary JSON here")


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import write_json
    from jafm_robot.training.trainer import TrainConfig, train

    cfg = TrainConfig(
        dataset=args.dataset, out=args.out, config=args.config, steps=args.steps, batch_size=args.batch_size,
        lr=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, chunk_len=args.chunk_len,
        cameras=args.cameras, shift_pad=args.shift_pad, device=args.device, log=args.log,
        save_every=args.save_every, log_every=args.log_every, seed=args.seed, resume=args.resume, threads=args.threads,
        init=args.init, fresh_warmup=args.fresh_warmup, aux_weight=args.aux_weight, kp_weight=args.kp_weight,
        gripper_weight=args.gripper_weight, correction_weight=args.correction_weight,
        correction_window=args.correction_window, scene=args.scene,
        layouts=args.layouts, layout_fraction=args.layout_fraction, frames_cache=args.frames_cache,
        norm=args.norm, norm_calib_frames=args.norm_calib_frames,
    )
    summary = train(cfg, argv=["jafm-robot", *sys.argv[1:]] if sys.argv else None)
    import os

    if int(os.environ.get("RANK", 0)) == 0:
        print(f"trained to step {summary['step']}: loss {summary['loss']:.4f}, {summary['parameters']} parameters "
              f"-> {summary['checkpoint']}")
        write_json(args.json, summary)
    return 0
