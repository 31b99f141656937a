"""The ``foundation`` VLA size: the large multi-task teacher the real-time student is distilled from.

Why a separate size from ``large``: the teacher never runs in the 10 Hz control loop, so it can
spend its compute on capacity (wider, deeper, both cameras, dropout for multi-task data) instead of
batch-1 latency. It is the same network family as the student (same inputs, same chunk output,
normalisation inside), so ``jafm-robot train`` trains it, ``jafm-robot export`` exports it and
``jafm-robot distill --teacher teacher.pt|teacher.onnx`` uses it with no extra code.

``configuration_vla.SIZES`` lists it, so ``jafm-robot train --config foundation`` trains it; this
module is the same ``train`` verb with ``foundation`` as the default size::

    python -m jafm_robot.distill.foundation --dataset data/multitask --out runs/foundation --steps 200000
    # multi-GPU: python -m torch.distributed.run --nproc_per_node 8 -m jafm_robot.distill.foundation ...

The checkpoint stores its full config, so loading it later needs no registration.
"""

from __future__ import annotations

import sys

from jafm_robot.policies.vla.configuration_vla import SIZES

FOUNDATION = SIZES["foundation"]
#: the student every ratio is quoted against
STUDENT_SIZE = "small"
#: the brief's floor: a teacher that is not >= 10x the student is not worth distilling from
MIN_RATIO = 10.0


def parameter_counts() -> dict[str, int]:
    """Parameters of the foundation teacher and the student (builds both networks; needs torch)."""
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy

    return {"foundation": VLAPolicy(FOUNDATION).num_parameters(), STUDENT_SIZE: VLAPolicy(SIZES[STUDENT_SIZE]).num_parameters()}


def main(argv: list[str] | None = None) -> int:
    """``jafm-robot train`` with ``--config foundation`` as the default."""
    import argparse

    from jafm_robot.cli import train as train_verb

    p = argparse.ArgumentParser(prog="python -m jafm_robot.distill.foundation",
                                description="train the foundation teacher (same options as `jafm-robot train`)")
    train_verb.add_arguments(p)
    p.set_defaults(config="foundation")
    args = p.parse_args(argv)
    return int(train_verb.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
