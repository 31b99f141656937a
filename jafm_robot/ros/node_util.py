"""The ``main()`` shared by every node: init, build, spin, and a clean shutdown on Ctrl-C / SIGTERM.

Kept in one place so that every node exits the same way (``bringup`` and the tests rely on a node
going away within a second of SIGINT/SIGTERM, and on exit code 2 for a bad parameter file).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor

from jafm_robot.ros.params import ParamError


def run_node(factory: Callable[[], Any], argv: list[str] | None = None, threads: int = 1) -> int:
    """Create the node from ``factory`` and spin it until shutdown; returns the process exit code.

    ``threads=1`` (the default) is a single-threaded executor: every node does its heavy work on its
    own thread (inference, the control loop, physics, capture), so callbacks are short, and rclpy's
    multi-threaded executor costs more per callback than it saves (see ``bench ros``). A node
    whose callbacks may block passes ``threads > 1`` and puts them in callback groups.
    """
    rclpy.init(args=sys.argv if argv is None else argv)
    node = None
    code = 0
    try:
        node = factory()
        executor = SingleThreadedExecutor() if threads <= 1 else MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
        try:
            executor.spin()
        finally:
            executor.shutdown(timeout_sec=1.0)
    except (KeyboardInterrupt, ExternalShutdownException):
        code = 0
    except (ParamError, FileNotFoundError, ValueError) as e:
        print(f"[jafm_robot] {type(e).__name__}: {e}", file=sys.stderr)
        code = 2
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code
