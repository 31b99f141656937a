"""A scripted expert's success over seeded episodes: what ``jafm-robot expert`` reports.

Episode ``i`` uses seed ``seed + i`` and language ``languages[i % len(languages)]``. Episodes spread
over workers (:mod:`jafm_robot.workers`, Ray), each building its env and expert once; an episode's
result depends on its seed and language only, so any number of workers gives the results of one,
gathered in seed order. The summary is :func:`jafm_robot.envs.rollout.summarize`, the same JSON
``eval`` writes for a policy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.envs.rollout import EpisodeResult
from jafm_robot.workers import Cluster, run_all


@dataclass(frozen=True)
class ExpertSpec:
    """What a worker needs to rebuild the env and its expert."""

    task: str
    image_size: int = 128
    randomize: bool = True
    render: bool = False


class ExpertWorker:
    """An env and its expert built once, then one episode per call ``(seed, language, want_video)``."""

    def __init__(self, spec: ExpertSpec) -> None:
        from jafm_robot.envs.make import make_env
        from jafm_robot.experts import make_expert

        self.env = make_env(spec.task, spec.image_size, render_mode="rgb_array" if spec.render else None,
                            randomize=spec.randomize)
        self.expert = make_expert(self.env)

    def __call__(self, job: tuple[int, str, bool]) -> tuple[EpisodeResult, list[np.ndarray] | None]:
        from jafm_robot.envs.rollout import rollout

        seed, language, want_video = job
        frames: list[np.ndarray] | None = [] if want_video else None
        return rollout(self.env, self.expert, seed=seed, language=language, video_frames=frames), frames

    def close(self) -> None:
        self.env.close()


def evaluate_expert(
    spec: ExpertSpec,
    episodes: int,
    seed: int,
    languages: list[str],
    video: str | Path | None = None,
    video_episodes: int = 2,
    cluster: Cluster | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Episodes ``seed .. seed+episodes-1`` of the task's expert; the summary JSON with
    ``episodes_detail`` (one record per episode, in seed order)."""
    from jafm_robot.contract import DEFAULT_ACTION_DT
    from jafm_robot.envs.rollout import summarize
    from jafm_robot.video import write_video

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if not languages:
        raise ValueError("at least one language is needed")
    cluster = cluster or Cluster()
    spec = replace(spec, render=video is not None)
    jobs = ((seed + i, (seed + i, languages[i % len(languages)], video is not None and i < video_episodes))
            for i in range(episodes))
    t0 = time.perf_counter()
    runs = [run for _, run in run_all(partial(ExpertWorker, spec), jobs, cluster, desc=f"expert {spec.task}",
                                      total=episodes, progress=progress)]
    wall = time.perf_counter() - t0
    results = [r for r, _ in runs]
    frames = [f for _, fs in runs if fs for f in fs]
    if video is not None and frames:
        write_video(video, frames, fps=1.0 / DEFAULT_ACTION_DT, pad_odd=True)
    summary = summarize(results, task=spec.task, seed=seed, wall_s=wall, languages=languages,
                        randomize=spec.randomize, image_size=spec.image_size, **cluster.describe())
    summary["episodes_detail"] = [r.to_dict() for r in results]
    return summary
