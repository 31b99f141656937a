"""``jafm-robot train``: behaviour cloning of the VLA policy on a LeRobot v3.0 dataset.

Every option but ``--json`` is a :class:`~jafm_robot.training.config.TrainConfig` field, declared
there once with its help; the parser is derived from the dataclass and the parsed namespace becomes
the config directly (:mod:`jafm_robot.configs`).

Multi-process: ``python -m torch.distributed.run --nproc_per_node N -m jafm_robot.cli.main train ...``
(or ``torchrun``); the same command line, ``--batch-size`` is the global batch.
"""

from __future__ import annotations

import argparse
import os
import sys

from jafm_robot.configs import add_arguments as add_config_arguments
from jafm_robot.configs import from_namespace
from jafm_robot.training.config import TrainConfig

HELP = "train the VLA policy by behaviour cloning (action chunks, L1, AdamW+cosine; DDP under torchrun)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p, TrainConfig)
    p.add_argument("--json", default=None, help="write a summary JSON here")


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import write_json
    from jafm_robot.training.trainer import train

    summary = train(from_namespace(TrainConfig, args), argv=["jafm-robot", *sys.argv[1:]] if sys.argv else None)
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"trained to step {summary['step']}: loss {summary['loss']:.4f}, {summary['parameters']} parameters "
              f"-> {summary['checkpoint']}")
        write_json(args.json, summary)
    return 0
