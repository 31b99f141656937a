"""``jafm-robot distill``: DAgger distillation of a teacher (scripted expert, foundation checkpoint,
ONNX file or any user callable) into the small real-time student, then ONNX export with a card.

Every option but ``--json`` is a field of :class:`~jafm_robot.distill.dagger.DistillConfig` or of
the ``TrainConfig`` it holds for the student, declared there once with its help; the parser is
derived from the dataclasses and the parsed namespace becomes the config (:mod:`jafm_robot.configs`).

See ``docs/distill.md`` and :mod:`jafm_robot.distill.dagger`.
"""

from __future__ import annotations

import argparse
import sys

from jafm_robot.configs import add_arguments as add_config_arguments
from jafm_robot.configs import from_namespace
from jafm_robot.distill.dagger import DistillConfig

HELP = ("distill a teacher (expert | PATH.pt | PATH.onnx | module:function) into the student by DAgger with "
        "action-chunk matching; per-iteration success, held-out phrasings, --resume, ONNX export with card")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p, DistillConfig)
    p.add_argument("--json", default=None, help="write the run log (also OUT/distill_log.json) here")


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import write_json
    from jafm_robot.distill.dagger import distill

    log = distill(from_namespace(DistillConfig, args), argv=["jafm-robot", *sys.argv[1:]] if sys.argv else None)
    ex = log.get("export")
    its = log.get("iterations", [])
    last = its[-1] if its else {}
    print(f"distilled {len(its)} iteration(s): buffer {last.get('buffer_frames', 0)} frames, "
          f"loss {last.get('loss')}" + (f" -> {ex['onnx']} ({ex['parameters']} parameters)" if ex else ""))
    write_json(args.json, log)
    return 0
