"""Asynchronous policy inference: observations in, stamped action chunks out, in its own thread.

The control loop must never wait for the policy, so inference runs in a separate thread at the
policy's rate (~10 Hz). ONNX Runtime releases the GIL inside ``run``, so this thread and the loop
thread truly overlap. Each chunk carries the *observation's* stamp (not the time inference ended):
the blender places the action points relative to the moment the camera saw the scene, so inference
latency shifts which points are still in the future instead of delaying the whole plan.

An observation is skipped when it is the same one as last time (same stamp: the camera has not
produced a new frame) and dropped when it is older than ``max_obs_age`` on arrival (planning from
a stale picture of the world is worse than letting the watchdog hold). A bad observation (wrong
image size, NaN state) is counted and reported, not raised: the thread keeps going and the loop's
watchdog stops the arm if nothing valid comes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from jafm_robot.runtime.chunks import ActionChunk

Observation = tuple[float, dict[str, Any]]


class AsyncPolicyRunner:
    """Run ``engine.infer`` on fresh observations at ``rate_hz`` and hand each chunk to ``on_chunk``."""

    def __init__(
        self,
        engine: Any,
        get_observation: Callable[[], Observation | None],
        on_chunk: Callable[[ActionChunk], None],
        rate_hz: float = 10.0,
        *,
        max_obs_age: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        lead: int = 1,
        realtime_priority: int | None = None,
        cpu_affinity: set[int] | None = None,
    ) -> None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        self.engine = engine
        self.get_observation = get_observation
        self.on_chunk = on_chunk
        self.period = 1.0 / float(rate_hz)
        self.max_obs_age = float(max_obs_age)
        self.clock = clock
        self.lead = lead
        # With a SCHED_FIFO control loop, give this thread a (lower) real-time priority too: it holds
        # the GIL between ORT calls, and a normal-priority holder preempted by other processes would
        # stall the loop on the GIL (priority inversion).
        self.realtime_priority = realtime_priority
        self.realtime = False
        self.cpu_affinity = cpu_affinity
        self._last_stamp: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.n_chunks = 0
        self.n_stale = 0
        self.n_repeat = 0
        self.n_none = 0
        self.n_errors = 0
        self.last_error: str | None = None
        self._latency: list[float] = []

    def step(self) -> ActionChunk | None:
        """One attempt: fetch, check, infer, hand over. Returns the chunk or None (skipped/dropped/bad)."""
        got = self.get_observation()
        if got is None:
            self.n_none += 1
            return None
        stamp, obs = got
        if self._last_stamp is not None and stamp <= self._last_stamp:
            self.n_repeat += 1
            return None
        self._last_stamp = stamp
        if self.clock() - stamp > self.max_obs_age:
            self.n_stale += 1
            return None
        t0 = time.perf_counter()
        try:
            actions = self.engine.infer(obs)
        except Exception as e:  # bad observation (ValueError) or an ORT failure: report, keep going
            self.n_errors += 1
            self.last_error = f"{type(e).__name__}: {e}"
            return None
        self._latency.append(time.perf_counter() - t0)
        if len(self._latency) > 10_000:
            del self._latency[:5_000]
        chunk = ActionChunk(stamp=float(stamp), dt=float(self.engine.action_dt), points=actions, lead=self.lead)
        self.n_chunks += 1
        self.on_chunk(chunk)
        return chunk

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("policy runner already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="jafm-policy", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from jafm_robot.runtime.control_loop import pin_thread, try_realtime

        if self.cpu_affinity:
            pin_thread(self.cpu_affinity)
        if self.realtime_priority:
            self.realtime = try_realtime(self.realtime_priority)
        next_t = time.monotonic()
        while not self._stop.is_set():
            self.step()
            next_t += self.period
            delay = next_t - time.monotonic()
            if delay < 0:  # inference slower than the rate: run back to back, do not accumulate debt
                next_t = time.monotonic()
                delay = 0.0
            self._stop.wait(delay)

    def stats(self) -> dict:
        lat = np.asarray(self._latency) * 1e3
        out = {
            "chunks": self.n_chunks,
            "dropped_stale": self.n_stale,
            "skipped_repeat": self.n_repeat,
            "no_observation": self.n_none,
            "bad_observation": self.n_errors,
            "last_error": self.last_error,
            "realtime": self.realtime,
        }
        if lat.size:
            out.update(
                latency_p50_ms=float(np.percentile(lat, 50)),
                latency_p99_ms=float(np.percentile(lat, 99)),
                latency_max_ms=float(lat.max()),
            )
        return out
