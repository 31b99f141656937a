"""The ``main()`` shared by every node: init, build, spin, and a clean shutdown on Ctrl-C / SIGTERM.

Kept in one place so that every node exits the same way (``bringup`` and the tests rely on a node
going away within a second of SIGINT/SIGTERM, and on exit code 2 for a bad parameter file).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from jafm_robot.ros.params import ParamError


def make_executor(context: Any = None) -> Any:
    """The executor every node (and ``bench ros``'s own node) spins: rclpy's ``EventsExecutor``.

    Why: it is single-threaded like ``SingleThreadedExecutor`` (every node does its heavy work on its
    own thread -- inference, the control loop, physics, capture -- so callbacks are short), but it
    queues events in C++ instead of rebuilding a wait set in Python on every spin. ``bench ros``
    (event-driven, across processes, 2-core machine) measured frame -> first command p50 6.9 ms with
    ``SingleThreadedExecutor`` and 2.8 ms with this one (docs/results.md). Where the installed rclpy
    has no ``EventsExecutor`` (it is in ``rclpy.experimental`` since Jazzy), the classic one is used.
    """
    kw = {} if context is None else {"context": context}
    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:
        return SingleThreadedExecutor(**kw)
    return EventsExecutor(**kw)


def run_node(factory: Callable[[], Any], argv: list[str] | None = None, threads: int = 1) -> int:
    """Create the node from ``factory`` and spin it until shutdown; returns the process exit code.

    ``threads=1`` (the default) is :func:`make_executor`'s single-threaded executor; rclpy's
    multi-threaded executor costs more per callback than it saves (see ``bench ros``). A node
    whose callbacks may block passes ``threads > 1`` and puts them in callback groups.
    """
    # Our own SIGINT/SIGTERM handling instead of rclpy's: rclpy's handler shuts the context down
    # from the signal, which can land while the executor is inside ``take_message`` and surfaces as
    # a RuntimeError from pybind11 (a dirty exit code on Ctrl-C). Here the signal only sets a flag;
    # the spin loop sees it within 0.1 s and everything is torn down in order afterwards.
    stop = threading.Event()
    rclpy.init(args=sys.argv if argv is None else argv, signal_handler_options=SignalHandlerOptions.NO)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    node = None
    code = 0
    try:
        node = factory()
        executor = make_executor() if threads <= 1 else MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
        try:
            while not stop.is_set() and rclpy.ok():
                executor.spin_once(timeout_sec=0.1)
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
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
