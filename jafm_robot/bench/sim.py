"""``jafm-robot bench sim``: env steps/s with both camera images, against panda-gym, in one run.

Subject: our envs (each step = 0.1 s of physics + the scene and wrist camera images in the
observation). Baseline: panda-gym ``PandaPickAndPlace-v3`` with ``render_mode="rgb_array"`` at the
same image size, ``step`` + ``render()`` per step (one image). Subject and baseline alternate in
rounds so a busy shared machine slows both alike; the ratio is ours / baseline (higher is better).
Also measured: ``gymnasium.make_vec(..., vectorization_mode="async")`` with 2 workers (env steps/s
summed over the workers).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any

import numpy as np

from jafm_robot.contract import TASKS
from jafm_robot.reporting import write_json

HELP = "sim: env steps/s with both cameras vs panda-gym PandaPickAndPlace-v3 (+ async vector env)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--steps", type=int, default=200, help="measured steps per run (default 200)")
    parser.add_argument("--size", type=int, default=128, help="camera image side in pixels (default 128)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating subject/baseline rounds (default 2)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="tasks for per_task (default: all five)")
    parser.add_argument("--no-vector", action="store_true", help="skip the async vector-env measurement")


def _policy_like_actions(low: np.ndarray, high: np.ndarray, home: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A smooth seeded wander around the home pose: arm motion like a policy's, not random flailing."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] * 0.1
    phase = rng.uniform(0, 2 * np.pi, (1, len(home)))
    amp = np.append(np.full(7, 0.3), 0.04)
    a = home[None, :] + amp * np.sin(0.8 * t + phase)
    return np.clip(a, low, high).astype(np.float32)


def measure_ours(task: str, steps: int, size: int, seed: int = 0, robot_visual: str | None = None) -> float:
    """Env steps/s (with both camera images) of ``jafm_robot/<task>-v0``; resets are included."""
    import gymnasium as gym

    import jafm_robot  # noqa: F401  (registers the envs)

    env = gym.make(f"jafm_robot/{task}-v0", image_size=size, robot_visual=robot_visual)
    u = env.unwrapped
    acts = _policy_like_actions(u.action_space.low, u.action_space.high, u.robot_config.home8, steps + 3, seed)
    env.reset(seed=seed)
    for a in acts[:3]:  # warm-up (first renders allocate buffers)
        env.step(a)
    t0 = time.perf_counter()
    for a in acts[3:]:
        obs, _, term, trunc, _ = env.step(a)
        assert obs["image"].shape == (size, size, 3) and obs["wrist_image"].shape == (size, size, 3)
        if term or trunc:
            env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt


def measure_panda_gym(steps: int, size: int, seed: int = 0) -> float:
    """panda-gym PandaPickAndPlace-v3: step + render() (rgb_array at ``size``) per step."""
    try:
        import gymnasium as gym
        import panda_gym  # noqa: F401  (registers the panda-gym envs)
    except ImportError as e:
        raise RuntimeError(
            "the sim benchmark's baseline needs panda-gym: pip install 'panda-gym>=3.0.7' "
            "(or pip install -e '.[bench]')"
        ) from e
    env = gym.make("PandaPickAndPlace-v3", render_mode="rgb_array", render_width=size, render_height=size)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(3):
        env.step(env.action_space.sample())
        env.render()
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        img = env.render()
        assert img is not None and img.shape[:2] == (size, size)
        if term or trunc:
            env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt


def measure_vector(steps: int, size: int, num_envs: int = 2, seed: int = 0) -> float:
    """Env steps/s summed over ``num_envs`` async workers (PickPlace)."""
    import gymnasium as gym

    import jafm_robot  # noqa: F401

    venv = gym.make_vec("jafm_robot/PickPlace-v0", num_envs=num_envs, vectorization_mode="async", image_size=size)
    try:
        venv.reset(seed=seed)
        single = venv.single_action_space
        from jafm_robot.robots.config import load_robot_config

        home = load_robot_config("panda").home8
        acts = _policy_like_actions(single.low, single.high, home, steps + 3, seed)
        for a in acts[:3]:
            venv.step(np.stack([a] * num_envs))
        t0 = time.perf_counter()
        for a in acts[3:]:
            venv.step(np.stack([a] * num_envs))  # autoreset handles episode ends
        dt = time.perf_counter() - t0
    finally:
        venv.close()
    return num_envs * steps / dt


def run_bench(steps: int = 200, size: int = 128, rounds: int = 2, tasks: tuple[str, ...] = TASKS,
              vector: bool = True, log: Any = None) -> dict[str, Any]:
    """All measurements; returns the JSON-ready result dict."""
    def say(msg: str) -> None:
        if log is not None:
            print(msg, file=log, flush=True)

    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}; choose from {', '.join(TASKS)}")
    if steps < 1 or size < 16 or rounds < 1:
        raise ValueError("steps >= 1, size >= 16 and rounds >= 1 are required")
    ours, base = [], []
    for r in range(rounds):
        ours.append(measure_ours("PickPlace", steps, size, seed=r))
        say(f"round {r + 1}/{rounds}: ours PickPlace {ours[-1]:.1f} steps/s")
        base.append(measure_panda_gym(steps, size, seed=r))
        say(f"round {r + 1}/{rounds}: panda-gym PandaPickAndPlace-v3 {base[-1]:.1f} steps/s")
    per_task: dict[str, float] = {}
    for t in tasks:
        per_task[t] = float(np.mean(ours)) if t == "PickPlace" else measure_ours(t, steps, size)
        say(f"{t}: {per_task[t]:.1f} steps/s")
    # Where the speed comes from, measured rather than claimed: the same env with the arm's
    # detailed visual meshes instead of the low-poly ones (same physics).
    full = measure_ours("PickPlace", steps, size, robot_visual="full")
    say(f"PickPlace with the full-detail arm meshes: {full:.1f} steps/s")
    vec = None
    if vector:
        vec = measure_vector(steps, size)
        say(f"async vector env x2 (PickPlace): {vec:.1f} env steps/s")
    o, b = float(np.mean(ours)), float(np.mean(base))
    import pybullet

    return {
        "benchmark": "sim",
        "ours_steps_per_s": o,
        "panda_gym_steps_per_s": b,
        "ratio": o / b,
        "per_task": per_task,
        "ours_full_visual_steps_per_s": full,
        "ratio_full_visual": full / b,
        "vector_async_2_steps_per_s": vec,
        "rounds": {"ours": ours, "panda_gym": base},
        "image_size": size,
        "steps": steps,
        "subject": "jafm_robot/<Task>-v0: step() with scene + wrist camera images in the observation",
        "baseline": "panda-gym PandaPickAndPlace-v3, render_mode=rgb_array, step() + render() per step",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "pybullet_api": pybullet.getAPIVersion(), "platform": platform.platform()},
    }


def run(args: argparse.Namespace) -> int:
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    res = run_bench(args.steps, args.size, args.rounds, tasks, vector=not args.no_vector, log=sys.stderr)
    print(f"ours (PickPlace, 2 cameras) {res['ours_steps_per_s']:.1f} steps/s | panda-gym {res['panda_gym_steps_per_s']:.1f}"
          f" steps/s | ratio {res['ratio']:.2f}")
    print(f"  (with the full-detail arm meshes: {res['ours_full_visual_steps_per_s']:.1f} steps/s, "
          f"ratio {res['ratio_full_visual']:.2f})")
    for t, v in res["per_task"].items():
        print(f"  {t:<13} {v:7.1f} steps/s")
    if res["vector_async_2_steps_per_s"] is not None:
        print(f"  async x2      {res['vector_async_2_steps_per_s']:7.1f} env steps/s")
    write_json(args.json, res)
    return 0
