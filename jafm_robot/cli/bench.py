"""``jafm-robot bench <what>``: benchmarks that measure a subject and its baseline in one run.

Each benchmark is a module ``jafm_robot/bench/<what>.py`` with ``HELP``, ``add_arguments`` and
``run``, the same shape as a CLI verb.
"""

from __future__ import annotations

import argparse
import importlib

HELP = "benchmarks: subject and baseline in the same run, ratio reported (sim, latency, loop, ros, rollouts, gpu)"
BENCHES = ("sim", "latency", "loop", "ros", "rollouts", "gpu")


def _modules() -> dict[str, object]:
    out = {}
    for name in BENCHES:
        try:
            out[name] = importlib.import_module(f"jafm_robot.bench.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"jafm_robot.bench.{name}":
                raise
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="WHAT", required=True)
    for name, module in _modules().items():
        text = module.HELP.replace("%", "%%")  # argparse formats help strings with %
        p = sub.add_parser(name, help=text, description=text)
        module.add_arguments(p)
        p.set_defaults(_bench_run=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args._bench_run(args) or 0)
