"""The PyBullet work cell as a robot in its own process, stepped to the wall clock.

``SimProcess`` owns a child process holding a :class:`~jafm_robot.envs.core.RobotTaskEnv`. Between
episodes the parent sends control messages over a pipe (reset, run, close). During ``run`` the child
steps physics at ``sim_dt`` in lockstep with the monotonic clock (shared by both processes), applies
the latest command from shared memory before every substep, publishes the joint state after every
substep and the camera frames at ``camera_hz``, and judges success from privileged simulator state.
Stepping, the lag policy (catch up to a bound, drop and count the rest) and the success rule are
:class:`~jafm_robot.envs.realtime.RealtimeStepper`'s, the same as ``sim_node``'s, so ``run`` and the
ROS graph judge the same seeds the same way (and as ``eval`` does; see that module).
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jafm_robot.envs.realtime import RealtimeStepper
from jafm_robot.hosts.shm import Layout, SharedSlots
from jafm_robot.runtime.grounding import scene_of


@dataclass
class RunResult:
    success: bool
    sim_time: float
    wall_time: float
    success_time: float | None
    substeps: int
    frames_published: int
    max_lag_ms: float
    mean_lag_ms: float
    commands_applied: int
    video: list[np.ndarray] = field(default_factory=list)
    trace: dict[str, np.ndarray] = field(default_factory=dict)
    outcome: str = ""  # "success" or the task's failure mode (privileged state; RobotTaskEnv's info["outcome"])
    report: dict[str, Any] = field(default_factory=dict)  # envs.realtime.StepperReport, as sim_node reports it


def _child(conn: Any, shm_name: str, image_size: int, env_kwargs: dict[str, Any]) -> None:
    from jafm_robot.envs.core import RobotTaskEnv

    slots = SharedSlots(Layout(image_size), name=shm_name)
    env = None
    try:
        env = RobotTaskEnv(image_size=image_size, render_mode="rgb_array", **env_kwargs)
        conn.send(("ready", {"action_dt": env.action_dt, "sim_dt": env.sim_dt,
                             "max_episode_steps": env.max_episode_steps}))
        while True:
            msg = conn.recv()
            try:
                if msg[0] == "close":
                    break
                if msg[0] == "reset":
                    obs, info = env.reset(seed=msg[1], options=msg[2])
                    now = time.monotonic()
                    slots.write_state(obs["state"], now)
                    slots.write_obs(obs["image"], obs["wrist_image"], obs["state"], now)
                    slots.write_command(env.target)
                    parts, bins = scene_of(env)  # what is on the table, for the instruction gate
                    conn.send(("ok", {"info": info, "state": obs["state"], "instruction": obs["instruction"],
                                      "scene_parts": parts, "scene_bins": bins}))
                elif msg[0] == "run":
                    conn.send(("ok", _run_realtime(env, slots, **msg[1])))
                else:
                    conn.send(("error", f"unknown message {msg[0]!r}"))
            except Exception as e:  # report to the parent instead of dying silently
                conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
    finally:
        if env is not None:
            env.close()
        slots.close()


def _trace_row(env: Any, sim_t: float, state: np.ndarray) -> list[np.ndarray]:
    """One trace sample: time, joint state, the target last applied, end-effector and part positions."""
    ee, _ = env.robot.ee_pose()
    parts = [env.world.part_position(q) for q in env.world.parts]
    return [np.array([sim_t]), np.asarray(state, np.float64), env.target, np.asarray(ee),
            np.asarray(parts, np.float64).reshape(-1)]


def _run_realtime(env: Any, slots: SharedSlots, time_limit: float, camera_hz: float = 10.0,
                  video_hz: float = 0.0, trace_hz: float = 0.0) -> RunResult:
    """One episode on the wall clock through the one real-time stepper (envs.realtime: its lag
    policy and success rule are ``sim_node``'s too); ends when the episode is decided, as ``eval``'s does."""
    cam_period = 1.0 / camera_hz
    vid_period = 1.0 / video_hz if video_hz > 0 else float("inf")
    trace_period = 1.0 / trace_hz if trace_hz > 0 else float("inf")
    rows: list[list[np.ndarray]] = []
    video: list[np.ndarray] = []
    io = {"seq": -1, "applied": 0, "frames": 0, "next_cam": cam_period, "next_vid": 0.0, "next_trace": 0.0}
    slots.request_stop(False)
    stepper = RealtimeStepper(env, time_limit=time_limit)

    def apply_command() -> None:  # the newest command from the control loop, before every substep
        seq, cmd = slots.read_command()
        if seq != io["seq"]:
            env.command(cmd)
            io["seq"] = seq
            io["applied"] += 1

    def publish(sim_t: float) -> None:  # state after every substep, frames at their rates (simulated time)
        state = env.get_state()
        slots.write_state(state, stepper.stamp(sim_t))
        if sim_t + 1e-9 >= io["next_cam"]:
            cams = env.render_cameras()
            slots.write_obs(cams["image"], cams["wrist_image"], state, stepper.stamp(sim_t))
            io["frames"] += 1
            io["next_cam"] += cam_period
        if sim_t + 1e-9 >= io["next_vid"]:
            video.append(env.render())
            io["next_vid"] += vid_period
        if sim_t + 1e-9 >= io["next_trace"]:
            rows.append(_trace_row(env, sim_t, state))
            io["next_trace"] += trace_period

    while not stepper.done and not slots.stop_requested:
        if stepper.advance(apply_command, publish) == 0 and not stepper.done:
            time.sleep(min(stepper.wait_s(), 0.002))  # short sleeps keep the jitter low
    rep = stepper.report()
    return RunResult(
        success=rep.success, sim_time=rep.sim_time, wall_time=rep.wall_time, success_time=rep.success_time,
        substeps=rep.substeps, frames_published=io["frames"], max_lag_ms=rep.max_lag_ms, mean_lag_ms=rep.mean_lag_ms,
        commands_applied=io["applied"], video=video, trace=_stack_trace(rows, [q.name for q in env.world.parts]),
        outcome=rep.outcome, report=rep.to_dict(),
    )


def _stack_trace(rows: list[list[np.ndarray]], part_names: list[str]) -> dict[str, np.ndarray]:
    """Columns of the trace (``parts`` is [T, n_parts, 3] in ``part_names`` order)."""
    if not rows:
        return {}
    cols = [np.stack(c) for c in zip(*rows, strict=True)]
    return {"t": cols[0][:, 0], "state": cols[1], "command": cols[2], "ee": cols[3],
            "parts": cols[4].reshape(len(rows), len(part_names), 3), "part_names": np.asarray(part_names)}


class SimProcess:
    """Parent-side handle of the simulator process (``with SimProcess(...) as sim:``)."""

    def __init__(self, task: str, image_size: int = 128, scene: str | None = None, randomize: bool = True,
                 render_size: int = 256, start_timeout: float = 120.0) -> None:
        self.slots = SharedSlots(Layout(image_size))
        ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited threads or PyBullet state
        self._conn, child_conn = ctx.Pipe()
        kwargs = {"task": task, "scene": scene, "randomize": randomize, "render_size": render_size}
        self.proc = ctx.Process(target=_child, args=(child_conn, self.slots.name, image_size, kwargs),
                                name="jafm-sim", daemon=True)
        self.proc.start()
        self.info = self._recv(start_timeout, expect="ready")

    def _recv(self, timeout: float, expect: str = "ok") -> Any:
        deadline = time.monotonic() + timeout
        while not self._conn.poll(0.2):
            if not self.proc.is_alive():
                raise RuntimeError(f"simulator process died (exit code {self.proc.exitcode})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulator process did not answer within {timeout:.0f} s")
        kind, payload = self._conn.recv()
        if kind == "error":
            raise RuntimeError(f"simulator process: {payload}")
        if kind != expect:
            raise RuntimeError(f"simulator process: expected {expect!r}, got {kind!r}")
        return payload

    def reset(self, seed: int, options: dict[str, Any] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        self._conn.send(("reset", int(seed), dict(options or {})))
        return self._recv(timeout)

    def run(self, time_limit: float, timeout: float | None = None, **kw: Any) -> RunResult:
        """Run the world for up to ``time_limit`` simulated seconds (blocks; see ``stop``)."""
        self._conn.send(("run", {"time_limit": float(time_limit), **kw}))
        return self._recv(timeout or 10 * time_limit + 60)

    def stop(self) -> None:
        """Ask a running ``run`` to end early (any thread)."""
        self.slots.request_stop(True)

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self._conn.send(("close",))
                self.proc.join(10)
            except (BrokenPipeError, OSError):
                pass
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self.slots.close()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
