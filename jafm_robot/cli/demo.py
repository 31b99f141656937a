"""``jafm-robot demo``: the main job. The newest shipped policy does every task it was trained for
(the five-task student: Reach, PickPlace, ConveyorPick, Stack, Sort), in English and Japanese,
through the real-time runtime; a table per task and language is printed and one video with an
overlay (instruction, what was understood, outcome, loop statistics) written.

Without a shipped policy (``models/*.onnx``), or with ``--expert``, the scripted experts do the
tasks through the gym loop instead, so the work cell can be seen on a fresh checkout.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jafm_robot.cli.common import (
    add_overlap_weight_argument,
    failures_line,
    parse_languages,
    progress,
    write_json,
)
from jafm_robot.contract import TASKS
from jafm_robot.paths import shipped_policy

HELP = "the main job: the newest shipped policy does every task it was trained for (en + ja); table + video"

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default=None, help="ONNX policy (default: the newest shipped one in models/)")
    p.add_argument("--expert", action="store_true", help="use the scripted experts instead of a policy")
    p.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task the policy was trained for)")
    p.add_argument("--lang", default="en,ja")
    p.add_argument("--episodes", type=int, default=1, help="episodes per task and language")
    p.add_argument("--seed", type=int, default=90_000, help="first seed (held out from training)")
    p.add_argument("--rate", type=float, default=500.0, help="control loop rate (Hz)")
    p.add_argument("--replan-every", type=int, default=None, help="action points between inferences (default chunk_len//2)")
    add_overlap_weight_argument(p)
    p.add_argument("--video", default="outputs/demo.mp4")
    p.add_argument("--json", default=None)


def _tasks(spec: str | None, available: list[str]) -> list[str]:
    if spec is None:
        return [t for t in TASKS if t in available]
    tasks = [t.strip() for t in spec.split(",") if t.strip()]
    bad = [t for t in tasks if t not in available]
    if bad:
        raise ValueError(f"task(s) {', '.join(bad)} not available; choose from {', '.join(available)}")
    return tasks


def run(args: argparse.Namespace) -> int:
    langs = parse_languages(args.lang)
    policy = Path(args.policy) if args.policy else shipped_policy()
    if args.expert or policy is None:
        if policy is None and not args.expert:
            print("no shipped policy in models/: the scripted experts do the demo (gym loop)")
        return _expert_demo(args, langs)
    return _policy_demo(args, policy, langs)


def _policy_demo(args: argparse.Namespace, policy: Path, langs: list[str]) -> int:
    from jafm_robot.cli.run_cmd import HEADER, episode_row, summarize_runs
    from jafm_robot.hosts.realtime import RealtimeRunner
    from jafm_robot.hosts.video import episode_frames
    from jafm_robot.runtime.engine import PolicyEngine
    from jafm_robot.video import write_video

    meta = PolicyEngine(policy, warmup=0).metadata
    tasks = _tasks(args.tasks, meta.tasks)
    langs = [lang for lang in langs if lang in meta.languages]
    episodes, frames, t0 = [], [], time.perf_counter()
    print(f"demo: {policy.name} through the real-time runtime (loop {args.rate:.0f} Hz)")
    print(HEADER)
    for task in tasks:
        with RealtimeRunner(str(policy), task, loop_rate=args.rate, replan_every=args.replan_every,
                            overlap_weight=args.overlap_weight) as runner:
            for i in progress(range(args.episodes * len(langs)), desc=task):
                ep = runner.run_episode(args.seed + i, langs[i % len(langs)], video_hz=10.0 if args.video else 0.0)
                episodes.append(ep)
                print(episode_row(ep), flush=True)
                if args.video:
                    frames.extend(episode_frames(ep))
    summary = summarize_runs(episodes, policy=str(policy), mode="policy", wall_s=time.perf_counter() - t0)
    _print_table({(e.task, e.language): [] for e in episodes}, episodes)
    if line := failures_line(summary["outcomes"]):
        print(line)
    write_json(args.json, summary)
    if args.video and frames:
        write_video(args.video, frames, fps=10, pad_odd=True)
        print(f"video: {args.video}")
    return 0


def _expert_demo(args: argparse.Namespace, langs: list[str]) -> int:
    import gymnasium as gym

    import jafm_robot  # noqa: F401  (registers the envs)
    from jafm_robot.envs.rollout import rollout
    from jafm_robot.experts import make_expert
    from jafm_robot.hosts.overlay import overlay
    from jafm_robot.hosts.video import outcome_label
    from jafm_robot.video import write_video

    tasks = _tasks(args.tasks, list(TASKS)) if args.tasks else ["PickPlace", "ConveyorPick", "Sort"]
    results, frames, t0 = [], [], time.perf_counter()
    for task in tasks:
        env = gym.make(f"jafm_robot/{task}-v0", render_mode="rgb_array")
        expert = make_expert(env.unwrapped)
        for i in progress(range(args.episodes * len(langs)), desc=f"expert {task}"):
            lang = langs[i % len(langs)]
            raw: list = []
            r = rollout(env, expert, args.seed + i, lang, video_frames=raw if args.video else None)
            r.info["task"] = task
            results.append(r)
            for j, f in enumerate(raw):
                foot = outcome_label(r.success, r.info.get("outcome", "")) if j >= len(raw) - 3 else f"t = {j / 10:.1f} s"
                frames.append(overlay(f, [f"{task} [{lang}] seed {r.seed} (scripted expert)", r.instruction],
                                      footer=[foot]))
        env.close()
    print(f"{'task':<14}{'lang':<6}{'episodes':>9}{'success':>9}")
    for task in tasks:
        for lang in langs:
            rs = [r for r in results if r.info["task"] == task and r.language == lang]
            print(f"{task:<14}{lang:<6}{len(rs):>9}{sum(r.success for r in rs) / max(1, len(rs)):>9.0%}")
    write_json(args.json, {"mode": "expert", "wall_s": time.perf_counter() - t0,
                           "runs": [r.to_dict() | {"task": r.info["task"]} for r in results]})
    if args.video and frames:
        write_video(args.video, frames, fps=10, pad_odd=True)
        print(f"video: {args.video}")
    return 0


def _print_table(keys: dict, episodes: list) -> None:
    print(f"\n{'task':<14}{'lang':<6}{'episodes':>9}{'success':>9}{'understood':>11}")
    for task, lang in keys:
        es = [e for e in episodes if e.task == task and e.language == lang]
        print(f"{task:<14}{lang:<6}{len(es):>9}{sum(e.success for e in es) / len(es):>9.0%}"
              f"{sum(not e.refused for e in es) / len(es):>11.0%}")
