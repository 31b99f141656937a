"""Small helpers shared by the verb modules: task/language checks and options every host shares.

Reporting (JSON, progress bars, Wilson intervals) lives in :mod:`jafm_robot.reporting` and is
re-exported here for the verbs.
"""

from __future__ import annotations

import argparse

from jafm_robot.contract import LANGUAGES, TASKS
from jafm_robot.reporting import failures_line, outcome_counts, progress, wilson_interval, write_json
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT, check_overlap_weight

__all__ = [
    "add_overlap_weight_argument",
    "add_workers_arguments",
    "check_task",
    "cluster_from",
    "failures_line",
    "outcome_counts",
    "parse_languages",
    "progress",
    "wilson_interval",
    "write_json",
]


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def parse_languages(spec: str) -> list[str]:
    """'en', 'ja' or 'en,ja' -> list, with a clear error for anything else."""
    langs = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [lang for lang in langs if lang not in LANGUAGES]
    if bad or not langs:
        raise ValueError(f"unknown language {','.join(bad) or spec!r}; choose from {', '.join(LANGUAGES)}")
    return langs


def _overlap_weight(text: str) -> float:
    try:
        return check_overlap_weight(float(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_overlap_weight_argument(p: argparse.ArgumentParser) -> None:
    """``--overlap-weight W``, the same option for every host that executes chunks (eval, run, demo)."""
    p.add_argument("--overlap-weight", type=_overlap_weight, default=DEFAULT_OVERLAP_WEIGHT, metavar="W",
                   help="a new chunk's weight where it overlaps the plan in force: its points there are "
                        f"W*new + (1-W)*old, ACT-style temporal ensembling (default {DEFAULT_OVERLAP_WEIGHT}; "
                        "1 = each chunk replaces the plan)")


def _workers(text: str) -> int:
    from jafm_robot.workers import check_workers

    try:
        return check_workers(int(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_workers_arguments(p: argparse.ArgumentParser) -> None:
    """``--workers N`` and ``--ray-address ADDR``: the same options for every verb that rolls out
    episodes (``record``, ``expert``, ``eval``, ``layouts``, ``distill``)."""
    p.add_argument("--workers", type=_workers, default=None, metavar="N",
                   help="worker processes the episodes are spread over through Ray (default: $JAFM_WORKERS, else "
                        "the cores available); 1 runs them in this process. Results are the same whatever N")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="join a running Ray cluster (auto, HOST:6379 or ray://HOST:10001) instead of starting a "
                        "local one for the command; every node needs jafm_robot installed")


def cluster_from(args: argparse.Namespace):
    """The :class:`jafm_robot.workers.Cluster` the options ask for."""
    from jafm_robot.workers import Cluster, default_workers

    return Cluster(workers=args.workers or default_workers(), address=args.ray_address)
