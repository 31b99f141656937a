"""Entry point of ``jafm-robot``: finds the verb module and hands it the rest of the command line.

Verb modules are imported only when called, so ``jafm-robot --help`` is instant and a verb that
needs torch does not slow down one that does not.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# verb -> module under jafm_robot.cli (the module name differs where the verb is a Python keyword)
VERBS: dict[str, str] = {
    "demo": "demo",
    "expert": "expert",
    "record": "record",
    "layouts": "layouts",
    "train": "train",
    "average": "average",
    "distill": "distill",
    "export": "export",
    "eval": "eval_cmd",
    "run": "run_cmd",
    "bench": "bench",
    "bringup": "bringup",
    "understand": "understand",
}


def _available() -> dict[str, object]:
    out = {}
    for verb, mod in VERBS.items():
        try:
            out[verb] = importlib.import_module(f"jafm_robot.cli.{mod}")
        except ModuleNotFoundError as e:
            if e.name != f"jafm_robot.cli.{mod}":
                raise
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jafm-robot",
        description="jafm_robot: vision-language-action control for robot arms (PyBullet, ONNX Runtime, ROS 2).",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, module in _available().items():
        text = module.HELP.replace("%", "%%")  # argparse formats help strings with %
        p = sub.add_parser(verb, help=text, description=text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError) as e:
        # Bad input from the user (missing file, unknown task, mismatched model): one clear line.
        print(f"jafm-robot {args.verb}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
