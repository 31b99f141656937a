"""``jafm-robot bench gpu`` and the engine's provider handling, on whatever machine runs the tests.

No GPU has been available to this project, so the GPU paths are checked for honesty here: every
mode is present, reports exactly the providers its session runs (``session.get_providers()``), and
a provider that is not there is named with the fallback taken. ``onnxruntime-gpu`` on a machine
without a GPU (CUDA listed as available, but its library cannot load) is simulated by an
``InferenceSession`` that drops the GPU providers, as onnxruntime's own wrapper does. Timings are
never asserted. ``scripts/gpu_check.sh`` itself runs in the slow test at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from jafm_robot.bench import gpu
from jafm_robot.paths import shipped_policy
from jafm_robot.runtime import engine as engine_mod
from jafm_robot.runtime.engine import PolicyEngine, ProviderError
from jafm_robot.runtime.testing import make_dummy_policy

ROOT = Path(__file__).resolve().parents[2]
GPU_EPS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


@pytest.fixture(scope="module")
def policy() -> Path:
    path = shipped_policy()
    assert path is not None, "no shipped policy under models/"
    return path


@pytest.fixture()
def recorded(monkeypatch):
    """Every PolicyEngine the bench builds, to compare its report with the session itself."""
    engines: list[PolicyEngine] = []

    class Recording(PolicyEngine):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            engines.append(self)

    monkeypatch.setattr(engine_mod, "PolicyEngine", Recording)
    return engines


def _args(**kw) -> argparse.Namespace:
    base = {"policy": None, "modes": ",".join(gpu.MODE_NAMES), "iters": 3, "warmup": 1, "threads": 1,
            "train_sizes": "", "train_batch": None, "train_seconds": 0.05, "train_device": "cpu", "json": None}
    base.update(kw)
    return argparse.Namespace(**base)


def _check_row(row: dict, available: list[str]) -> None:
    """What every inference row must say, whatever the machine."""
    want = row["requested"]
    assert row["providers"] and row["provider"] == row["providers"][0]
    if row["provider"] == want:
        assert row["status"] in ("ok", "degraded")
        assert row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"] and row["n"] >= 1
    else:
        assert row["status"] == "fallback" and row["p50_ms"] is None
        assert row["note"].startswith(f"{want}: ") and row["note"].endswith(f"-> {row['provider']}")
        if want not in available:
            assert "unavailable (onnxruntime has no" in row["note"]
        else:
            assert "failed to load" in row["note"]
    assert row["max_abs_diff_vs_cpu"] >= 0.0


def test_bench_reports_the_providers_each_session_runs(policy, recorded, tmp_path, capsys):
    import onnxruntime as ort

    args = _args(json=str(tmp_path / "gpu.json"))
    assert gpu.run(args) == 0
    report = json.loads((tmp_path / "gpu.json").read_text())
    rows = report["inference"]
    assert [r["mode"] for r in rows] == list(gpu.MODE_NAMES)
    # the first engine is the CPU reference, then one per mode, in order
    assert len(recorded) == 1 + len(rows)
    for row, eng in zip(rows, recorded[1:], strict=True):
        assert row["providers"] == list(eng.session.get_providers())
        assert row["requested"] == gpu.EP[gpu.MODES[gpu.MODE_NAMES.index(row["mode"])].provider]
        _check_row(row, ort.get_available_providers())
    cpu = rows[0]
    assert cpu["status"] == "ok" and cpu["providers"] == ["CPUExecutionProvider"] and cpu["max_abs_diff_vs_cpu"] == 0.0
    assert report["onnxruntime"]["available_providers"] == ort.get_available_providers()
    out = capsys.readouterr().out
    for name in gpu.MODE_NAMES:
        assert f"| {name} |" in out


def test_training_probe_runs_the_learner(monkeypatch):
    row = gpu.train_probe("tiny", 2, 0.05, "cpu")
    assert row["device"] == "cpu" and row["batch"] == 2 and row["steps"] >= 2
    assert row["steps_per_s"] > 0 and row["samples_per_s"] == pytest.approx(row["steps_per_s"] * 2)
    assert row["parameters"] > 0 and np.isfinite(row["last_loss"])


@pytest.fixture()
def gpu_build_without_gpu(monkeypatch):
    """onnxruntime-gpu on a CPU machine: CUDA and TensorRT listed, but no session gets them (as
    onnxruntime does when libcuda/libcudnn cannot be loaded: it warns and leaves them out)."""
    import onnxruntime as ort

    real = ort.InferenceSession

    def session(path, sess_options=None, providers=None, **kw):
        names = [p[0] if isinstance(p, tuple) else p for p in providers or []]
        # native code logs to fd 2, not through Python
        os.write(2, (f"[E:onnxruntime:Default, provider_bridge_ort.cc:1] Failed to load library "
                     f"libonnxruntime_providers_cuda.so with error: libcuda.so.1: cannot open shared object file "
                     f"({', '.join(names)})\n").encode())
        return real(path, sess_options=sess_options, providers=["CPUExecutionProvider"], **kw)

    monkeypatch.setattr(ort, "get_available_providers", lambda: [*GPU_EPS, "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", session)


def test_engine_gpu_build_without_gpu_falls_back_honestly(tmp_path, gpu_build_without_gpu):
    model = make_dummy_policy(tmp_path / "m.onnx", kind="hold")
    with pytest.raises(ProviderError, match="CPUExecutionProvider"):
        PolicyEngine(model, provider="cuda")
    eng = PolicyEngine(model, provider="cuda", allow_fallback=True)
    assert eng.providers == ["CPUExecutionProvider"] and eng.fell_back and not eng.cuda_graph and not eng.io_binding
    # CUDA with graphs came back without CUDA, so the plain CUDA variant was tried before the CPU
    assert eng.load_errors == ["cuda: the session came back on CPUExecutionProvider"]


def test_bench_names_a_provider_that_failed_to_load(policy, gpu_build_without_gpu):
    mode = gpu.MODES[gpu.MODE_NAMES.index("cuda_graph")]
    obs = gpu.observation(128, ("image", "wrist_image"))
    row = gpu.run_mode(policy, mode, obs, None, iters=2, warmup=0, threads=1)
    assert row["status"] == "fallback" and row["providers"] == ["CPUExecutionProvider"]
    assert row["note"] == ("CUDAExecutionProvider: failed to load (libcuda.so.1: cannot open shared object file "
                           "(CUDAExecutionProvider, CPUExecutionProvider)) -> CPUExecutionProvider")


def test_cuda_graph_needs_io_binding(tmp_path):
    model = make_dummy_policy(tmp_path / "m.onnx", kind="hold")
    with pytest.raises(ValueError, match="io_binding"):
        PolicyEngine(model, provider="cpu", io_binding=False, cuda_graph=True)
    eng = PolicyEngine(model, provider="cpu", io_binding=True, cuda_graph=False)
    assert eng.providers == ["CPUExecutionProvider"] and eng.io_binding and not eng.cuda_graph and not eng.fp16


@pytest.mark.slow
def test_gpu_check_script_the_cpu_way(tmp_path):
    """The script as a GPU machine runs it, minus set-up (the .venv exists) and with short
    measurements; here every GPU mode must come back as not available, with its fallback."""
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "GPU_CHECK_SKIP_SETUP": "1", "GPU_CHECK_CPU": "1",
           "GPU_CHECK_ARGS": "--iters 100 --warmup 10 --train-seconds 0.5"}
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=540)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    available = report["onnxruntime"]["available_providers"]
    rows = {r["mode"]: r for r in report["inference"]}
    assert list(rows) == list(gpu.MODE_NAMES)
    assert rows["cpu"]["status"] == "ok" and rows["cpu"]["p50_ms"] > 0
    for name in gpu.MODE_NAMES[1:]:
        _check_row(rows[name], available)
        if rows[name]["requested"] not in available:  # the CPU build: every GPU mode fell back
            assert rows[name]["status"] == "fallback" and rows[name]["providers"] == ["CPUExecutionProvider"]
    sizes = {t["size"]: t for t in report["training"]}
    assert set(sizes) == {"student", "foundation"}
    for t in sizes.values():
        assert t["status"] == "ok" and t["steps_per_s"] > 0 and t["samples_per_s"] > 0 and t["parameters"] > 0
    assert sizes["foundation"]["parameters"] > sizes["student"]["parameters"]
    assert "| cuda_graph |" in proc.stdout and "| training size |" in proc.stdout
