"""Shared fixtures for the ROS tests: own DDS domain per test, a probe node, node processes.

Every test gets a fresh ``ROS_DOMAIN_ID`` (pid + counter, 1..101) with
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, set both in the environment of the node processes and
in this process before its own ``rclpy.Context`` is initialised, so tests never see each other's
traffic even when run in parallel.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from jafm_robot.ros.process import (  # noqa: E402
    NodeProcess,
    fresh_domain_id,
    node_command,
    ros_env,
    stop_all,
    write_params_file,
)


class Probe:
    """A test-side rclpy node in its own Context, spun on a background thread.

    ``sub(topic, type, qos)`` records every message (with its arrival time) so a test can wait for a
    condition with :meth:`wait_for` instead of sleeping a fixed time.
    """

    def __init__(self, name: str = "probe") -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx)
        self.node = rclpy.create_node(name, context=self.ctx)
        self.exec = SingleThreadedExecutor(context=self.ctx)
        self.exec.add_node(self.node)
        self.msgs: dict[str, list[tuple[float, Any]]] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._spin, daemon=True)
        self._t.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and self.ctx.ok():
            try:
                self.exec.spin_once(timeout_sec=0.05)
            except Exception:
                if self._stop.is_set():
                    return
                raise

    def sub(self, topic: str, msg_type: Any, qos: Any) -> list[tuple[float, Any]]:
        buf: list[tuple[float, Any]] = []
        self.msgs[topic] = buf

        def cb(m: Any) -> None:
            with self.lock:
                buf.append((time.monotonic(), m))

        self.node.create_subscription(msg_type, topic, cb, qos)
        return buf

    def pub(self, topic: str, msg_type: Any, qos: Any) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    def wait_for(self, cond: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                v = cond()
            if v:
                return v
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def close(self) -> None:
        self._stop.set()
        self._t.join(timeout=2.0)
        self.exec.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


class Graph:
    """Node processes of one test in one domain; all stopped (and their logs shown on failure) at teardown."""

    def __init__(self, domain_id: int, tmp: Path) -> None:
        self.domain_id = domain_id
        self.tmp = tmp
        self.env = ros_env(domain_id)
        self.procs: dict[str, NodeProcess] = {}

    def start(self, node: str, params_file: str | Path | None = None, **kw: Any) -> NodeProcess:
        """Start ``node`` with ``params_file`` and ``params={...}`` merged into its section."""
        overrides = kw.pop("params", None)
        if overrides:
            params_file = write_params_file(params_file, {node: overrides}, self.tmp / f"{node}.params.yaml")
        cmd = node_command(node, params_file, remaps=kw.pop("remaps", None))
        p = NodeProcess(node, cmd, env=self.env).start()
        self.procs[node] = p
        return p

    def logs(self) -> str:
        return "\n".join(f"----- {n} (rc={p.returncode})\n{p.output()[-4000:]}" for n, p in self.procs.items())

    def stop(self) -> dict[str, int | None]:
        return stop_all(list(self.procs.values()))


@pytest.fixture
def domain() -> int:
    """A fresh ROS_DOMAIN_ID, also set in os.environ for this process's own rclpy Context."""
    d = fresh_domain_id()
    old = {k: os.environ.get(k) for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    os.environ["ROS_DOMAIN_ID"] = str(d)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    yield d
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def probe(domain: int) -> Probe:
    p = Probe()
    yield p
    p.close()


@pytest.fixture
def graph(domain: int, request: pytest.FixtureRequest, tmp_path: Path) -> Graph:
    g = Graph(domain, tmp_path)
    yield g
    g.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(g.logs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
