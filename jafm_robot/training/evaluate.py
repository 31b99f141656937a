"""Closed-loop evaluation of a policy file in the gymnasium env: success rate with a 95% CI.

Chunks are executed as the real-time runtime executes them (:class:`ChunkExecutor`; within each
step the motor targets move smoothly between action points, as the control loop's do), so the
number measured here is the number the deployed system gets; success comes from the env's privileged
``info["is_success"]``, never from the policy. Episodes run through ``experts.rollout`` and the
summary is ``experts.rollout.summarize`` (the same JSON as ``jafm-robot expert``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.policies.inference import ChunkExecutor, LoadedPolicy
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT


class _TimedPolicy:
    """Wraps a LoadedPolicy to collect per-inference wall times (reported beside success)."""

    def __init__(self, policy: LoadedPolicy) -> None:
        self.policy = policy
        self.meta = policy.meta
        self.kind = policy.kind
        self.ms: list[float] = []

    @property
    def chunk_len(self) -> int:
        return self.policy.chunk_len

    @property
    def action_dt(self) -> float:
        return self.policy.action_dt

    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.policy.predict(obs)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        return out


def evaluate(
    policy: LoadedPolicy,
    task: str,
    episodes: int,
    seed: int,
    language: str,
    replan_every: int | None = None,
    video: str | Path | None = None,
    video_episodes: int = 2,
    max_steps: int | None = None,
    progress: bool = True,
    execution: str = "runtime",
    overlap_weight: float = DEFAULT_OVERLAP_WEIGHT,
) -> dict[str, Any]:
    """``execution="runtime"`` moves the motor targets smoothly between action points within each
    0.1 s step, as the control loop of ``run`` does at 500 Hz; ``"step"`` holds each action point
    for the whole step (the target jumps every 0.1 s, as ``record`` executes the experts).
    ``overlap_weight`` is the new chunk's weight where it overlaps the plan in force (the runtime's
    default unless told; 1 = no averaging)."""
    from jafm_robot.envs.make import make_env
    from jafm_robot.envs.rollout import rollout, summarize, write_video

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if policy.meta.tasks and task not in policy.meta.tasks:
        raise ValueError(f"policy was trained on tasks {policy.meta.tasks}, not {task!r}")
    if language not in policy.meta.languages:
        raise ValueError(f"policy was trained on languages {policy.meta.languages}, not {language!r}")
    if execution not in ("runtime", "step"):
        raise ValueError(f"execution must be 'runtime' or 'step', got {execution!r}")
    env = make_env(task, policy.meta.image_size, render_mode="rgb_array" if video else None,
                   action_interpolation="linear" if execution == "runtime" else "hold")
    timed = _TimedPolicy(policy)
    executor = ChunkExecutor(timed, replan_every, overlap_weight=overlap_weight)  # type: ignore[arg-type]
    frames: list[np.ndarray] = []
    results = []
    it = range(episodes)
    if progress:
        from jafm_robot.reporting import progress as bar

        it = bar(it, desc=f"eval {task}/{language}")
    t0 = time.perf_counter()
    try:
        for i in it:
            vf = frames if (video is not None and i < video_episodes) else None
            results.append(rollout(env, executor, seed + i, language, video_frames=vf, max_steps=max_steps))
    finally:
        env.close()
    if video is not None and frames:
        write_video(video, frames, fps=1.0 / policy.action_dt)
    ms = np.asarray(timed.ms) if timed.ms else np.zeros(1)
    return summarize(
        results, task=task, seed=seed, wall_s=time.perf_counter() - t0,
        language=language,
        execution=execution,
        policy_kind=policy.kind,
        replan_every=executor.k,
        overlap_weight=executor.overlap_weight,
        chunk_len=policy.chunk_len,
        action_dt=policy.action_dt,
        inference_ms={"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "n": len(timed.ms)},
        per_episode=[r.to_dict() for r in results],
    )
