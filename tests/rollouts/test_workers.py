"""Rollouts over a real local Ray cluster: the same per-episode results whatever the workers,
a worker killed mid-episode has its episode redone, and an interrupted recording loses nothing.

The cluster (two CPUs) is started once for the module and stopped at its end; the verbs join it
instead of starting their own. The interrupted-recording test runs the CLI in a subprocess, which
starts and stops a local Ray instance of its own, as a user's command does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset
from jafm_robot.datasets.recording import record
from jafm_robot.paths import models_dir
from jafm_robot.training.evaluate import EvalSpec, evaluate
from jafm_robot.workers import Cluster, default_workers, run_all

ray = pytest.importorskip("ray")

SHIPPED = models_dir() / "pick_place_v0.onnx"


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _outcomes(res: dict) -> list[tuple]:
    return [(r["seed"], r["success"], r["steps"], r["info"].get("outcome")) for r in res["per_episode"]]


def _same_dataset(a: Path, b: Path) -> None:
    """Episodes in the same seed order, identical states and actions, frames within codec tolerance."""
    da, db = LeRobotV3Dataset(a), LeRobotV3Dataset(b)
    assert [e["seed"] for e in da.episodes] == [e["seed"] for e in db.episodes]
    assert [e["seed"] for e in db.episodes] == sorted(e["seed"] for e in db.episodes)
    np.testing.assert_array_equal(da.state, db.state)
    np.testing.assert_array_equal(da.action, db.action)
    for cam in ("image", "wrist_image"):
        fa, fb = da.images(cam).astype(np.int16), db.images(cam).astype(np.int16)
        assert fa.shape == fb.shape
        assert np.abs(fa - fb).mean() < 1.0  # both went through the same encoder; frames are alike


def test_default_workers_follow_the_environment(monkeypatch):
    monkeypatch.delenv("JAFM_WORKERS", raising=False)
    assert default_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("JAFM_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("JAFM_WORKERS", "0")
    with pytest.raises(ValueError, match="JAFM_WORKERS"):
        default_workers()
    with pytest.raises(ValueError, match="--workers"):
        Cluster(workers=0)


def _slow_square_worker():
    def fn(x: int) -> tuple[int, int]:
        time.sleep(0.05 * (x % 3))  # finish out of order
        return x * x, os.getpid()
    return fn


def test_results_come_back_in_item_order_from_several_workers(local_cluster):
    out = run_all(_slow_square_worker, ((i, i) for i in range(12)), Cluster(workers=2), progress=False)
    assert [k for k, _ in out] == list(range(12))
    assert [r for _, (r, _pid) in out] == [i * i for i in range(12)]
    assert len({pid for _, (_r, pid) in out}) == 2  # both workers ran episodes
    # known results are not run again, and keep their turn
    out = run_all(_slow_square_worker, ((i, i) for i in range(6)), Cluster(workers=2), progress=False,
                  known={2: ("known", 0), 5: ("known", 0)})
    assert [r for _, (r, _pid) in out] == [0, 1, "known", 9, 16, "known"]


def _first_item_slow_worker():
    def fn(x: int) -> int:
        time.sleep(3.0 if x == 0 else 0.01)
        return x
    return fn


def test_a_slow_item_does_not_make_results_pile_up_behind_it(local_cluster):
    from jafm_robot.workers import RUN_AHEAD

    finished: list[int] = []
    out = run_all(_first_item_slow_worker, ((i, i) for i in range(40)), Cluster(workers=2), progress=False,
                  on_done=lambda k, r: finished.append(k))
    assert [k for k, _ in out] == list(range(40))
    # while item 0 runs, the other worker goes on only while fewer than RUN_AHEAD x workers items
    # have been read past it
    assert 0 < finished.index(0) <= RUN_AHEAD * 2


def test_eval_gives_the_same_per_episode_outcomes_with_two_workers_as_with_one(local_cluster):
    spec = EvalSpec(policy=str(SHIPPED), task="PickPlace", language="ja")
    one = evaluate(spec, 4, 10_000, progress=False, cluster=Cluster(workers=1))
    two = evaluate(spec, 4, 10_000, progress=False, cluster=Cluster(workers=2))
    assert _outcomes(two) == _outcomes(one)
    assert [r["seed"] for r in two["per_episode"]] == [10_000, 10_001, 10_002, 10_003]
    assert two["successes"] == one["successes"] and two["ci95"] == one["ci95"]
    assert two["workers"] == 2 and one["workers"] == 1


def test_a_worker_killed_mid_episode_has_its_episode_redone(local_cluster, tmp_path):
    pids: list[int] = []
    killed: list[int] = []

    def kill_after_first(res) -> None:
        if not killed:  # the first episode is in: the other worker is in the middle of one
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    res = record("Reach", 5, tmp_path / "parallel", ["en", "ja"], seed=700, image_size=64,
                 cluster=Cluster(workers=2), on_workers=pids.extend, on_episode=kill_after_first)
    assert len(killed) == 2 and res.written == 5
    record("Reach", 5, tmp_path / "serial", ["en", "ja"], seed=700, image_size=64)
    _same_dataset(tmp_path / "serial", tmp_path / "parallel")
    assert not (tmp_path / "parallel" / ".pending").exists()


# episodes of the interrupted recording: enough that a loaded 2-core machine cannot finish them all
# between the third one landing and the SIGINT taking effect (8 was not, with a second Ray busy)
RECORD_EPISODES = 16


def _record_cmd(out: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "jafm_robot.cli.main", "record", "--task", "Reach", "--episodes", str(RECORD_EPISODES),
            "--out", str(out), "--lang", "en,ja", "--seed", "900", "--image-size", "64",
            "--workers", str(workers), "--json", str(out) + ".json"]


def test_an_interrupted_recording_keeps_its_episodes_and_a_rerun_appends_only_the_missing(tmp_path):
    out = tmp_path / "rec"
    env = {**os.environ, "RAY_ADDRESS": ""}
    # SIGINT at its default in the child: a test run before this one may leave pytest ignoring it
    # (an ignored signal is inherited, and Python then never raises KeyboardInterrupt)
    proc = subprocess.Popen(_record_cmd(out, 2), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    info = out / "meta" / "info.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:  # Ctrl-C once some episodes are in
        if info.is_file() and json.loads(info.read_text())["total_episodes"] >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    kept = LeRobotV3Dataset(out)
    seeds = [e["seed"] for e in kept.episodes]
    assert 3 <= len(seeds) < RECORD_EPISODES and seeds == list(range(900, 900 + len(seeds)))  # a seed-order prefix
    pending = sorted(int(p.stem.split("-")[1]) for p in (out / ".pending").glob("episode-*.bin"))
    assert all(s > seeds[-1] for s in pending)  # finished ahead of their turn, kept for the next run

    again = subprocess.run(_record_cmd(out, 2), env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    summary = json.loads(Path(str(out) + ".json").read_text())
    assert summary["written"] == RECORD_EPISODES - len(seeds) and summary["resumed"] == len(pending)
    record("Reach", RECORD_EPISODES, tmp_path / "serial", ["en", "ja"], seed=900, image_size=64)
    _same_dataset(tmp_path / "serial", out)
    assert not (out / ".pending").exists()


def test_expert_layouts_and_distill_collection_are_the_same_whatever_the_workers(local_cluster, tmp_path):
    """Every verb that rolls out episodes gives, on two workers, what it gives in one process."""
    from jafm_robot.configs import from_flat
    from jafm_robot.datasets.layouts import record_layouts
    from jafm_robot.distill.dagger import DistillConfig, DistillRun
    from jafm_robot.experts.evaluate import ExpertSpec, evaluate_expert

    spec = ExpertSpec("Reach", image_size=64)
    runs = [evaluate_expert(spec, 4, 300, ["en", "ja"], cluster=Cluster(workers=w), progress=False) for w in (1, 2)]
    assert runs[0]["workers"] == 1 and runs[1]["workers"] == 2
    keep = ("seed", "language", "instruction", "success", "steps")
    one, two = ([{k: e[k] for k in keep} for e in r["episodes_detail"]] for r in runs)
    assert one == two

    files = []
    for w in (1, 2):
        f = tmp_path / f"layouts_{w}.npz"
        record_layouts("PickPlace", 4, f, seed=10001, image_size=64, hover_fraction=0.5, cluster=Cluster(workers=w),
                       progress=False)
        files.append(np.load(f))
    for key in ("image", "wrist_image", "state", "instruction", "kp", "kp_valid", "aux", "aux_valid"):
        np.testing.assert_array_equal(files[0][key], files[1][key], err_msg=key)

    buffers = []
    for w in (1, 2):
        cfg = from_flat(DistillConfig, {"teacher": "expert", "out": str(tmp_path / f"distill_{w}"), "tasks": ["Reach"],
                                        "languages": ["en", "ja"], "episodes_per_iter": 3, "image_size": 64,
                                        "max_steps": 6, "workers": w, "progress": False})
        run = DistillRun(cfg)
        try:
            buffers.append(run.collect(0, 1.0))
        finally:
            run.close()
    rows = [[(e["seed"], e["task"], e["language"], e["instruction"], e["driver"]) for e in b.episodes] for b in buffers]
    assert rows[0] == rows[1] and [r[0] for r in rows[1]] == sorted(r[0] for r in rows[1])
    np.testing.assert_array_equal(buffers[0].data["state"], buffers[1].data["state"])
    np.testing.assert_array_equal(buffers[0].labels, buffers[1].labels)


def test_a_command_joins_a_running_ray_cluster_by_its_address(tmp_path):
    """The README's cluster recipe on one machine: `ray start --head`, then the same command with
    --ray-address HOST:PORT runs its episodes on that cluster (Ray's token authentication included)."""
    import socket

    from jafm_robot.experts.evaluate import ExpertSpec, evaluate_expert

    ray_cli = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_ADDRESS": ""}
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        address = None
        deadline = time.monotonic() + 120
        while address is None and time.monotonic() < deadline:  # the head prints where to join it
            line = head.stdout.readline()
            assert line, "ray start --head ended before it was up"
            if "ray start --address=" in line:
                address = line.split("--address=")[1].strip().strip("'\"")
        assert address is not None and address.endswith(f":{port}")
        out = tmp_path / "expert.json"
        run = subprocess.run([sys.executable, "-m", "jafm_robot.cli.main", "expert", "--task", "Reach", "--episodes", "4",
                              "--seed", "300", "--image-size", "64", "--workers", "2", "--ray-address", address,
                              "--json", str(out)], env={k: v for k, v in env.items() if k != "RAY_AUTH_MODE"},
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
    finally:
        head.send_signal(signal.SIGINT)  # --block: stops what it started, nothing else on the machine
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a loaded machine: never leave its raylet and GCS behind
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)
        # it leaves its address in /tmp/ray/ray_current_cluster; the verbs start their own local
        # instance (address="local") whatever that file says, but a user's bare ray.init() would not
        current = Path("/tmp/ray/ray_current_cluster")
        if address is not None and current.is_file() and current.read_text().strip() == address:
            current.unlink()
    got = json.loads(out.read_text())
    assert got["workers"] == 2 and got["ray_address"] == address
    here = evaluate_expert(ExpertSpec("Reach", image_size=64), 4, 300, ["en", "ja"], cluster=Cluster(workers=1),
                           progress=False)
    keep = ("seed", "language", "success", "steps")
    assert [{k: e[k] for k in keep} for e in got["episodes_detail"]] == \
        [{k: e[k] for k in keep} for e in here["episodes_detail"]]
