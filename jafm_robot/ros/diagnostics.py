"""Diagnostics helpers shared by the nodes: rate and latency meters, throttled logs, DiagnosticArray.

Plain Python (plus the message types) so the meters are unit-tested without ROS and the same
numbers appear in ``/diagnostics`` and in the benchmark.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR, STALE = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR, DiagnosticStatus.STALE


class RateMeter:
    """Events per second over a sliding window (thread safe: callbacks and timers share it)."""

    def __init__(self, window_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._t: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.count = 0

    def tick(self) -> None:
        now = self._clock()
        with self._lock:
            self._t.append(now)
            self.count += 1
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._t and now - self._t[0] > self.window_s:
            self._t.popleft()

    def rate(self) -> float:
        now = self._clock()
        with self._lock:
            self._trim(now)
            n = len(self._t)
            if n < 2:
                return 0.0
            span = now - self._t[0]
            return (n - 1) / span if span > 0 else 0.0


class LatencyStats:
    """The last ``size`` latencies (seconds) and their p50/p99/max."""

    def __init__(self, size: int = 1000) -> None:
        self._buf: collections.deque[float] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._buf.append(float(seconds))

    def summary(self) -> dict[str, float]:
        with self._lock:
            a = np.asarray(self._buf, dtype=np.float64)
        if a.size == 0:
            return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
        return {
            "n": int(a.size),
            "p50_ms": float(np.percentile(a, 50) * 1e3),
            "p99_ms": float(np.percentile(a, 99) * 1e3),
            "max_ms": float(a.max() * 1e3),
        }


class Throttle:
    """Allows one event per key every ``period_s``; counts the ones it suppressed.

    A flood of malformed messages must not turn into a flood of log lines (which would itself stall
    the node), but the count of dropped ones is still reported in diagnostics.
    """

    def __init__(self, period_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = period_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self.suppressed: collections.Counter[str] = collections.Counter()
        self.total: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            self.total[key] += 1
            last = self._last.get(key)
            if last is None or now - last >= self.period_s:
                self._last[key] = now
                return True
            self.suppressed[key] += 1
            return False


def _level_int(level: int | bytes) -> int:
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


def level_of(status_: DiagnosticStatus) -> int:
    return _level_int(status_.level)


def status(name: str, level: int | bytes, message: str, values: Mapping[str, Any], hardware_id: str = "") -> DiagnosticStatus:
    """One ``DiagnosticStatus``; floats formatted compactly, everything else via ``str``."""
    s = DiagnosticStatus()
    lv = _level_int(level)
    s.level = bytes([lv]) if isinstance(s.level, bytes) else lv
    s.name = name
    s.message = message
    s.hardware_id = hardware_id
    kv = []
    for k, v in values.items():
        if isinstance(v, float):
            text = f"{v:.4g}"
        elif isinstance(v, np.generic):
            text = f"{v.item():.4g}" if isinstance(v.item(), float) else str(v.item())
        else:
            text = str(v)
        kv.append(KeyValue(key=str(k), value=text))
    s.values = kv
    return s


def array(stamp: Any, *statuses: DiagnosticStatus) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = list(statuses)
    return msg


def values_of(msg: DiagnosticArray, name_contains: str) -> dict[str, str] | None:
    """The key/values of the first status whose name contains ``name_contains`` (tests, bench)."""
    for s in msg.status:
        if name_contains in s.name:
            return {kv.key: kv.value for kv in s.values}
    return None
