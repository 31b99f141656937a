"""Closed-loop evaluation of a policy file in the gymnasium env: success rate with a 95% CI.

Chunks are executed as the real-time runtime executes them (:class:`ChunkExecutor`; within each
step the motor targets move smoothly between action points, as the control loop's do), so the
number measured here is the number the deployed system gets; success comes from the env's privileged
``info["is_success"]``, never from the policy. Episodes run through ``envs.rollout`` and the
summary is ``envs.rollout.summarize`` (the same JSON as ``jafm-robot expert``).

Episodes spread over workers (:mod:`jafm_robot.workers`, Ray): each worker loads the policy file
and builds the env once; an episode's result depends on its seed only, so any number of workers
gives the per-episode results of one, gathered in seed order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.envs.rollout import EpisodeResult
from jafm_robot.policies.inference import ChunkExecutor, LoadedPolicy, load_policy
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT, default_replan_every
from jafm_robot.runtime.grounding import GroundedPolicy, InstructionGate, PolicyWrapper, scene_of
from jafm_robot.workers import Cluster, run_all, session


class _TimedPolicy(PolicyWrapper):
    """Wraps a LoadedPolicy to collect per-inference wall times (reported beside success)."""

    def __init__(self, policy: LoadedPolicy) -> None:
        super().__init__(policy)
        self.ms: list[float] = []

    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.policy.predict(obs)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        return out


@dataclass(frozen=True)
class EvalSpec:
    """What one evaluation runs: everything a worker needs to rebuild the policy and the env."""

    policy: str
    task: str
    language: str = "en"
    verify: bool = True
    replan_every: int | None = None
    overlap_weight: float = DEFAULT_OVERLAP_WEIGHT
    execution: str = "runtime"
    max_steps: int | None = None
    render: bool = False
    grounding: bool = True  # the instruction passes the policy's InstructionGate, as in every host
    phrasing: str | None = None  # a template with {part} {bin} {top} {base} slots instead of the env's text


@dataclass(frozen=True)
class EpisodeRun:
    """One episode's result, the policy's inference times during it, and its frames when asked."""

    result: EpisodeResult
    inference_ms: list[float]
    frames: list[np.ndarray] | None


class EvalWorker:
    """A policy and an env built once, then one episode per call (``seed, want_video``)."""

    def __init__(self, spec: EvalSpec, policy: LoadedPolicy | None = None) -> None:
        from jafm_robot.envs.make import make_env

        self.spec = spec
        # a worker's own copy runs on one intra-op thread: the workers share the cores between them
        policy = policy if policy is not None else load_policy(spec.policy, verify=spec.verify, threads=1)
        self.timed = _TimedPolicy(policy)
        self.env = make_env(spec.task, policy.meta.image_size, render_mode="rgb_array" if spec.render else None,
                            action_interpolation="linear" if spec.execution == "runtime" else "hold")
        self.grounded: GroundedPolicy | None = None
        inner: Any = self.timed
        if spec.grounding:
            gate = InstructionGate((spec.task,), policy.meta.languages)  # the task the env judges
            self.grounded = inner = GroundedPolicy(self.timed, gate, scene=lambda: scene_of(self.env))
        self.executor = ChunkExecutor(inner, spec.replan_every, overlap_weight=spec.overlap_weight)

    def __call__(self, job: tuple[int, bool]) -> EpisodeRun:
        from jafm_robot.envs.rollout import rollout

        seed, want_video = job
        frames: list[np.ndarray] | None = [] if want_video else None
        self.timed.ms = []
        options = None
        if self.spec.phrasing is not None:  # the same seed's goal, in the phrasing's words
            from jafm_robot.language import Goal, fill

            self.env.reset(seed=seed, options={"language": self.spec.language})
            goal = Goal.from_env(self.spec.task, self.env.unwrapped.task.goal)
            options = {"instruction": fill(self.spec.phrasing, self.spec.language, goal)}
        if self.grounded is not None:
            self.grounded.reset()
        result = rollout(self.env, self.executor, seed, self.spec.language, video_frames=frames,
                         max_steps=self.spec.max_steps, options=options)
        if self.grounded is not None and self.grounded.last is not None:
            result.info["grounding"] = self.grounded.last.readout()
        return EpisodeRun(result, self.timed.ms, frames)

    def close(self) -> None:
        self.env.close()


def _worker(spec: EvalSpec) -> EvalWorker:
    return EvalWorker(spec)


def evaluate(
    spec: EvalSpec,
    episodes: int,
    seed: int,
    video: str | Path | None = None,
    video_episodes: int = 2,
    progress: bool = True,
    cluster: Cluster | None = None,
    policy: LoadedPolicy | None = None,
) -> dict[str, Any]:
    """Episodes ``seed .. seed+episodes-1`` of ``spec``; the summary JSON of ``jafm-robot eval``.

    ``execution="runtime"`` moves the motor targets smoothly between action points within each
    0.1 s step, as the control loop of ``run`` does at 500 Hz; ``"step"`` holds each action point
    for the whole step (the target jumps every 0.1 s, as ``record`` executes the experts).
    ``overlap_weight`` is the new chunk's weight where it overlaps the plan in force (the runtime's
    default unless told; 1 = no averaging). ``policy``, when given, is the loaded ``spec.policy``:
    a run in this process uses it instead of loading the file again."""
    from jafm_robot.envs.rollout import summarize
    from jafm_robot.video import write_video

    cluster = cluster or Cluster()
    policy = policy if policy is not None else load_policy(spec.policy, verify=spec.verify)
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if policy.meta.tasks and spec.task not in policy.meta.tasks:
        raise ValueError(f"policy was trained on tasks {policy.meta.tasks}, not {spec.task!r}")
    if spec.language not in policy.meta.languages:
        raise ValueError(f"policy was trained on languages {policy.meta.languages}, not {spec.language!r}")
    if spec.execution not in ("runtime", "step"):
        raise ValueError(f"execution must be 'runtime' or 'step', got {spec.execution!r}")
    replan_every = int(spec.replan_every or default_replan_every(policy.chunk_len))
    if replan_every < 1:
        raise ValueError(f"--replan-every must be >= 1, got {replan_every}")
    spec = replace(spec, render=video is not None)
    here = partial(EvalWorker, spec, policy)  # one worker: this process, the policy already loaded
    factory = partial(_worker, spec) if cluster.parallel else here
    jobs = ((seed + i, (seed + i, video is not None and i < video_episodes)) for i in range(episodes))
    t0 = time.perf_counter()
    runs = [run for _, run in run_all(factory, jobs, cluster, desc=f"eval {spec.task}/{spec.language}",
                                      total=episodes, progress=progress)]
    wall = time.perf_counter() - t0
    frames = [f for run in runs if run.frames for f in run.frames]
    if video is not None and frames:
        write_video(video, frames, fps=1.0 / policy.action_dt, pad_odd=True)
    ms = np.asarray([m for run in runs for m in run.inference_ms]) if any(r.inference_ms for r in runs) else np.zeros(1)
    results = [run.result for run in runs]
    return summarize(
        results, task=spec.task, seed=seed, wall_s=wall,
        language=spec.language,
        execution=spec.execution,
        policy_kind=policy.kind,
        replan_every=replan_every,
        overlap_weight=spec.overlap_weight,
        chunk_len=policy.chunk_len,
        action_dt=policy.action_dt,
        inference_ms={"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                      "n": int(sum(len(r.inference_ms) for r in runs))},
        per_episode=[r.to_dict() for r in results],
        grounding=spec.grounding,
        phrasing=spec.phrasing,
        refused=sum(bool(r.info.get("grounding", {}).get("refused")) for r in results),
        **cluster.describe(),
    )


def evaluate_phrasings(spec: EvalSpec, phrasings: list[str], episodes: int, seed: int,
                       cluster: Cluster | None = None, progress: bool = True,
                       policy: LoadedPolicy | None = None) -> dict[str, Any]:
    """The env's own templates, then each phrasing, on the same seeds: success per phrasing and
    its drop from the templates (what ``eval --phrasings FILE`` reports). Ray starts once for them
    all, and the policy file is read once (``policy``, when given, is the loaded ``spec.policy``)."""
    from jafm_robot.reporting import wilson_interval

    if not phrasings:
        raise ValueError("--phrasings: no phrasing for this language")
    cluster = cluster or Cluster()
    policy = policy if policy is not None else load_policy(spec.policy, verify=spec.verify)  # once for all runs
    rows = []
    with session(cluster):
        templates = evaluate(spec, episodes, seed, progress=progress, cluster=cluster, policy=policy)
        runs = [evaluate(replace(spec, phrasing=text), episodes, seed, progress=progress, cluster=cluster,
                         policy=policy) for text in phrasings]
    for text, res in zip(phrasings, runs, strict=True):
        rows.append({"phrasing": text, "episodes": res["episodes"], "successes": res["successes"],
                     "success_rate": res["success_rate"], "ci95": res["ci95"], "refused": res["refused"],
                     "drop": templates["success_rate"] - res["success_rate"],
                     "per_episode": [{k: r[k] for k in ("seed", "instruction", "success", "steps")} |
                                     {"grounding": r["info"].get("grounding")} for r in res["per_episode"]]})
    n = sum(r["episodes"] for r in rows)
    k = sum(r["successes"] for r in rows)
    return {"task": spec.task, "language": spec.language, "seed": seed, "episodes_per_phrasing": episodes,
            "templates": {key: templates[key] for key in ("episodes", "successes", "success_rate", "ci95", "refused")},
            "phrasings": {"episodes": n, "successes": k, "success_rate": k / n, "ci95": list(wilson_interval(k, n)),
                          "refused": sum(r["refused"] for r in rows)},
            "drop": templates["success_rate"] - k / n, "per_phrasing": rows, "policy": spec.policy,
            "grounding": spec.grounding, **cluster.describe()}
