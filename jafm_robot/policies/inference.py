"""One interface over a policy file, whichever form it takes: a torch checkpoint (``.pt``) or an
ONNX file (``.onnx``, run by the runtime's ``PolicyEngine``), plus the chunk executor ``eval`` uses.

``eval`` measures exactly what will be deployed: the ONNX path goes through the same engine the
real-time runtime uses (sha256 + metadata checks included), and chunks are executed the way the
control loop executes them (re-plan every K action points, crossfade via ``ChunkBlender``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM
from jafm_robot.runtime.assembly import RuntimeParams, build_blender
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT, ActionChunk, ChunkBlender, default_replan_every
from jafm_robot.runtime.metadata import PolicyMetadata
from jafm_robot.runtime.observation import prepare_observation


class LoadedPolicy:
    """``predict(obs) -> float32[chunk_len, 8]`` absolute targets, plus the policy's metadata."""

    kind: str
    meta: PolicyMetadata

    @property
    def chunk_len(self) -> int:
        return int(self.meta.chunk_len)

    @property
    def action_dt(self) -> float:
        return float(self.meta.action_dt)

    def predict(self, obs: dict[str, Any]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class TorchPolicy(LoadedPolicy):
    kind = "torch"

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = 1) -> None:
        import torch

        if device == "cpu" and threads:
            # batch-1 inference of a small net gains nothing from intra-op threads and loses a lot
            # when they spin on cores the simulator is using
            torch.set_num_threads(threads)

        from jafm_robot.policies.checkpoint import policy_from_checkpoint
        from jafm_robot.policies.export import build_metadata

        self.model, ckpt = policy_from_checkpoint(path, map_location=device)
        self.model.to(device)
        self.device = device
        self.meta = build_metadata(ckpt, self.model)
        self._torch = torch

    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        torch = self._torch
        # the same rule (and errors) as the ONNX export's PolicyEngine: docs/architecture.md
        feeds = prepare_observation(obs, self.meta.cameras, self.meta.image_size)
        with torch.inference_mode():
            images = {c: torch.from_numpy(feeds[c]).to(self.device) for c in self.meta.cameras}
            out = self.model(images, torch.from_numpy(feeds["state"]).to(self.device),
                             torch.from_numpy(feeds["instruction"]).to(self.device))
        return out[0].cpu().numpy().astype(np.float32)


class OnnxPolicy(LoadedPolicy):
    kind = "onnx"

    def __init__(self, path: str | Path, verify: bool = True, provider: str = "cpu", threads: int | None = None) -> None:
        from jafm_robot.runtime.engine import PolicyEngine

        self.engine = PolicyEngine(path, provider=provider, verify=verify, intra_op_threads=threads)
        self.meta = self.engine.metadata

    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        return np.asarray(self.engine.infer(obs), dtype=np.float32).reshape(self.chunk_len, ACTION_DIM)


def load_policy(path: str | Path, *, device: str = "cpu", verify: bool = True, threads: int | None = None) -> LoadedPolicy:
    """``.pt`` -> :class:`TorchPolicy`, ``.onnx`` -> :class:`OnnxPolicy`; anything else is a clear error.
    ``threads``: intra-op threads (one per rollout worker, so workers do not fight over cores;
    default: torch 1, ONNX Runtime the physical cores)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"policy file not found: {p}")
    if p.suffix == ".pt":
        return TorchPolicy(p, device=device, threads=threads or 1)
    if p.suffix == ".onnx":
        return OnnxPolicy(p, verify=verify, threads=threads)
    raise ValueError(f"policy must be a .pt checkpoint or an .onnx file, got {p.name}")


class ChunkExecutor:
    """Turns chunks predicted every ``replan_every`` steps into one action point per env step.

    Uses the runtime's :class:`ChunkBlender` (the real-time loop's blending) sampled at
    ``action_dt``: a chunk predicted from the observation at time t has its point i due at
    t + (i+1)*dt, where it overlaps the plan in force it is averaged with it (``overlap_weight``,
    ACT-style temporal ensembling) and it is crossfaded in over ``blend_time``. When a plan runs out
    before the next re-plan (replan_every > chunk_len) the last point is held.
    """

    def __init__(self, policy: LoadedPolicy, replan_every: int | None = None, blend_time: float | None = None,
                 overlap_weight: float = DEFAULT_OVERLAP_WEIGHT) -> None:
        self.policy = policy
        self.k = int(replan_every or default_replan_every(policy.chunk_len))
        if self.k < 1:
            raise ValueError(f"--replan-every must be >= 1, got {self.k}")
        self.dt = policy.action_dt
        self.blend_time = self.dt if blend_time is None else blend_time
        # the blender's parameters, validated where every host's are (runtime.assembly)
        self.runtime_params = RuntimeParams(blend_time=self.blend_time, overlap_weight=overlap_weight)
        self.overlap_weight = self.runtime_params.overlap_weight
        self.blender = build_blender(self.runtime_params)
        self.step_i = 0
        self.n_infer = 0
        self._q = None

    def reset(self, state: np.ndarray | None = None) -> None:
        """Start a new episode; without ``state`` the first :meth:`act` takes it from its observation
        (``envs.rollout`` calls ``reset()`` with no arguments right after ``env.reset``).

        A new episode is a new timeline (t = 0 again), so the blender is a new one: the old one
        remembers the newest stamp it took in and would drop every chunk of the next episode as
        "older" until t passed the previous episode's end. That held the arm still in every
        ``eval`` episode after the first.
        """
        self.step_i = 0
        self._q = None if state is None else np.asarray(state, np.float64)
        self.blender = self._new_blender()
        if self._q is not None:
            self.blender.reset(self._q)

    def _new_blender(self) -> ChunkBlender:
        return build_blender(self.runtime_params)

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        return self.act(obs)

    def act(self, obs: dict[str, Any]) -> np.ndarray:
        if self._q is None:
            self.reset(np.asarray(obs["state"], np.float64))
        t = self.step_i * self.dt
        if self.step_i % self.k == 0:
            chunk = self.policy.predict(obs)
            self.n_infer += 1
            ref = self.blender.sample(t)
            q_now, v_now = (ref if ref is not None else (self._q, np.zeros(ACTION_DIM)))
            self.blender.add(ActionChunk(stamp=t, dt=self.dt, points=chunk), t, q_now, v_now)
        ref = self.blender.sample(t + self.dt)
        self.step_i += 1
        action = np.asarray(ref[0], dtype=np.float32)
        self._q = action.astype(np.float64)
        return action
