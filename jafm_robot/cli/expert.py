"""``jafm-robot expert``: run a task's scripted expert for N seeded episodes and report its success.

Episode ``i`` uses seed ``S + i`` and the languages cycle (``--lang en,ja`` alternates en, ja, ...)
so a 200-episode run is a 100/100 split. The JSON is the same summary ``eval`` writes for a
policy (``jafm_robot.envs.rollout.summarize``); the video shows the first episodes. ``--workers N``
spreads the episodes over N processes (``--ray-address``: over a Ray cluster) with the same results.
"""

from __future__ import annotations

import argparse
import sys

from jafm_robot.cli.common import add_workers_arguments

HELP = "run a task's scripted expert (privileged state + IK) and report success per language"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="Reach, PickPlace, ConveyorPick, Stack or Sort")
    parser.add_argument("--episodes", type=int, default=20, help="number of episodes (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="episode i uses seed SEED+i (default 0)")
    parser.add_argument("--lang", default="en,ja", help="en, ja or en,ja (episodes alternate; default en,ja)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the summary JSON here")
    parser.add_argument("--video", default=None, metavar="FILE", help="write an mp4 of the first episodes here")
    parser.add_argument("--video-episodes", type=int, default=2, help="episodes in the video (default 2)")
    parser.add_argument("--image-size", type=int, default=128, help="camera image size (default 128)")
    parser.add_argument("--no-randomize", action="store_true", help="nominal layout and appearance")
    parser.add_argument("--card", default=None, metavar="MODEL.onnx",
                        help="store the result in that model's card as its teacher's success (section 'teacher', "
                             "key TASK/LANG), beside the student's own from eval --card on the same seeds")
    add_workers_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import check_task, cluster_from, parse_languages, write_json
    from jafm_robot.experts.evaluate import ExpertSpec, evaluate_expert

    task = check_task(args.task)
    langs = parse_languages(args.lang)
    if args.image_size < 16:
        raise ValueError(f"--image-size must be >= 16, got {args.image_size}")
    spec = ExpertSpec(task, image_size=args.image_size, randomize=not args.no_randomize)
    summary = evaluate_expert(spec, args.episodes, args.seed, langs, video=args.video,
                              video_episodes=args.video_episodes, cluster=cluster_from(args))
    write_json(args.json, summary)
    by = ", ".join(f"{k}: {v['successes']}/{v['episodes']}" for k, v in summary["by_language"].items())
    lo, hi = summary["ci95"]
    print(
        f"{task}: success {summary['successes']}/{summary['episodes']} = {summary['success_rate']:.1%} "
        f"(95% CI {lo:.1%}-{hi:.1%}; {by}); mean steps {summary['mean_steps']:.1f}; {summary['wall_s']:.1f} s",
        file=sys.stdout,
    )
    if args.card:
        _store_in_card(args, task, summary)
    return 0


def _store_in_card(args: argparse.Namespace, task: str, summary: dict) -> None:
    """The expert is the teacher a behaviour-cloned student learnt from: its success on the
    student's held-out seeds goes into the student's card under ``teacher`` (same keys as
    ``success``), with the command that measured it."""
    import shlex

    from jafm_robot.policies.export import update_card_entries

    key = f"{task}/{args.lang}"
    entry = {k: summary[k] for k in ("episodes", "successes", "success_rate", "ci95", "seed", "by_language", "outcomes")
             if k in summary}
    entry["teacher"] = "scripted expert (privileged simulator state + iterated IK)"
    if not update_card_entries(args.card, [("teacher", key, entry),
                                           ("commands", f"teacher {key}", shlex.join(["jafm-robot", *sys.argv[1:]]))]):
        raise ValueError(f"--card {args.card}: no model card beside it")
    print(f"teacher success stored in the card of {args.card} ({key})")
