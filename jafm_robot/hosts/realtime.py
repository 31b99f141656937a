"""``jafm-robot run``: a policy file drives the simulated work cell through the real-time runtime.

Three concurrent parts, as on a real arm:

* the **robot**: :class:`~jafm_robot.hosts.sim_process.SimProcess`, PyBullet stepped to the wall
  clock in its own process, publishing joint states and camera frames into shared memory;
* the **policy**: :class:`~jafm_robot.runtime.inference.AsyncPolicyRunner` running the ONNX policy
  (``PolicyEngine``) on the newest frame at ~10 Hz in a thread, stamping each chunk with the
  frame's stamp;
* the **control loop**: :class:`~jafm_robot.runtime.control_loop.ControlLoop` at 500-1000 Hz in a
  thread, blending chunks, enforcing the safety limits and writing each command to shared memory.

Nothing here steps the gym ``step`` loop: the world advances with the clock whether or not the
policy keeps up, which is what ``eval`` (the gym loop) cannot show and ``run`` exists to show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jafm_robot.contract import encode_instruction
from jafm_robot.hosts.sim_process import SimProcess
from jafm_robot.robots.config import load_robot_config
from jafm_robot.runtime.assembly import RuntimeParams, build_control_loop, watchdog_timeout
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT, default_replan_every, replan_rate_hz
from jafm_robot.runtime.engine import PolicyEngine
from jafm_robot.runtime.grounding import InstructionGate
from jafm_robot.runtime.inference import AsyncPolicyRunner


@dataclass
class RunEpisode:
    task: str
    seed: int
    language: str
    instruction: str
    success: bool
    sim_time: float
    wall_time: float
    loop: dict[str, Any]
    policy: dict[str, Any]
    sim: dict[str, Any]
    video: list[np.ndarray] = field(default_factory=list)
    trace: dict[str, np.ndarray] = field(default_factory=dict)
    outcome: str = ""  # "success" or how the episode failed (task.failure_mode, privileged state)
    understood: dict[str, Any] = field(default_factory=dict)  # the instruction gate's readout
    refused: bool = False  # the instruction was not grounded: the arm held instead of acting
    hold_motion_rad: float | None = None  # refused: the largest joint excursion while holding

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("video", "trace")}


#: simulated seconds a refused episode holds the arm (and measures that it did) before it ends
REFUSAL_HOLD_S = 3.0


def _excursion(trace: dict[str, np.ndarray], start: np.ndarray) -> float:
    """The largest joint angle excursion from ``start`` over a trace (rad; arm joints only)."""
    states = np.asarray(trace.get("state", np.zeros((0, len(start)))), np.float64)
    if not len(states):
        return float("nan")
    return float(np.max(np.abs(states[:, :7] - np.asarray(start, np.float64)[:7])))


class RealtimeRunner:
    """Owns the simulator process, the engine, the loop and the policy thread for one task."""

    def __init__(self, policy: str, task: str, *, provider: str = "cpu", allow_fallback: bool = True,
                 loop_rate: float = 500.0, policy_rate: float | None = None, replan_every: int | None = None,
                 overlap_weight: float = DEFAULT_OVERLAP_WEIGHT, camera_hz: float = 10.0,
                 scene: str | None = None, randomize: bool = True, verify: bool = True) -> None:
        # one intra-op thread: the other core belongs to the simulator process, and the loop thread
        # shares this one; a spinning ORT pool would steal the loop's time slices
        self.engine = PolicyEngine(policy, provider=provider, allow_fallback=allow_fallback, verify=verify,
                                   intra_op_threads=1, allow_spinning=False)
        meta = self.engine.metadata
        if task not in meta.tasks:
            raise ValueError(f"policy {policy} was trained for {', '.join(meta.tasks)}, not {task!r}")
        self.task = task
        self.cfg = load_robot_config(meta.robot)
        self.loop_rate = float(loop_rate)
        # inference every k action points (runtime.chunks.default_replan_every unless told), as eval does
        self.replan_every = int(replan_every or default_replan_every(meta.chunk_len))
        if self.replan_every < 1:
            raise ValueError(f"replan_every must be >= 1, got {self.replan_every}")
        self.policy_rate = float(policy_rate or replan_rate_hz(meta.action_dt, meta.chunk_len, self.replan_every))
        # loop, filter and blender as every host builds them (runtime.assembly), validated here, once;
        # the watchdog allows one missed inference beyond the re-plan period before it holds
        self.params = RuntimeParams(rate_hz=loop_rate, stale_after_s=watchdog_timeout(self.policy_rate),
                                    overlap_weight=overlap_weight)
        self.overlap_weight = self.params.overlap_weight  # as eval's ChunkExecutor averages overlaps
        self.camera_hz = float(camera_hz)
        self.sim = SimProcess(task, image_size=meta.image_size, scene=scene, randomize=randomize)
        # the episode's task only: a multi-task policy must not be handed another task's goal while
        # the simulator judges this one
        self.gate = InstructionGate((task,), meta.languages)
        self._instruction = np.zeros(128, np.uint8)
        self._last_obs_seq = -1

    # the policy thread's view of the world: the newest frame, or None if none is new
    def _observation(self) -> tuple[float, dict[str, Any]] | None:
        seq, obs, stamp = self.sim.slots.read_obs()
        if seq == self._last_obs_seq:
            return None
        self._last_obs_seq = seq
        obs["instruction"] = self._instruction
        return stamp, obs

    def run_episode(self, seed: int, language: str = "en", instruction: str | None = None,
                    time_limit: float | None = None, video_hz: float = 0.0, trace_hz: float = 0.0) -> RunEpisode:
        """One episode on the wall clock; ``trace_hz`` > 0 samples state, command, end-effector and
        part positions at that rate (``RunEpisode.trace``), to compare a run with ``eval`` step by step."""
        if language not in self.engine.metadata.languages:
            raise ValueError(f"policy was trained on {self.engine.metadata.languages}, not language {language!r}")
        opts: dict[str, Any] = {"language": language}
        if instruction is not None:
            opts["instruction"] = instruction
        reset = self.sim.reset(seed, opts)
        info = reset["info"]
        # understood once, here: the network gets the canonical text of the goal, or nothing at all
        grounding = self.gate.ground(info["instruction_text"], reset["scene_parts"], reset["scene_bins"])
        self._instruction = encode_instruction(grounding.feed or "")
        self._last_obs_seq = -1
        limit = time_limit or self.sim.info["max_episode_steps"] * self.sim.info["action_dt"]
        if grounding.refused:  # hold the arm where it is for a while, and say why
            limit = min(limit, REFUSAL_HOLD_S)
            trace_hz = max(trace_hz, 20.0)

        loop = build_control_loop(self.cfg, self.params, send_command=self.sim.slots.write_command,
                                  initial_state=np.asarray(reset["state"], np.float64), realtime_priority=20)
        # the policy thread gets a real-time priority below the loop's, so that it is not starved
        # while holding the GIL the loop needs (priority inversion); both are best effort
        runner = AsyncPolicyRunner(self.engine, self._observation, loop.submit_chunk, rate_hz=self.policy_rate,
                                   realtime_priority=10)
        loop.start()
        if not grounding.refused:
            runner.start()
        t0 = time.monotonic()
        try:
            res = self.sim.run(limit, camera_hz=self.camera_hz, video_hz=video_hz, trace_hz=trace_hz)
        finally:
            if not grounding.refused:
                runner.stop()
            loop.stop()
        if loop.error is not None:
            raise RuntimeError(f"control loop failed: {loop.error!r}")
        stats = loop.stats()
        return RunEpisode(
            task=self.task, seed=int(seed), language=language, instruction=info["instruction_text"],
            success=res.success, sim_time=res.sim_time, wall_time=time.monotonic() - t0,
            loop={k: v for k, v in stats.items() if k != "safety"} | {"safety_state": stats["safety"].get("state")},
            policy=runner.stats() | {"provider": self.engine.provider},
            # the stepper's report (envs.realtime.StepperReport: the fields sim_node publishes on ~/result)
            sim=res.report | {"frames": res.frames_published, "commands_applied": res.commands_applied},
            video=res.video,
            trace=res.trace,
            outcome=f"refused: {grounding.reason}" if grounding.refused else res.outcome,
            understood=grounding.readout(),
            refused=grounding.refused,
            hold_motion_rad=_excursion(res.trace, reset["state"]) if grounding.refused else None,
        )

    def close(self) -> None:
        self.sim.close()

    def __enter__(self) -> RealtimeRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
