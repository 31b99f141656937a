"""``jafm-robot bench rollouts``: evaluation episodes per second on one worker and on all cores.

Subject: ``eval`` of a policy with ``--workers N`` (N = the cores available unless told), through
Ray. Baseline: the same command with one worker (in this process, as ``eval --workers 1`` runs).
Same policy, task, language and seeds in both; the per-episode outcomes of the two are compared
too, since spreading episodes over workers must not change any of them. The parallel wall time
includes starting and stopping the local Ray instance and each worker's loading of the policy
and env (that is what the command costs); ``startup_s`` says how much of it that was.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

from jafm_robot.reporting import write_json

HELP = "rollouts: eval episodes/s with 1 worker vs all cores (Ray), same seeds, ratio reported"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default=None, help="policy file (default: the newest shipped model)")
    parser.add_argument("--task", default="PickPlace")
    parser.add_argument("--lang", default="en", choices=["en", "ja"])
    parser.add_argument("--episodes", type=int, default=60, help="episodes per measurement (default 60)")
    parser.add_argument("--seed", type=int, default=10_000, help="first seed (default 10000)")
    parser.add_argument("--workers", type=int, default=None, help="workers of the subject (default: the cores available)")
    parser.add_argument("--json", default=None, help="write the results here")


def _timed(spec: Any, episodes: int, seed: int, cluster: Any, policy: Any) -> tuple[dict[str, Any], float]:
    from jafm_robot.training.evaluate import evaluate

    t0 = time.perf_counter()
    res = evaluate(spec, episodes, seed, progress=True, cluster=cluster, policy=policy)
    return res, time.perf_counter() - t0


def measure(policy_path: str, task: str, language: str, episodes: int, seed: int, workers: int) -> dict[str, Any]:
    from jafm_robot.policies.inference import load_policy
    from jafm_robot.training.evaluate import EvalSpec
    from jafm_robot.workers import Cluster

    spec = EvalSpec(policy=policy_path, task=task, language=language)
    policy = load_policy(policy_path)
    load_before = os.getloadavg()
    serial, serial_s = _timed(spec, episodes, seed, Cluster(workers=1), policy)
    parallel, parallel_s = _timed(spec, episodes, seed, Cluster(workers=workers), policy)
    load_after = os.getloadavg()
    outcomes = [(r["seed"], r["success"], r["steps"]) for r in serial["per_episode"]]
    same = outcomes == [(r["seed"], r["success"], r["steps"]) for r in parallel["per_episode"]]
    episode_s = sum(r["wall_s"] for r in parallel["per_episode"]) / workers
    return {
        "bench": "rollouts",
        "policy": policy_path,
        "task": task,
        "language": language,
        "episodes": episodes,
        "seed": seed,
        "workers": workers,
        "serial": {"wall_s": serial_s, "episodes_per_s": episodes / serial_s, "successes": serial["successes"]},
        "parallel": {"wall_s": parallel_s, "episodes_per_s": episodes / parallel_s, "successes": parallel["successes"],
                     "startup_s": max(0.0, parallel_s - episode_s)},
        "ratio": serial_s / parallel_s,
        "same_outcomes": same,
        "machine": {"cores_available": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(),
                    "platform": platform.platform(), "loadavg_before": list(load_before),
                    "loadavg_after": list(load_after)},
    }


def run(args: argparse.Namespace) -> int:
    from jafm_robot.paths import shipped_policy
    from jafm_robot.workers import available_cores, check_workers

    policy = args.policy or shipped_policy()
    if policy is None:
        raise FileNotFoundError("no shipped policy under models/: give --policy")
    policy = str(policy)
    workers = check_workers(args.workers or available_cores())
    if workers < 2:
        raise ValueError("bench rollouts compares one worker with several: give --workers >= 2 on a one-core machine")
    res = measure(policy, args.task, args.lang, int(args.episodes), int(args.seed), workers)
    s, p = res["serial"], res["parallel"]
    print(f"rollouts ({res['task']}/{res['language']}, {res['episodes']} episodes): 1 worker {s['episodes_per_s']:.2f} "
          f"episodes/s, {workers} workers {p['episodes_per_s']:.2f} episodes/s (start-up {p['startup_s']:.1f} s); "
          f"ratio {res['ratio']:.2f}x; same per-episode outcomes: {res['same_outcomes']}; "
          f"load {res['machine']['loadavg_before'][0]:.2f} -> {res['machine']['loadavg_after'][0]:.2f}")
    write_json(args.json, res)
    return 0 if res["same_outcomes"] else 1
