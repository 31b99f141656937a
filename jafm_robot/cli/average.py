"""``jafm-robot average``: the uniform weight average of fine-tunes that share one initialisation."""

from __future__ import annotations

import argparse
import sys

HELP = "average the weights of checkpoints fine-tuned from one network (a model soup) into one checkpoint"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoints", required=True, help="A,B[,C...]: .pt checkpoints or jafm_robot .onnx files, at least one .pt "
                   "(the first .pt's metadata is kept)")
    p.add_argument("--out", required=True, help="the averaged checkpoint (.pt); export it with `jafm-robot export`")


def run(args: argparse.Namespace) -> int:
    from jafm_robot.training.average import average_checkpoints

    sources = [s.strip() for s in args.checkpoints.split(",") if s.strip()]
    entry = average_checkpoints(sources, args.out, argv=["jafm-robot", *sys.argv[1:]])
    print(f"wrote {args.out}: the average of {len(entry['sources'])} checkpoints")
    return 0
