"""``jafm-robot run``: a policy drives the simulated work cell through the real-time runtime.

The world runs on the wall clock in its own process; the ONNX policy infers asynchronously; the
control loop (500-1000 Hz) blends, limits and sends joint commands. See ``jafm_robot.hosts.realtime``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from jafm_robot.cli.common import (
    add_overlap_weight_argument,
    check_task,
    failures_line,
    outcome_counts,
    parse_languages,
    progress,
    wilson_interval,
    write_json,
)

HELP = "run a policy on the simulated work cell through the real-time runtime (engine + control loop)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", required=True, help="ONNX policy file (its model card must sit beside it)")
    p.add_argument("--task", default="PickPlace")
    p.add_argument("--lang", default="en", help="en, ja or en,ja (episodes alternate)")
    p.add_argument("--instruction", default=None,
                   help="your own instruction instead of the task's (any wording, English or Japanese); what cannot "
                        "be grounded is refused: the arm holds, the reason is printed, exit 3")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--rate", type=float, default=500.0, help="control loop rate in Hz (up to 1000)")
    p.add_argument("--replan-every", type=int, default=None,
                   help="action points between inferences, as in eval (default chunk_len//2: the policy runs at "
                        "1/(replan_every*action_dt) Hz)")
    add_overlap_weight_argument(p)
    p.add_argument("--provider", default="cpu", choices=["auto", "cpu", "cuda", "tensorrt"])
    p.add_argument("--scene", default=None, help="scene name under sim/scenes or a YAML path")
    p.add_argument("--time-limit", type=float, default=None, help="simulated seconds per episode (default: the task's)")
    p.add_argument("--json", default=None, help="write the results as JSON")
    p.add_argument("--video", default=None, help="write an mp4 with an overlay")
    p.add_argument("--trace", default=None,
                   help="write an .npz with, per episode, state, command, end-effector and part positions at 10 Hz "
                        "(keys <episode>/<field>), to compare a run with eval step by step")


def episode_row(ep: Any) -> str:
    from jafm_robot.hosts.video import understood_line

    lp = ep.loop
    return (f"{ep.task:<12} {ep.language:<3} {ep.seed:>6} {'yes' if ep.success else 'no':<7} "
            f"{ep.sim_time:6.1f}s {lp.get('period_error_p99_us', float('nan')):9.0f} {lp.get('misses', 0):>6} "
            f"{ep.policy.get('latency_p50_ms', float('nan')):7.2f}  {understood_line(ep.understood)}")


HEADER = (f"{'task':<12} {'lng':<3} {'seed':>6} {'success':<7} {'time':>7} {'p99 err us':>9} {'misses':>6} "
          f"{'inf ms':>7}  instruction understood as")


def summarize_runs(episodes: list[Any], **extra: Any) -> dict[str, Any]:
    n = len(episodes)
    k = sum(e.success for e in episodes)
    by_lang: dict[str, Any] = {}
    for lang in dict.fromkeys(e.language for e in episodes):
        es = [e for e in episodes if e.language == lang]
        s = sum(e.success for e in es)
        by_lang[lang] = {"episodes": len(es), "success_rate": s / len(es), "ci95": list(wilson_interval(s, len(es)))}
    return {"episodes": n, "success_rate": k / n if n else 0.0, "ci95": list(wilson_interval(k, n)),
            "by_language": by_lang, "outcomes": outcome_counts(e.outcome for e in episodes if e.outcome),
            "runs": [e.to_dict() for e in episodes], **extra}


def save_traces(path: str, episodes: list[Any]) -> None:
    """One .npz: ``<i>/<field>`` arrays per episode plus ``<i>/seed`` and ``<i>/success``."""
    import os

    import numpy as np

    arrays: dict[str, np.ndarray] = {}
    for i, ep in enumerate(episodes):
        arrays[f"{i}/seed"] = np.asarray(ep.seed)
        arrays[f"{i}/success"] = np.asarray(ep.success)
        arrays.update({f"{i}/{k}": v for k, v in ep.trace.items()})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, **arrays)


def run(args: argparse.Namespace) -> int:
    from jafm_robot.hosts.realtime import RealtimeRunner
    from jafm_robot.hosts.video import episode_frames
    from jafm_robot.video import write_video

    check_task(args.task)
    langs = parse_languages(args.lang)
    if not 1 <= args.rate <= 1000:
        raise ValueError(f"--rate must be in [1, 1000] Hz, got {args.rate}")
    episodes, frames = [], []
    t0 = time.perf_counter()
    with RealtimeRunner(args.policy, args.task, provider=args.provider, loop_rate=args.rate,
                        replan_every=args.replan_every, overlap_weight=args.overlap_weight,
                        scene=args.scene) as runner:
        print(f"policy {args.policy} on {runner.engine.provider}; loop {args.rate:.0f} Hz; inference every "
              f"{runner.replan_every} action points ({runner.policy_rate:g} Hz)", flush=True)
        print(HEADER)
        for i in progress(range(args.episodes), desc=f"run {args.task}"):
            lang = langs[i % len(langs)]
            ep = runner.run_episode(args.seed + i, lang, instruction=args.instruction, time_limit=args.time_limit,
                                    video_hz=10.0 if args.video else 0.0, trace_hz=10.0 if args.trace else 0.0)
            episodes.append(ep)
            print(episode_row(ep), flush=True)
            if ep.refused:
                print(f"  refused ({ep.understood.get('code')}): {ep.understood.get('reason')}; the arm held "
                      f"(largest joint excursion {ep.hold_motion_rad * 1e3:.2f} mrad)", flush=True)
            if args.video:
                frames.extend(episode_frames(ep))
    summary = summarize_runs(episodes, task=args.task, seed=args.seed, policy=args.policy,
                             refused=sum(e.refused for e in episodes),
                             loop_rate=args.rate, replan_every=runner.replan_every,
                             overlap_weight=runner.overlap_weight,
                             wall_s=time.perf_counter() - t0)
    print(f"success {summary['success_rate']:.0%} over {len(episodes)} episodes "
          f"(95% CI {summary['ci95'][0]:.2f}-{summary['ci95'][1]:.2f})")
    if line := failures_line(summary["outcomes"]):
        print(line)
    write_json(args.json, summary)
    if args.trace:
        save_traces(args.trace, episodes)
        print(f"trace: {args.trace}")
    if args.video and frames:
        write_video(args.video, frames, fps=10, pad_odd=True)
        print(f"video: {args.video}")
    return 3 if episodes and all(e.refused for e in episodes) else 0
