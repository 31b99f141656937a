"""Episode rollouts and success bookkeeping, shared by ``jafm-robot expert`` and ``eval``.

One place decides what an episode *is* (reset with a seed and a language, step until terminated
or truncated, read ``info["is_success"]``, which the env computes from privileged simulator
state) and how a batch of episodes is summarised (success rate, Wilson 95% interval, per
language), so an expert's numbers and a policy's numbers are comparable by construction.

No torch, no rclpy; pybullet only through the env. Videos of rollouts: ``jafm_robot.video``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from jafm_robot.reporting import outcome_counts, wilson_interval

ActFn = Callable[[Any], np.ndarray]


@dataclass
class EpisodeResult:
    seed: int
    language: str
    instruction: str
    success: bool
    steps: int
    wall_s: float
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)  # small extra facts (e.g. grasp attempts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rollout(
    env: Any,
    act_fn: ActFn,
    seed: int,
    language: str = "en",
    video_frames: list[np.ndarray] | None = None,
    max_steps: int | None = None,
    options: dict[str, Any] | None = None,
) -> EpisodeResult:
    """Run one episode and report it.

    ``act_fn(obs) -> action``; if it has a ``reset()`` method (an expert, a policy runner with a
    chunk buffer) that is called right after ``env.reset`` so it never acts on a stale world.
    ``video_frames``, when given, receives ``env.render()`` after reset and after every step.
    ``max_steps`` caps the episode in addition to the env's own time limit.
    """
    t0 = time.perf_counter()
    opts = {"language": language, **(options or {})}
    obs, info = env.reset(seed=int(seed), options=opts)
    reset = getattr(act_fn, "reset", None)
    if callable(reset):
        reset()
    if video_frames is not None:
        video_frames.append(np.asarray(env.render()))
    instruction = str(info.get("instruction_text", ""))
    steps = 0
    success = bool(info.get("is_success", False))
    truncated = False
    while True:
        action = np.asarray(act_fn(obs), dtype=np.float32)
        obs, _reward, terminated, truncated, info = env.step(action)
        steps += 1
        if video_frames is not None:
            video_frames.append(np.asarray(env.render()))
        success = bool(info.get("is_success", False))
        if terminated or truncated or (max_steps is not None and steps >= max_steps):
            break
    extra: dict[str, Any] = {}
    if "outcome" in info:  # how the episode ended, from privileged state (RobotTaskEnv's info)
        extra["outcome"] = str(info["outcome"])
    for key in ("attempts", "phase"):
        if hasattr(act_fn, key):
            extra[key] = getattr(act_fn, key)
    return EpisodeResult(
        seed=int(seed),
        language=language,
        instruction=instruction,
        success=success,
        steps=steps,
        wall_s=time.perf_counter() - t0,
        truncated=bool(truncated),
        info=extra,
    )


def summarize(
    results: Sequence[EpisodeResult],
    task: str | None = None,
    seed: int | None = None,
    wall_s: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The JSON summary: ``task``, ``episodes``, ``success_rate``, ``ci95``, ``by_language``,
    ``seed``, ``mean_steps``, ``wall_s``, and the seeds that failed (to look at them again)."""
    n = len(results)
    k = sum(r.success for r in results)
    by_lang: dict[str, dict[str, Any]] = {}
    for lang in dict.fromkeys(r.language for r in results):
        rs = [r for r in results if r.language == lang]
        s = sum(r.success for r in rs)
        by_lang[lang] = {
            "episodes": len(rs),
            "successes": s,
            "success_rate": s / len(rs),
            "ci95": list(wilson_interval(s, len(rs))),
        }
    total_wall = float(wall_s) if wall_s is not None else float(sum(r.wall_s for r in results))
    out: dict[str, Any] = {
        "task": task,
        "episodes": n,
        "successes": k,
        "success_rate": (k / n) if n else 0.0,
        "ci95": list(wilson_interval(k, n)),
        "by_language": by_lang,
        "seed": seed,
        "mean_steps": float(np.mean([r.steps for r in results])) if n else 0.0,
        "mean_steps_success": float(np.mean([r.steps for r in results if r.success])) if k else None,
        "wall_s": total_wall,
        "failed_seeds": [r.seed for r in results if not r.success],
    }
    outcomes = outcome_counts(r.info["outcome"] for r in results if "outcome" in r.info)
    if outcomes:
        out["outcomes"] = outcomes
    out.update(extra)
    return out

