"""Episodes spread over worker processes with Ray, on this machine's cores or across a cluster.

Every figure the project reports is a rollout (a recording, an evaluation, DAgger's collection),
and an episode's result depends on its seed only. So rollouts parallelise by handing seeds to
workers, each of which builds its env and policy *once* and then runs many episodes.

Why Ray and not a process pool: Ray does placement, restarts of a worker that dies, retries of
the episode it was running, and cluster membership (``--ray-address`` joins a running cluster, so
the same command runs on many machines). This module adds only what Ray does not know about: the
results come back *in item order* whatever order the workers finish in (so JSON, datasets and
Wilson intervals are as a serial run makes them), with one progress bar over all workers.

With one worker and no cluster address nothing is started: the items run in this process, exactly
as before Ray was used (and the CI's default run stays free of Ray start-up time).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K")
P = TypeVar("P")
R = TypeVar("R")

#: environment variable that sets the default ``--workers`` (the cores available when unset)
WORKERS_ENV = "JAFM_WORKERS"
#: how many items per worker may finish ahead of the oldest unfinished one before the workers wait
#: (results are yielded in item order: a slow item must not make the others pile up in memory)
RUN_AHEAD = 4
#: a worker process that dies (killed, out of memory) is restarted this many times, and the
#: episode it was running is retried on the restarted worker
MAX_RESTARTS = 4


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_workers(n: int) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"--workers must be a whole number >= 1, got {n}")
    return int(n)


def default_workers() -> int:
    """``$JAFM_WORKERS`` when set, else the cores available (1 where Ray is not installed: an
    install without the ``rollouts`` extra runs episodes in the command's own process)."""
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env:
        try:
            return check_workers(int(env))
        except ValueError:
            raise ValueError(f"${WORKERS_ENV} must be a whole number >= 1, got {env!r}") from None
    import importlib.util

    return available_cores() if importlib.util.find_spec("ray") is not None else 1


@dataclass(frozen=True)
class Cluster:
    """Where episodes run: ``workers`` processes, on a local Ray instance started for the command
    or, with ``address`` (``auto``, ``HOST:6379`` or ``ray://HOST:10001``), on a running cluster."""

    workers: int = 1
    address: str | None = None

    def __post_init__(self) -> None:
        check_workers(self.workers)

    @property
    def parallel(self) -> bool:
        return self.workers > 1 or self.address is not None

    def describe(self) -> dict[str, Any]:
        return {"workers": self.workers, "ray_address": self.address}


class _Worker:
    """The Ray actor: builds the caller's episode function once, then runs one item per call."""

    def __init__(self, factory: Callable[[], Callable[[Any], Any]]) -> None:
        self._fn = factory()

    def pid(self) -> int:
        return os.getpid()

    def run(self, payload: Any) -> Any:
        return self._fn(payload)


def _connect(cluster: Cluster) -> bool:
    """Join ``cluster.address`` or start a local Ray instance; True when this call started Ray
    (and so must stop it)."""
    if cluster.address is not None and "RAY_AUTH_MODE" not in os.environ and _has_auth_token():
        # `ray start` (Ray >= 2.59) turns token authentication on and keeps the token in
        # ~/.ray/auth_token, but a client given an explicit address sends it only in token mode,
        # which Ray reads when it is imported: without this it retries for a minute and fails
        # with InvalidAuthToken.
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
    except ImportError:
        raise RuntimeError(f"--workers > 1 (or ${WORKERS_ENV} > 1) and --ray-address need Ray: pip install "
                           f"'jafm_robot[rollouts]', or run with --workers 1") from None
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                          "log_to_driver": False}  # errors come back as exceptions; worker chatter stays out
    if cluster.address is None:  # a new local instance, never one that happens to run on this machine
        kw["num_cpus"] = cluster.workers
    ray.init(address=cluster.address or "local", **kw)
    return True


def _has_auth_token() -> bool:
    """Whether a Ray authentication token is configured (environment, or Ray's default file)."""
    from pathlib import Path

    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").is_file())


@contextmanager
def session(cluster: Cluster) -> Iterator[None]:
    """Keep one Ray instance up across several :func:`run_ordered` calls (several evaluations in
    one command start Ray once); nothing happens for an in-process cluster."""
    if not cluster.parallel:
        yield
        return
    started = _connect(cluster)
    try:
        yield
    finally:
        if started:
            import ray

            ray.shutdown()


@dataclass
class _InFlight(Generic[K, P]):
    seq: int
    key: K
    payload: P
    actor: Any


def run_ordered(
    factory: Callable[[], Callable[[P], R]],
    items: Iterable[tuple[K, P]],
    cluster: Cluster,
    *,
    desc: str = "",
    total: int | None = None,
    progress: bool = True,
    on_done: Callable[[K, R], None] | None = None,
    on_workers: Callable[[list[int]], None] | None = None,
    known: Mapping[K, R] | None = None,
) -> Iterator[tuple[K, R]]:
    """Yield ``(key, fn(payload))`` for each item, in the items' order.

    ``factory()`` builds the per-worker function (an env and a policy, say) once per worker; it
    must be picklable (a module-level class or ``functools.partial``). ``items`` is read lazily:
    a worker takes a new item only while fewer than ``RUN_AHEAD`` items per worker have been
    read past the oldest unfinished one, so a slow item does not make results pile up behind it
    and a consumer that stops early (a recording that has all the episodes it wants) wastes at
    most that many. ``on_done(key, result)`` is
    called as soon as any item finishes, before the in-order yield, so that a caller can keep
    results that an interruption would otherwise lose. ``on_workers(pids)`` receives the worker
    process ids once they are up (the kill-a-worker test uses it). An item whose key is in
    ``known`` is not run again: its known result is yielded in its turn (a resumed recording).
    """
    bar = None
    if progress:
        from jafm_robot.reporting import progress as make_bar

        bar = make_bar(total=total, desc=desc)
    try:
        if not cluster.parallel:
            yield from _run_here(factory, items, bar, on_done, known or {})
        else:
            yield from _run_on_ray(factory, items, cluster, bar, on_done, on_workers, known or {})
    finally:
        if bar is not None:
            bar.close()


def _run_here(factory, items, bar, on_done, known):
    fn = factory()
    try:
        for key, payload in items:
            if key in known:
                result = known[key]
            else:
                result = fn(payload)
                if on_done is not None:
                    on_done(key, result)
            if bar is not None:
                bar.update()
            yield key, result
    finally:
        close = getattr(fn, "close", None)
        if callable(close):
            close()


def _run_on_ray(factory, items, cluster, bar, on_done, on_workers, known):
    started = _connect(cluster)  # first: it may set what Ray reads when it is imported
    import ray
    from ray.exceptions import ActorDiedError, ActorUnavailableError

    actors: list[Any] = []
    try:
        actor_cls = ray.remote(num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)(_Worker)
        actors.extend(actor_cls.remote(factory) for _ in range(cluster.workers))
        if on_workers is not None:
            on_workers(ray.get([a.pid.remote() for a in actors]))
        source = iter(items)
        in_flight: dict[Any, _InFlight] = {}
        retry: list[_InFlight] = []  # items whose worker is gone for good: redone on another
        idle: list[Any] = []  # workers waiting: nothing left, or too far ahead of the oldest unfinished item
        done: dict[int, tuple[Any, Any]] = {}
        seq = next_out = 0
        ahead = RUN_AHEAD * cluster.workers

        def submit(actor: Any) -> bool:
            nonlocal seq
            if retry:
                job = retry.pop(0)
                job.actor = actor
            else:
                if seq - next_out >= ahead:  # a slow item holds the line: do not pile up results behind it
                    return False
                for key, payload in source:
                    seq += 1
                    if key in known:  # done by an earlier run: its turn comes without a worker
                        done[seq - 1] = (key, known[key])
                        if bar is not None:
                            bar.update()
                        continue
                    job = _InFlight(seq - 1, key, payload, actor)
                    break
                else:
                    return False
            in_flight[actor.run.remote(job.payload)] = job
            return True

        def feed(actor: Any) -> None:
            if not submit(actor):
                idle.append(actor)

        def wake() -> None:
            while idle and submit(idle[0]):
                idle.pop(0)

        for actor in actors:
            feed(actor)
        while True:
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            wake()
            if not in_flight:
                if next_out in done:
                    continue
                break
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            job = in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except (ActorDiedError, ActorUnavailableError):
                if job.actor in actors:  # two of its items can fail: it is gone after the first
                    actors.remove(job.actor)
                if not actors:
                    raise
                retry.append(job)
                busy = {j.actor for j in in_flight.values()}
                spare = [a for a in actors if a not in busy]
                if spare:  # an idle worker takes it now; else the next one to finish does
                    if spare[0] in idle:
                        idle.remove(spare[0])
                    feed(spare[0])
                continue
            if on_done is not None:
                on_done(job.key, result)
            if bar is not None:
                bar.update()
            done[job.seq] = (job.key, result)
            feed(job.actor)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


def run_all(factory: Callable[[], Callable[[P], R]], items: Iterable[tuple[K, P]], cluster: Cluster,
            **kw: Any) -> list[tuple[K, R]]:
    """:func:`run_ordered`, gathered into a list."""
    return list(run_ordered(factory, items, cluster, **kw))
