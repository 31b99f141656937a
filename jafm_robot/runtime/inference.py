"""Asynchronous policy inference: observations in, stamped action chunks out, in its own thread.

The control loop must never wait for the policy, so inference runs in a separate thread at the
policy's rate (~10 Hz). ONNX Runtime releases the GIL inside ``run``, so this thread and the loop
thread truly overlap. Each chunk carries the *observation's* stamp (not the time inference ended):
the blender places the action points relative to the moment the camera saw the scene, so inference
latency shifts which points are still in the future instead of delaying the whole plan.

**When to infer** (``trigger``). ``"timer"``: every ``1/rate_hz`` seconds on the newest observation,
so a frame waits up to one period before the policy sees it. ``"frame"``: as soon as a fresh frame
arrives (the host calls :meth:`AsyncPolicyRunner.notify_frame`) and the engine is idle, at most
``max_rate_hz``; :class:`FrameTrigger` holds that rule. A frame that arrives while the engine is
busy waits in a one-frame slot; a newer one replaces it and the replaced one is counted as dropped,
so inferences never queue up behind a camera that is faster than the engine.

An observation is skipped when it is the same one as last time (same stamp: the camera has not
produced a new frame) and dropped when it is older than ``max_obs_age`` on arrival (planning from
a stale picture of the world is worse than letting the watchdog hold). A bad observation (wrong
image size, NaN state) is counted and reported, not raised: the thread keeps going and the loop's
watchdog stops the arm if nothing valid comes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from jafm_robot.runtime.chunks import ActionChunk

Observation = tuple[float, dict[str, Any]]
TRIGGERS = ("frame", "timer")
# a frame may pass the rate gate this fraction of a period early: camera jitter must not make a
# 10 Hz camera under a 5 Hz cap pass every third frame instead of every second
RATE_TOLERANCE = 0.25


class FrameTrigger:
    """Frame mode's rule: infer on the newest frame once the engine is idle, at most ``max_rate_hz``.

    Plain logic over times handed in (no clock, no thread), so the rule is tested without either;
    :class:`AsyncPolicyRunner` drives it under its own lock. Times are the frames' *arrival* times.

    * :meth:`offer` a frame: it goes into the one-frame slot, where a frame still waiting is replaced
      and counted as dropped (``n_dropped``): only the newest frame is worth inferring on. A frame
      that comes before the rate gate opens is skipped (``n_rate_skipped``), or held until the gate
      opens when that is soon (below).
    * :meth:`take` the waiting frame when the engine is idle and the gate open; :meth:`done` when
      inference ends; :meth:`wait_time` says how long a held frame still waits for the gate.

    The gate is checked on arrival, not when the engine frees up: a frame held until the gate opens
    would be up to one camera period old when inferred (a 10 Hz camera under a 5 Hz cap would always
    infer on the previous frame). So an early frame is held only when the gate opens within
    ``RATE_TOLERANCE`` of the camera's usual frame interval (median of the last ones): a frame right
    after another one (a second camera, a burst) then still gets inferred, at once when the gate
    opens, instead of waiting a whole camera period for the next. Each start moves the gate one period
    on from the slot it used (``RATE_TOLERANCE`` of a period early is let through, for jitter), or
    from the frame's arrival when that was late, so over any long window the rate stays at or below
    ``max_rate_hz``. ``max_rate_hz = 0``: no cap, the engine's speed is the limit.
    """

    def __init__(self, max_rate_hz: float = 0.0) -> None:
        if not (max_rate_hz >= 0 and np.isfinite(max_rate_hz)):
            raise ValueError(f"max_rate_hz must be >= 0 (0 = no cap), got {max_rate_hz!r}")
        self.max_rate_hz = float(max_rate_hz)
        self.min_period = 1.0 / self.max_rate_hz if self.max_rate_hz > 0 else 0.0
        self._gate = -np.inf  # the earliest nominal start of the next inference
        self._intervals: deque[float] = deque(maxlen=7)  # the last frame-to-frame intervals
        self._last_offer = float("nan")
        self.pending: tuple[float, float] | None = None  # (stamp, arrival) of the waiting frame
        self.busy = False
        self.last_arrival = float("nan")  # arrival time of the frame handed out last by take()
        self.n_frames = 0
        self.n_dropped = 0
        self.n_rate_skipped = 0
        self.n_started = 0

    @property
    def opens(self) -> float:
        """When the rate gate lets the next inference start (jitter tolerance included)."""
        return self._gate - RATE_TOLERANCE * self.min_period

    def offer(self, stamp: float, arrival: float) -> bool:
        """A fresh frame (observation stamp, arrival time); False if the rate gate skipped it."""
        self.n_frames += 1
        if self._last_offer == self._last_offer:  # not NaN
            self._intervals.append(arrival - self._last_offer)
        self._last_offer = float(arrival)
        if arrival < self.opens:
            usual = float(np.median(self._intervals)) if self._intervals else np.inf
            if self.opens - arrival > RATE_TOLERANCE * usual:
                self.n_rate_skipped += 1
                return False
        if self.pending is not None:
            self.n_dropped += 1
        self.pending = (float(stamp), float(arrival))
        return True

    def wait_time(self, now: float) -> float | None:
        """Seconds until the waiting frame may start (0: now); None when nothing waits or the engine is busy."""
        if self.busy or self.pending is None:
            return None
        return max(0.0, self.opens - now)

    def take(self, now: float) -> float | None:
        """The stamp of the frame to infer on at ``now``, or None (nothing waiting, engine busy, gate shut)."""
        if self.busy or self.pending is None or now < self.opens:
            return None
        stamp, arrival = self.pending
        self.pending = None
        self.last_arrival = arrival
        self.busy = True
        self.n_started += 1
        if self.min_period > 0:
            self._gate = (self._gate if arrival <= self._gate else arrival) + self.min_period
        return stamp

    def done(self) -> None:
        """The engine finished (with or without a chunk) and is idle again."""
        self.busy = False

    def stats(self) -> dict[str, int]:
        return {"frames": self.n_frames, "frames_dropped": self.n_dropped,
                "frames_rate_skipped": self.n_rate_skipped, "inferences_triggered": self.n_started}


class FrameSync:
    """Whether a model with several cameras has a *complete* fresh frame: each camera a newer one.

    ``sim_node`` publishes the scene and the wrist image of one instant one after the other; a trigger
    on the scene image alone would infer with the wrist image of the previous instant. ``update``
    returns the stamp of the new frame set (the oldest camera's, the set is as old as that) once
    every camera has delivered a frame newer than the last set, else None. Unsynchronised cameras
    at the same rate give one set per pair of frames, at the later arrival.
    """

    def __init__(self, cameras: list[str] | tuple[str, ...]) -> None:
        if not cameras:
            raise ValueError("FrameSync needs at least one camera")
        self._stamps: dict[str, float] = dict.fromkeys(cameras, -np.inf)
        self._last_set = -np.inf

    def update(self, camera: str, stamp: float) -> float | None:
        if camera not in self._stamps:
            raise KeyError(f"unknown camera {camera!r}; known: {', '.join(self._stamps)}")
        self._stamps[camera] = max(self._stamps[camera], float(stamp))
        oldest = min(self._stamps.values())
        if oldest > self._last_set:
            self._last_set = oldest
            return oldest
        return None


class AsyncPolicyRunner:
    """Run ``engine.infer`` on fresh observations and hand each chunk to ``on_chunk``.

    ``trigger="timer"``: at ``rate_hz``. ``trigger="frame"``: on every frame announced through
    :meth:`notify_frame` while the engine is idle, at most ``max_rate_hz`` (0 = no cap); see the
    module docstring.
    """

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
        trigger: str = "timer",
        max_rate_hz: float = 0.0,
    ) -> None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}")
        self.trigger = trigger
        self.frames = FrameTrigger(max_rate_hz)  # frame mode only
        self._cond = threading.Condition()
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
        # where the time goes, per inference (s): frame arrival -> inference start (frame mode),
        # observation fetch + conversion, on_chunk (the host's hand-over, e.g. a ROS publish)
        self._wake: list[float] = []
        self._fetch: list[float] = []
        self._handoff: list[float] = []

    def notify_frame(self, stamp: float, arrival: float | None = None) -> None:
        """A fresh frame arrived (any thread; frame mode): infer on it as soon as the engine is idle.

        ``arrival`` is the time on ``time.monotonic`` the frame arrived (now if not given)."""
        t = time.monotonic() if arrival is None else float(arrival)
        with self._cond:
            if self.frames.offer(stamp, t):
                self._cond.notify()

    def step(self) -> ActionChunk | None:
        """One attempt: fetch, check, infer, hand over. Returns the chunk or None (skipped/dropped/bad)."""
        t_fetch = time.perf_counter()
        got = self.get_observation()
        t_got = time.perf_counter()
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
        t1 = time.perf_counter()
        chunk = ActionChunk(stamp=float(stamp), dt=float(self.engine.action_dt), points=actions, lead=self.lead)
        self.n_chunks += 1
        self.on_chunk(chunk)
        t2 = time.perf_counter()
        for buf, v in ((self._latency, t1 - t0), (self._fetch, t_got - t_fetch), (self._handoff, t2 - t1)):
            buf.append(v)
            if len(buf) > 10_000:
                del buf[:5_000]
        return chunk

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("policy runner already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="jafm-policy", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from jafm_robot.runtime.control_loop import pin_thread, try_realtime

        if self.cpu_affinity:
            pin_thread(self.cpu_affinity)
        if self.realtime_priority:
            self.realtime = try_realtime(self.realtime_priority)
        if self.trigger == "frame":
            self._run_on_frames()
            return
        next_t = time.monotonic()
        while not self._stop.is_set():
            self.step()
            next_t += self.period
            delay = next_t - time.monotonic()
            if delay < 0:  # inference slower than the rate: run back to back, do not accumulate debt
                next_t = time.monotonic()
                delay = 0.0
            self._stop.wait(delay)

    def _run_on_frames(self) -> None:
        """Frame mode: sleep until a frame is waiting and the engine is idle, infer, repeat."""
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set() and self.frames.take(time.monotonic()) is None:
                    wait = self.frames.wait_time(time.monotonic())
                    self._cond.wait(0.1 if wait is None else max(wait, 1e-4))
                if self._stop.is_set():
                    return
                self._wake.append(time.monotonic() - self.frames.last_arrival)
                if len(self._wake) > 10_000:
                    del self._wake[:5_000]
            try:
                self.step()
            finally:
                with self._cond:
                    self.frames.done()

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
            "trigger": self.trigger,
        }
        if self.trigger == "frame":
            out.update(self.frames.stats())
        for name, buf in (("wake", self._wake), ("fetch", self._fetch), ("handoff", self._handoff)):
            a = np.asarray(buf[-2000:]) * 1e3
            if a.size:
                out[f"{name}_p50_ms"] = float(np.percentile(a, 50))
                out[f"{name}_p99_ms"] = float(np.percentile(a, 99))
        if lat.size:
            out.update(
                latency_p50_ms=float(np.percentile(lat, 50)),
                latency_p99_ms=float(np.percentile(lat, 99)),
                latency_max_ms=float(lat.max()),
            )
        return out
