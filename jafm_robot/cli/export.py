"""``jafm-robot export``: a training checkpoint -> ONNX policy file + model card (parity-checked)."""

from __future__ import annotations

import argparse
import sys

HELP = "export a VLA checkpoint to ONNX (normalisation inside, metadata, model card, torch parity <= 1e-4)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="RUN_DIR/checkpoints/last.pt (or step_N.pt)")
    p.add_argument("--out", required=True, help="models/NAME.onnx; the card goes to models/NAME.json")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--json", default=None, help="also write the card here")


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import write_json
    from jafm_robot.policies.export import export_onnx

    card = export_onnx(args.checkpoint, args.out, opset=args.opset, command=["jafm-robot", *sys.argv[1:]])
    print(f"wrote {args.out} ({card['parameters']} parameters, sha256 {card['sha256'][:12]}…, "
          f"parity max |diff| {card['parity_max_abs_diff']:.1e})")
    write_json(args.json, card)
    return 0
