"""``TrainConfig``: every setting of a behaviour-cloning run, each command-line option declared once.

``jafm-robot train`` derives its argparse options from these fields (:mod:`jafm_robot.configs`) and
parses straight into the dataclass; ``jafm-robot distill`` holds one for the student's training
(:class:`jafm_robot.distill.dagger.DistillConfig`). It lives apart from the trainer so that building
the command line (``jafm-robot --help``) does not import torch. ``asdict(cfg)`` is what
``train_config.json`` and a checkpoint's ``train_config`` record: the field names and their order
are that file's format.
"""

from __future__ import annotations

from dataclasses import dataclass

from jafm_robot.configs import option
from jafm_robot.policies.vla.configuration_vla import NORMS


@dataclass
class TrainConfig:
    dataset: str | None = option(None, required=True, help="LeRobot v3.0 dataset folder (from `jafm-robot record`); "
                                 "several as A,B,C are read as one")
    out: str = option("", required=True, help="run folder: checkpoints/, train_log.csv, training_curve.png")
    config: str = option("small", help="model size: tiny, small, base, large")
    steps: int = option(1000, help="total optimiser steps (with --resume: the new total)")
    batch_size: int = option(64, help="global batch size (split over DDP ranks)")
    lr: float = option(3e-4)
    weight_decay: float = option(1e-4)
    warmup_steps: int = option(100)
    min_lr_ratio: float = 0.05  # the cosine decays to this fraction of the peak
    grad_clip: float = 1.0  # global gradient-norm clip (0 = off)
    shift_pad: int = option(4, help="random-shift augmentation in pixels (0 = off)")
    cameras: str = option("auto", help="auto (all in the dataset), image, or image,wrist_image")
    chunk_len: int = option(10)
    device: str = option("auto", choices=["auto", "cpu", "cuda"])
    log: str = option("csv", choices=["csv", "tensorboard"], help="CSV always; tensorboard adds OUT/tb")
    log_every: int = option(10)
    save_every: int = option(1000)
    seed: int = option(0)
    resume: bool = option(False, help="continue from OUT/checkpoints/last.pt")
    threads: int | None = option(None, help="CPU threads per process (default: OMP_NUM_THREADS or cores/2)")
    aux_weight: float = option(1.0, help="weight of the pick/place auxiliary loss (model sizes with aux_dim > 0, e.g. student)")
    kp_weight: float = option(0.2, help="weight of the keypoint supervision (sizes with keypoints and an auxiliary head)")
    # The gripper is one dimension of eight, but its open/close decisions (close now, keep a held
    # part closed) decide an episode; 1.0 is the plain L1 over all eight.
    gripper_weight: float = option(1.0, help="weight of the gripper dimension in the action loss relative to each "
                                   "joint's 1 (weights rescaled to mean 1): its open/close decisions decide an episode")
    # frames right after each episode's skipped actions (training.data.correction_frames)
    correction_weight: int = option(1, metavar="W", help="sample the frames right after each episode's skipped actions "
                                    "(the expert's correction after record --student, the recovery after "
                                    "--miss-first-grasp) W times as often (1: plain)")
    correction_window: int = option(10, metavar="N", help="with --correction-weight: how many frames after the skipped "
                                    "actions count as the correction")
    init: str | None = option(None, help="start from this checkpoint's weights (fine-tune; new optimiser and schedule): a .pt "
                              "checkpoint or a shipped .onnx policy (rebuilt; parity-checked)")
    # with an ONNX --init, a random auxiliary head's first gradients must not reach the trained network
    fresh_warmup: int = option(200, metavar="STEPS", help="with an .onnx --init: steps in which only what the file lacks "
                               "(the training-only auxiliary head) learns")
    layouts: str | None = option(None, help="layout frames from `jafm-robot layouts` (A.npz,B.npz): more part layouts "
                                 "for the keypoint loss")
    layout_fraction: float = option(0.5, help="layout frames per batch, as a fraction of the batch")
    scene: str | None = option(None, help="scene the dataset was recorded in (places the keypoint targets; default: "
                               "the one the dataset records)")
    # LeRobotV3Dataset.frames_array: frames read through the page cache instead of process memory
    frames_cache: str | None = option(None, help="decode camera frames into .npy files in this folder (read through the "
                                      "OS page cache) instead of process memory: for datasets whose frames outgrow RAM")
    # training.norm_conversion: a GroupNorm encoder converted to affine norms the export folds away
    norm: str | None = option(None, choices=list(NORMS), help="encoder norm layers (default: as --config or the --init "
                              "checkpoint has them). affine: a per-channel scale and shift that the export folds into "
                              "each conv (faster in ONNX Runtime); a GroupNorm network is converted, calibrated on "
                              "--norm-calib-frames training frames")
    norm_calib_frames: int = option(256, help="frames that calibrate the --norm affine conversion")

    def check(self) -> None:
        """The errors a run would otherwise hit late (after decoding every frame)."""
        if not self.dataset or not self.out:
            raise ValueError("--dataset and --out are required")
        if self.log not in ("csv", "tensorboard"):
            raise ValueError(f"unknown --log {self.log!r}; choose csv or tensorboard")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("--steps and --batch-size must be >= 1")
        if self.norm is not None and self.norm not in NORMS:
            raise ValueError(f"unknown --norm {self.norm!r}; choose one of {', '.join(NORMS)}")
