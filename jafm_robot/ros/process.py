"""Start nodes as processes (``bringup``, tests, benchmark) and stop them cleanly.

A node process is ``python -m jafm_robot.ros.<node> --ros-args --params-file FILE [-r from:=to]``:
exactly what ``ros2 run``/``ros2 launch`` run through the console scripts, so the graph that
``bringup`` starts is the graph the launch files start. No rclpy import here.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

NODES = ("sim_node", "camera_node", "policy_node", "controller_node")
_counter = itertools.count()


def fresh_domain_id() -> int:
    """A ROS_DOMAIN_ID in 1..101 from the pid and a counter, so parallel tests/runs do not cross-talk."""
    return (os.getpid() * 13 + next(_counter) * 7) % 101 + 1


def ros_env(domain_id: int | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a node process: own domain, discovery limited to this host."""
    env = dict(os.environ if base is None else base)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def node_command(
    node: str,
    params_file: str | Path | None = None,
    remaps: Mapping[str, str] | None = None,
    params: Mapping[str, object] | None = None,
    python: str = sys.executable,
) -> list[str]:
    """The command line of one node process (``-p`` overrides go after the params file, as in ROS)."""
    if node not in NODES:
        raise ValueError(f"unknown node {node!r}; known: {', '.join(NODES)}")
    cmd = [python, "-m", f"jafm_robot.ros.{node}", "--ros-args"]
    if params_file is not None:
        cmd += ["--params-file", str(params_file)]
    for k, v in (params or {}).items():
        val = ("true" if v else "false") if isinstance(v, bool) else str(v)
        cmd += ["-p", f"{k}:={val}"]
    for a, b in (remaps or {}).items():
        cmd += ["-r", f"{a}:={b}"]
    return cmd


def write_params_file(
    base: str | Path | None, overrides: Mapping[str, Mapping[str, object]], dest: str | Path
) -> Path:
    """A copy of the params file ``base`` with ``{node: {param: value}}`` merged in, written to ``dest``.

    Why not ``-p name:=value``: ROS applies a ``-p`` override as a wildcard, and the node's own
    section of the params file outranks a wildcard, so ``-p`` cannot override a value the file sets.
    """
    import yaml

    raw: dict = {}
    if base is not None:
        raw = yaml.safe_load(Path(base).read_text()) or {}
    for node, values in overrides.items():
        sect = raw.setdefault(node, {}).setdefault("ros__parameters", {})
        sect.update(dict(values))
    dest = Path(dest)
    dest.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
    return dest


class NodeProcess:
    """One node as a child process; its output is forwarded line by line with a ``[name]`` prefix."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        env: Mapping[str, str] | None = None,
        sink: IO[str] | Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.env = dict(env) if env is not None else None
        self.sink = sink
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> NodeProcess:
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # our Ctrl-C is forwarded by stop(), not delivered twice
        )
        self._reader = threading.Thread(target=self._forward, name=f"out:{self.name}", daemon=True)
        self._reader.start()
        return self

    def _forward(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if len(self.lines) > 5000:
                del self.lines[:1000]
            if self.sink is None:
                continue
            text = f"[{self.name}] {line}"
            if callable(self.sink):
                self.sink(text)
            else:
                try:
                    self.sink.write(text + "\n")
                    self.sink.flush()
                except ValueError:  # sink closed during shutdown
                    pass

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGINT (clean rclpy shutdown), then SIGTERM, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        if self._reader is not None:
            self._reader.join(timeout=1.0)
        return self.proc.poll()

    def output(self) -> str:
        return "\n".join(self.lines)


def stop_all(procs: Sequence[NodeProcess], timeout: float = 5.0) -> dict[str, int | None]:
    """Signal every process first, then wait, so shutting down N nodes takes one timeout, not N."""
    for p in procs:
        p.signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for p in procs:
        if p.proc is not None:
            try:
                p.proc.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    return {p.name: p.stop(timeout=0.5) for p in procs}
