"""``jafm-robot eval``: closed-loop success rate (95% Wilson CI) of a .pt or .onnx policy."""

from __future__ import annotations

import argparse

from jafm_robot.cli.common import add_overlap_weight_argument, add_workers_arguments

HELP = "evaluate a policy (.pt or .onnx) in the env: success rate with 95% CI, chunks executed as the runtime does"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", required=True, help="RUN/checkpoints/last.pt or models/NAME.onnx")
    p.add_argument("--task", required=True)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=10_000, help="first seed (keep clear of the training seeds)")
    p.add_argument("--lang", default="en", choices=["en", "ja"])
    p.add_argument("--replan-every", type=int, default=None, help="action points between inferences (default chunk_len//2)")
    add_overlap_weight_argument(p)
    p.add_argument("--json", default=None)
    p.add_argument("--video", default=None, help="MP4 of the first episodes (scene | wrist)")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--execution", default="runtime", choices=["runtime", "step"],
                   help="runtime: motor targets move smoothly between action points within each step, as in run's "
                        "control loop (default); step: each action point is held for the whole step (as record runs "
                        "the experts; the default before session 6)")
    p.add_argument("--no-verify", action="store_true", help="ONNX without a model card (skips the sha256 check)")
    p.add_argument("--card", action="store_true", help="store the result in the ONNX file's model card")
    p.add_argument("--phrasings", default=None, metavar="FILE",
                   help="TSV 'lang<TAB>template' with {part} {bin} {top} {base} slots filled from each seed's goal "
                        "({bin}: the colour noun, blue / 青): the env's templates, then every phrasing of --lang, on "
                        "the same seeds; success per phrasing and the drop from the templates")
    p.add_argument("--no-grounding", action="store_true",
                   help="feed the instruction to the network as it is, without the instruction gate (what the "
                        "policy alone makes of the text; every host grounds it)")
    add_workers_arguments(p)


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import check_task, cluster_from, failures_line, write_json
    from jafm_robot.policies.inference import load_policy
    from jafm_robot.training.evaluate import EvalSpec, evaluate

    check_task(args.task)
    cluster = cluster_from(args)
    policy = load_policy(args.policy, verify=not args.no_verify)
    spec = EvalSpec(policy=str(args.policy), task=args.task, language=args.lang, verify=not args.no_verify,
                    replan_every=args.replan_every, overlap_weight=args.overlap_weight, execution=args.execution,
                    max_steps=args.max_steps, grounding=not args.no_grounding)
    if args.phrasings is not None:
        return _run_phrasings(args, spec, cluster, policy)
    res = evaluate(spec, args.episodes, args.seed, video=args.video, cluster=cluster, policy=policy)
    res["policy"] = str(args.policy)
    lo, hi = res["ci95"]
    print(f"{args.task}/{args.lang}: {res['successes']}/{res['episodes']} = {res['success_rate']:.0%} "
          f"(95% CI {lo:.0%}-{hi:.0%}), {policy.kind} inference p50 {res['inference_ms']['p50']:.2f} ms")
    if line := failures_line(res.get("outcomes", {})):
        print(line)
    write_json(args.json, res)
    if args.card and str(args.policy).endswith(".onnx"):
        import shlex
        import sys

        from jafm_robot.policies.export import update_card_entries

        summary = {k: res[k] for k in ("episodes", "successes", "success_rate", "ci95", "seed", "by_language", "replan_every",
                                       "overlap_weight", "outcomes") if k in res}
        key = f"{args.task}/{args.lang}"
        if not update_card_entries(args.policy, [("success", key, summary),
                                                 ("commands", f"eval {key}", shlex.join(["jafm-robot", *sys.argv[1:]]))]):
            print(f"--card: {args.policy} has no model card beside it; nothing stored")
    return 0


def read_phrasings(path: str, language: str) -> list[str]:
    """The ``lang<TAB>template`` lines of ``path`` for ``language`` (blank lines and ``#`` comments skipped)."""
    from pathlib import Path

    out = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lang, sep, template = line.partition("\t")
        if not sep or lang.strip() not in ("en", "ja") or not template.strip():
            raise ValueError(f"--phrasings {path}:{i}: expected 'lang<TAB>template', got {line!r}")
        if lang.strip() == language:
            out.append(template.strip())
    return out


def _run_phrasings(args: argparse.Namespace, spec, cluster, policy) -> int:
    from jafm_robot.cli.common import write_json
    from jafm_robot.training.evaluate import evaluate_phrasings

    phrasings = read_phrasings(args.phrasings, args.lang)
    res = evaluate_phrasings(spec, phrasings, args.episodes, args.seed, cluster=cluster, policy=policy)
    t, ph = res["templates"], res["phrasings"]
    print(f"{args.task}/{args.lang}: templates {t['successes']}/{t['episodes']} = {t['success_rate']:.0%}; "
          f"{len(phrasings)} phrasings {ph['successes']}/{ph['episodes']} = {ph['success_rate']:.0%} "
          f"(95% CI {ph['ci95'][0]:.0%}-{ph['ci95'][1]:.0%}), drop {res['drop'] * 100:+.1f} points, "
          f"refused {ph['refused']}")
    for row in res["per_phrasing"]:
        print(f"  {row['successes']:>3}/{row['episodes']:<3} refused {row['refused']:>2}  {row['phrasing']}")
    write_json(args.json, res)
    if args.card and str(args.policy).endswith(".onnx"):
        import shlex
        import sys

        from jafm_robot.policies.export import update_card_entries

        key = f"{args.task}/{args.lang}"
        table = {k: res[k] for k in ("seed", "episodes_per_phrasing", "templates", "phrasings", "drop", "grounding")}
        table["per_phrasing"] = [{k: r[k] for k in ("phrasing", "episodes", "successes", "success_rate", "ci95",
                                                    "refused")} for r in res["per_phrasing"]]
        table["file"] = str(args.phrasings)
        if not update_card_entries(args.policy, [("phrasings", key, table),
                                                 ("commands", f"eval --phrasings {key}",
                                                  shlex.join(["jafm-robot", *sys.argv[1:]]))]):
            print(f"--card: {args.policy} has no model card beside it; nothing stored")
    return 0
