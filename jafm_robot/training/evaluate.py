"""Closed-loop evaluation of a policy file in the gymnasium env: success rate with a 95% CI.

Chunks are executed as the real-time runtime executes them (:class:`ChunkExecutor`), so the number
measured here is the number the deployed system gets; success comes from the env's privileged
``info["is_success"]``, never from the policy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.cli.common import wilson_interval
from jafm_robot.policies.inference import ChunkExecutor, LoadedPolicy


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
) -> dict[str, Any]:
    from jafm_robot.datasets.recording import make_env

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if policy.meta.tasks and task not in policy.meta.tasks:
        raise ValueError(f"policy was trained on tasks {policy.meta.tasks}, not {task!r}")
    if language not in policy.meta.languages:
        raise ValueError(f"policy was trained on languages {policy.meta.languages}, not {language!r}")
    env = make_env(task, policy.meta.image_size)
    executor = ChunkExecutor(policy, replan_every)
    frames: list[np.ndarray] = []
    per_episode = []
    infer_ms: list[float] = []
    it = range(episodes)
    if progress:
        from jafm_robot.cli.common import progress as bar

        it = bar(it, desc=f"eval {task}/{language}")
    try:
        for i in it:
            s = seed + i
            obs, info = env.reset(seed=s, options={"language": language})
            executor.reset(obs["state"])
            steps, terminated, truncated = 0, False, False
            limit = max_steps or getattr(env.spec, "max_episode_steps", None) or 10_000
            while not (terminated or truncated) and steps < limit:
                if video is not None and i < video_episodes:
                    frames.append(np.concatenate([obs[c] for c in ("image", "wrist_image") if c in obs], axis=1))
                n0 = executor.n_infer
                t0 = time.perf_counter()
                action = executor.act(obs)
                if executor.n_infer > n0:
                    infer_ms.append((time.perf_counter() - t0) * 1e3)
                obs, _r, terminated, truncated, info = env.step(action)
                steps += 1
            ok = bool(info.get("is_success", False))
            per_episode.append({"seed": s, "success": ok, "steps": steps, "instruction": info.get("instruction_text")})
    finally:
        env.close()
    if video is not None and frames:
        import imageio.v2 as imageio

        Path(video).parent.mkdir(parents=True, exist_ok=True)
        imageio.mimwrite(str(video), frames, fps=round(1.0 / policy.action_dt), macro_block_size=1)
    n_ok = sum(e["success"] for e in per_episode)
    lo, hi = wilson_interval(n_ok, episodes)
    ms = np.asarray(infer_ms) if infer_ms else np.zeros(1)
    return {
        "task": task,
        "language": language,
        "policy_kind": policy.kind,
        "episodes": episodes,
        "successes": n_ok,
        "success_rate": n_ok / episodes,
        "ci95": [lo, hi],
        "seeds": [seed, seed + episodes - 1],
        "replan_every": executor.k,
        "chunk_len": policy.chunk_len,
        "action_dt": policy.action_dt,
        "inference_ms": {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "n": len(infer_ms)},
        "per_episode": per_episode,
    }
