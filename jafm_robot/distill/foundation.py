"""The ``foundation`` VLA size: the large multi-task teacher the real-time student is distilled from.

Why a separate size from ``large``: the teacher never runs in the 10 Hz control loop, so it can
spend its compute on capacity (wider, deeper, both cameras, dropout for multi-task data) instead of
batch-1 latency. It is the same network family as the student (same inputs, same chunk output,
normalisation inside), so ``jafm-robot train`` trains it, ``jafm-robot export`` exports it and
``jafm-robot distill --teacher teacher.pt|teacher.onnx`` uses it with no extra code.

``configuration_vla.SIZES`` lists it, so the one ``train`` verb trains it::

    jafm-robot train --config foundation --dataset data/multitask --out runs/foundation --steps 200000
    # multi-GPU: torchrun --nproc_per_node 8 -m jafm_robot.cli.main train --config foundation ...

The checkpoint stores its full config, so loading it later needs no registration.
"""

from __future__ import annotations

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
