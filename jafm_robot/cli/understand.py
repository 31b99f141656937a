"""``jafm-robot understand``: what a policy would make of an instruction, before any arm moves.

Grounds the instruction through the instruction gate every host uses
(:class:`jafm_robot.runtime.grounding.InstructionGate`) for the tasks and languages a policy file
serves (read from its ONNX metadata, no torch, no inference) and prints one JSON object: the
structured goal, the text the network would be fed and the canonical instruction per language,
exit 0; or ``{"understood": false, "reason": ...}``, exit 3, when the instruction cannot be grounded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "parse a free-form Japanese/English instruction into the goal a policy would run, or refuse it (exit 3)"

#: exit status of a refused instruction (2 is argparse's and the CLI's usage/input error)
EXIT_REFUSED = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the instruction, e.g. \"put the red cube in the blue bin\" or \"赤いキューブを青い箱に入れて\"")
    p.add_argument("--policy", default=None, help="the .onnx policy whose tasks and languages count "
                   "(default: the newest shipped model under models/)")
    p.add_argument("--scene-parts", default=None, metavar="PARTS",
                   help="parts on the table, \"red cube,blue cylinder\": a named part not among them is refused")


def policy_metadata(path: Path):
    """The policy's contract metadata, read from the ONNX file's ``metadata_props`` alone."""
    import onnx

    from jafm_robot.runtime.metadata import ModelFileError, PolicyMetadata

    if not path.is_file():
        raise FileNotFoundError(f"no policy file {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError and others for a bad file
        raise ModelFileError(f"{path}: cannot read ONNX file (corrupt or truncated?): {e}") from e
    return PolicyMetadata.from_props({p.key: p.value for p in model.metadata_props}, str(path))


def run(args: argparse.Namespace) -> int:
    from jafm_robot.language.goal import parse_parts
    from jafm_robot.language.understanding import canonical
    from jafm_robot.paths import shipped_policy
    from jafm_robot.runtime.grounding import InstructionGate

    policy = Path(args.policy) if args.policy else shipped_policy()
    if policy is None:
        raise FileNotFoundError("no shipped policy under models/; pass --policy")
    meta = policy_metadata(policy)
    try:
        scene = parse_parts(args.scene_parts) if args.scene_parts else None
    except ValueError as e:
        raise ValueError(f"--scene-parts: {e}") from e
    # the gate every host grounds instructions through: what is printed here is what they would do
    grounding = InstructionGate(list(meta.tasks), list(meta.languages)).ground(args.text, scene)
    out = grounding.readout()
    if not grounding.refused:
        out["canonical"] = {lang: canonical(grounding.understanding, lang) for lang in meta.languages}
    out["policy"] = policy.name
    print(json.dumps(out, ensure_ascii=False))
    return EXIT_REFUSED if grounding.refused else 0
