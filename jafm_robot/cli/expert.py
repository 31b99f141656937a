"""``jafm-robot expert``: run a task's scripted expert for N seeded episodes and report its success.

Episode ``i`` uses seed ``S + i`` and the languages cycle (``--lang en,ja`` alternates en, ja, ...)
so a 200-episode run is a 100/100 split. The JSON is the same summary ``eval`` writes for a
policy (``jafm_robot.envs.rollout.summarize``); the video shows the first episodes.
"""

from __future__ import annotations

import argparse
import sys
import time

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


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import check_task, parse_languages, progress, write_json

    task = check_task(args.task)
    langs = parse_languages(args.lang)
    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.image_size < 16:
        raise ValueError(f"--image-size must be >= 16, got {args.image_size}")

    import gymnasium

    import jafm_robot  # noqa: F401  (registers the envs)
    from jafm_robot.envs.rollout import rollout, summarize
    from jafm_robot.experts import make_expert
    from jafm_robot.video import write_video

    env = gymnasium.make(
        f"jafm_robot/{task}-v0",
        render_mode="rgb_array",
        image_size=args.image_size,
        randomize=not args.no_randomize,
    )
    expert = make_expert(env)
    frames: list = []
    results = []
    t0 = time.perf_counter()
    try:
        bar = progress(range(args.episodes), desc=f"expert {task}")
        for i in bar:
            lang = langs[i % len(langs)]
            want_video = args.video is not None and i < args.video_episodes
            r = rollout(env, expert, seed=args.seed + i, language=lang, video_frames=frames if want_video else None)
            results.append(r)
            ok = sum(x.success for x in results)
            bar.set_postfix(success=f"{ok}/{len(results)}")
    finally:
        env.close()
    wall = time.perf_counter() - t0
    summary = summarize(results, task=task, seed=args.seed, wall_s=wall, languages=langs,
                        randomize=not args.no_randomize, image_size=args.image_size)
    summary["episodes_detail"] = [r.to_dict() for r in results]
    write_json(args.json, summary)
    if args.video is not None and frames:
        write_video(args.video, frames, fps=1.0 / float(getattr(env.unwrapped, "action_dt", 0.1)), pad_odd=True)
    by = ", ".join(f"{k}: {v['successes']}/{v['episodes']}" for k, v in summary["by_language"].items())
    lo, hi = summary["ci95"]
    print(
        f"{task}: success {summary['successes']}/{summary['episodes']} = {summary['success_rate']:.1%} "
        f"(95% CI {lo:.1%}-{hi:.1%}; {by}); mean steps {summary['mean_steps']:.1f}; {wall:.1f} s",
        file=sys.stdout,
    )
    return 0
