"""The fixed-rate control loop: each tick, time -> blended reference -> safety filter -> command.

**Why a thread, not a process.** The loop's per-tick work is a few tens of microseconds of NumPy;
the policy's work is one ``InferenceSession.run`` per chunk, and ONNX Runtime releases the GIL for
the whole run, so a loop thread and an inference thread overlap on two cores without a second
interpreter. A process would add shared-memory plumbing for chunks, state and e-stop, and the
e-stop path would cross a process boundary. What a thread does need: a short GIL switch interval
(``gil_switch_interval``, default 0.2 ms instead of Python's 5 ms) so that the loop never waits long
for the GIL when the inference thread runs Python between two ORT calls.

**GIL shield.** A short switch interval alone is not enough: while the loop spins on the clock, a
thread that wants the GIL forces the loop to drop it after one interval and may then keep it for a
whole interval, right across the deadline. So the loop sets a long interval (20 ms) from the end
of its sleep until the tick is done and the short one before it sleeps again: other threads get the
GIL at once whenever the loop sleeps (it drops the GIL and wakes them), never in the loop's last
``spin_margin`` before a deadline. The margin (0.3 ms at 1 kHz) absorbs the wait for the GIL when
the loop wakes. ``sys.setswitchinterval`` is process-wide; the cost to other threads is a wait of at
most one spin plus one tick (< 0.5 ms at 1 kHz). ``gil_shield=False`` turns it off.

**Timing.** Hybrid sleep/spin: sleep until ``spin_margin`` before the deadline (``time.sleep`` wakes
~50-100 us late on Linux, less once the timer slack is cut to 1 us, which :meth:`start` does via
``prctl``), then spin on the clock. Deadlines advance by whole periods from the start time, so
errors do not accumulate; a tick that is more than half a period late is a *deadline miss*, and
after an overrun the schedule skips the lost slots instead of bursting to catch up.

**Garbage collector.** A collection runs in whichever thread allocates and holds the GIL
throughout; with the tens of thousands of objects a process with ONNX/NumPy holds, a gen-1/2 pass
takes milliseconds. :meth:`start` collects once and ``gc.freeze()``s what exists (setup objects live
for the whole run anyway), so later passes only scan what was allocated since (``freeze_gc``).

**Never blocked by inference.** Chunks arrive through :meth:`submit_chunk`, a ``deque.append`` that
is atomic under the GIL (no lock the loop could wait on); the loop drains it at the start of a tick.
E-stop, hold and resume requests are flags consumed at the next tick, so an e-stop acts within one
period (two when it lands between an early command and its tick, below).

**A chunk applies the moment it arrives** (``apply_on_arrival``, the default). Waiting for the next
tick would add up to one period (4 ms at 250 Hz) between a chunk and the first command that reflects
it. So :meth:`submit_chunk` wakes the loop out of its sleep, and :meth:`step_early` computes the
*next* tick at once -- the chunk taken into the blender exactly as that tick would take it, the
reference sampled at the tick's time, the safety filter stepped to it -- and sends now the point of
the straight segment from the last command to that tick's command that is due now. At the tick the
loop sends the command it already committed to. The path of commands is therefore the one the
fixed-rate loop would have produced (same limits, same filter, no jump); the arm only hears of
the chunk up to a period earlier, in an extra sample on a segment it was going to follow anyway.
Hosts that call ``step(t)`` from their own timer never see early commands.

``step(t)`` is the whole tick without threads or clocks, for deterministic tests and for hosts that
have their own timer (a ROS timer, the simulator's step).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from jafm_robot.robots.config import RobotConfig
from jafm_robot.runtime.chunks import ActionChunk, ChunkBlender
from jafm_robot.runtime.safety import SafetyFilter

_log = logging.getLogger(__name__)
# GIL switch interval while the loop spins and ticks (see "GIL shield" in the module docstring)
_SHIELD_INTERVAL = 0.02


def set_timer_slack(ns: int = 1000) -> bool:
    """Cut this thread's timer slack (Linux ``PR_SET_TIMERSLACK``) so sleeps wake on time; False if not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(29, ctypes.c_ulong(ns), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def try_realtime(priority: int = 10) -> bool:
    """Ask for SCHED_FIFO for the calling thread; False where not permitted (no error: best effort)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (AttributeError, OSError, PermissionError):
        return False


def pin_thread(cpus: set[int]) -> bool:
    """Pin the calling thread to ``cpus`` (Linux); False where not possible."""
    try:
        os.sched_setaffinity(0, cpus)
        return True
    except (AttributeError, OSError, ValueError):
        return False


class _Ring:
    """Preallocated float ring buffer: recording a sample in the loop allocates nothing."""

    def __init__(self, n: int) -> None:
        self.buf = np.zeros(n)
        self.i = 0
        self.full = False

    def add(self, x: float) -> None:
        self.buf[self.i] = x
        self.i += 1
        if self.i == len(self.buf):
            self.i = 0
            self.full = True

    def values(self) -> np.ndarray:
        return self.buf.copy() if self.full else self.buf[: self.i].copy()

    def clear(self) -> None:
        self.i = 0
        self.full = False


class ControlLoop:
    """Runs blender + safety filter at ``rate_hz`` in its own thread and sends each command."""

    def __init__(
        self,
        robot_cfg: RobotConfig,
        rate_hz: float = 500.0,
        read_state: Callable[[], np.ndarray] | None = None,
        send_command: Callable[[np.ndarray], None] | None = None,
        safety: SafetyFilter | None = None,
        blender: ChunkBlender | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        initial_state: np.ndarray | None = None,
        spin_margin: float | None = None,
        gil_switch_interval: float | None = 2e-4,
        gil_shield: bool = True,
        freeze_gc: bool = True,
        cpu_affinity: set[int] | None = None,
        realtime_priority: int | None = None,
        stats_window: int = 120_000,
        apply_on_arrival: bool = True,
    ) -> None:
        if not (0 < rate_hz <= 2000):
            raise ValueError(f"rate_hz must be in (0, 2000], got {rate_hz}")
        self.cfg = robot_cfg
        self.rate_hz = float(rate_hz)
        self.period = 1.0 / self.rate_hz
        self.read_state = read_state
        self.send_command = send_command
        self.safety = safety or SafetyFilter(robot_cfg, self.period)
        if abs(self.safety.dt - self.period) > 1e-12:
            raise ValueError(f"safety filter dt {self.safety.dt} != loop period {self.period}")
        self.blender = blender or ChunkBlender()
        self.clock = clock
        self.initial_state = initial_state
        # spin the last ~1 ms, but never more than 30% of a period (at 1 kHz that would be all of it)
        self.spin_margin = min(1e-3, 0.3 * self.period) if spin_margin is None else float(spin_margin)
        self.gil_switch_interval = gil_switch_interval
        self.gil_shield = gil_shield and bool(gil_switch_interval)
        self.freeze_gc = freeze_gc
        self.cpu_affinity = cpu_affinity
        self.realtime_priority = realtime_priority
        self.apply_on_arrival = bool(apply_on_arrival)
        self._inbox: deque[tuple[ActionChunk, float]] = deque(maxlen=8)  # (chunk, submit time)
        self._wake = threading.Event()  # set by submit_chunk: the sleeping loop applies it at once
        self._committed: np.ndarray | None = None  # the next tick's command, sent early in part
        self._applied_at: list[float] = []  # submit times of chunks taken in, until a command goes out
        self.early_commands = 0
        self._estop_req = False
        self._reset_req = False
        self._hold = False
        self._resync = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = False
        self.last_command: np.ndarray | None = None
        self.ticks = 0
        self.misses = 0
        self.chunks_received = 0
        self._period_err = _Ring(stats_window)
        self._chunk_age = _Ring(stats_window)
        self._apply_latency = _Ring(10_000)  # chunk submitted -> first command that reflects it
        self._last_tick_t: float | None = None
        self.error: BaseException | None = None
        self.realtime = False

    # ---------------------------------------------------------------------------------- other threads
    def submit_chunk(self, chunk: ActionChunk) -> None:
        """Hand a chunk to the loop (any thread; never blocks; the oldest is dropped if 8 wait).

        With ``apply_on_arrival`` the running loop takes it in at once (:meth:`step_early`)."""
        self._inbox.append((chunk, self.clock()))
        if self.apply_on_arrival:
            self._wake.set()

    def estop(self) -> None:
        """Latch the e-stop: from the next tick the arm decelerates at its limits and stays stopped."""
        self._estop_req = True

    def reset_estop(self) -> None:
        """Release the e-stop; the arm holds where it stopped until a fresh chunk arrives."""
        self._reset_req = True

    def hold(self) -> None:
        """Stop following chunks (brake to a stop and hold; chunks are dropped) until :meth:`resume`."""
        self._hold = True

    def resume(self) -> None:
        self._hold = False
        self._resync = True

    # ------------------------------------------------------------------------------------------- tick
    def reset(self, t: float, q0: np.ndarray | None = None) -> None:
        """Start from ``q0`` (else ``read_state()``, ``initial_state`` or the home pose) at rest at time ``t``."""
        if q0 is None:
            if self.read_state is not None:
                q0 = self.read_state()
            elif self.initial_state is not None:
                q0 = self.initial_state
            else:
                q0 = self.cfg.home8
        self.safety.reset(q0)
        self.blender.reset(self.safety.q)
        self._last_tick_t = None
        self._committed = None
        self._started = True

    def _take_in(self, t: float) -> None:
        """Drain the inbox into the blender for the tick at ``t`` (anchored at the last command)."""
        sf = self.safety
        while self._inbox:
            chunk, submitted = self._inbox.popleft()
            self.chunks_received += 1
            if sf.estopped or self._hold:
                continue
            # anchor the new plan at the last command, at the time it was for (the previous tick)
            t_cmd = self._last_tick_t if self._last_tick_t is not None else t
            if self.blender.add(chunk, t_cmd, sf.q, sf.v):
                sf.feed(t)
                self._applied_at.append(submitted)

    def _sent(self, cmd: np.ndarray) -> None:
        if self.send_command is not None:
            self.send_command(cmd)
        self.last_command = cmd
        if self._applied_at:
            now = self.clock()
            for submitted in self._applied_at:
                self._apply_latency.add(now - submitted)
            self._applied_at.clear()

    def step(self, t: float) -> np.ndarray:
        """One tick at time ``t``: take in chunks, sample the reference, filter, send; returns the command.

        After :meth:`step_early` the tick sends the command committed there (flags and chunks that
        came in since wait for the next tick)."""
        if not self._started:
            self.reset(t)
        sf = self.safety
        if self._committed is not None:
            cmd, self._committed = self._committed, None
            if self._inbox and self.apply_on_arrival:
                self._wake.set()  # chunks that came in after the early command: apply them next
        else:
            if self._estop_req:
                self._estop_req = False
                sf.estop()
            if self._reset_req:
                self._reset_req = False
                sf.reset_estop()
                self._resync = True
            if self._resync:  # forget the old plan: hold where the arm is now until a fresh chunk
                self._resync = False
                self.blender.reset(sf.q)
                sf.last_fresh = None
            self._take_in(t)
            ref = self.blender.sample(t)
            cmd = sf.step(t, None if ref is None else ref[0], None if ref is None else ref[1], hold=self._hold)
        self._sent(cmd)
        if self._last_tick_t is not None:
            self._period_err.add(t - self._last_tick_t - self.period)
        self._last_tick_t = t
        age = self.blender.chunk_age(t)
        if age == age:  # not NaN
            self._chunk_age.add(age)
        self.ticks += 1
        return cmd

    def step_early(self, t: float, t_next: float) -> np.ndarray | None:
        """Apply waiting chunks now, between the last tick and the tick at ``t_next`` (see the module
        docstring): commit ``t_next``'s command and send the point of the segment towards it due at
        ``t``. None (nothing sent) when there is nothing to apply or a flag (e-stop, hold, reset)
        waits for the tick, which handles it as always."""
        t_prev = self._last_tick_t
        if (self._committed is not None or not self._inbox or t_prev is None or not (t_prev <= t < t_next)
                or self._estop_req or self._reset_req or self._resync or self._hold or self.safety.estopped):
            return None
        sf = self.safety
        q_prev = sf.q.copy()
        self._take_in(t_next)
        ref = self.blender.sample(t_next)
        self._committed = sf.step(t_next, None if ref is None else ref[0], None if ref is None else ref[1])
        frac = (t - t_prev) / (t_next - t_prev)
        early = q_prev + frac * (self._committed - q_prev)
        self._sent(early)
        self.early_commands += 1
        return early

    # ----------------------------------------------------------------------------------------- thread
    def start(self) -> None:
        """Reset from the measured state and start the loop thread."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("control loop already running")
        self._stop.clear()
        self.error = None
        self.reset(self.clock())
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
        self._old_switch = sys.getswitchinterval()
        if self.gil_switch_interval:
            sys.setswitchinterval(self.gil_switch_interval)
        self._thread = threading.Thread(target=self._run, name="jafm-control-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.gil_switch_interval:
            sys.setswitchinterval(self._old_switch)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        set_timer_slack()
        if self.cpu_affinity:
            pin_thread(self.cpu_affinity)
        if self.realtime_priority:
            self.realtime = try_realtime(self.realtime_priority)
        clock, period, margin = self.clock, self.period, self.spin_margin
        short = self.gil_switch_interval or sys.getswitchinterval()
        shield = self.gil_shield
        early = self.apply_on_arrival
        setswitch = sys.setswitchinterval
        t0 = clock()
        k = 1
        try:
            while not self._stop.is_set():
                deadline = t0 + k * period
                while (rest := deadline - clock() - margin) > 0:
                    if shield:
                        setswitch(short)
                    if not early:
                        time.sleep(rest)
                        break
                    if self._wake.wait(rest):  # a chunk arrived: apply it now, then sleep on
                        self._wake.clear()
                        if shield:
                            setswitch(_SHIELD_INTERVAL)
                        self.step_early(clock(), deadline)
                if shield:
                    setswitch(_SHIELD_INTERVAL)
                while clock() < deadline:
                    pass
                t = clock()
                if t - deadline > 0.5 * period:
                    self.misses += 1
                self.step(t)
                k += 1
                late = clock() - (t0 + k * period)
                if late > 0.5 * period:  # overran a slot: skip it rather than bursting to catch up
                    k += int((late + 0.5 * period) // period)
        except Exception as e:
            # A failing send_command/read_state ends the loop; it must not vanish silently in a
            # thread: kept in ``error`` (the host checks it) and logged. The robot side's own
            # command timeout then stops the arm, as it would for a crashed process.
            self.error = e
            _log.exception("control loop stopped: %s", e)
        finally:
            if shield:  # never leave the process on the long interval
                setswitch(short)

    # ------------------------------------------------------------------------------------------ stats
    def stats(self) -> dict:
        """Period error (actual - nominal) p50/p99/max of |error| in µs, misses, ticks, jitter, chunk age."""
        pe = self._period_err.values()
        ages = self._chunk_age.values()
        out: dict = {"rate_hz": self.rate_hz, "ticks": self.ticks, "misses": self.misses}
        if pe.size:
            a = np.abs(pe) * 1e6
            out.update(
                period_error_p50_us=float(np.percentile(a, 50)),
                period_error_p99_us=float(np.percentile(a, 99)),
                period_error_max_us=float(a.max()),
                period_mean_error_us=float(pe.mean() * 1e6),
                jitter_us=float(pe.std() * 1e6),
            )
        applied = self._apply_latency.values()
        if applied.size:
            out.update(chunk_apply_p50_ms=float(np.percentile(applied, 50) * 1e3),
                       chunk_apply_p99_ms=float(np.percentile(applied, 99) * 1e3))
        out["early_commands"] = self.early_commands
        if ages.size:
            out.update(chunk_age_p50_ms=float(np.percentile(ages, 50) * 1e3), chunk_age_max_ms=float(ages.max() * 1e3))
        out.update(self.blender.stats())
        out["chunks_received"] = self.chunks_received
        out["safety"] = self.safety.status()
        out["realtime"] = self.realtime
        return out

    def period_errors(self) -> np.ndarray:
        """The recorded period errors (s), oldest first up to the window (for histograms)."""
        r = self._period_err
        return np.concatenate([r.buf[r.i :], r.buf[: r.i]]) if r.full else r.buf[: r.i].copy()

    def clear_stats(self) -> None:
        self._period_err.clear()
        self._chunk_age.clear()
        self._apply_latency.clear()
        self.misses = 0
        self.ticks = 0
