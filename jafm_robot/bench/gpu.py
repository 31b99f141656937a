"""``jafm-robot bench gpu``: is this machine's GPU ready for the policy engine and for training?

GPU time comes in minutes on a fresh machine, so one run answers everything at once, and answers it
honestly on a machine without a GPU too (``scripts/gpu_check.sh`` sets up and calls this):

* **Inference**: the shipped student (the newest policy under ``models/``) through the runtime's
  :class:`~jafm_robot.runtime.engine.PolicyEngine`, batch 1, in five modes: ``cpu``, ``cuda``
  (plain ``session.run``, host copies every call), ``cuda_iobinding`` (inputs/output bound to
  preallocated device buffers), ``cuda_graph`` (IO binding + CUDA graph replay) and ``tensorrt``
  (fp16 allowed, IO binding). Each reports p50/p99 of ``engine.infer`` and **the providers the
  session really runs** (``session.get_providers()``; ``get_available_providers()`` lists CUDA
  wherever onnxruntime-gpu is installed, even where it cannot load). A mode whose provider did not
  load says why and which provider the session fell back to, and is not timed (its figure would be
  the ``cpu`` row again). Each mode's actions are compared with the CPU's on the same observation
  (``max_abs_diff_vs_cpu``): fp16 TensorRT is fast only if it is also still the same policy.
* **Training throughput**: optimiser steps per second of the real :class:`~jafm_robot.training.learner.Learner`
  (AdamW, clipping, schedule) on synthetic batches of the right shapes, for the student size and
  a teacher size (``foundation`` by default), on CUDA when torch sees a GPU, else on the CPU. Each
  probe runs in a child process: torch and onnxruntime-gpu may each bring their own CUDA/cuDNN
  libraries, and two builds of ``libcudnn.so.9`` in one process is the kind of failure that eats
  GPU minutes.

The JSON (``--json``) holds everything, including what onnxruntime logged while a provider failed
to load (``load_log``); a short Markdown table is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HELP = ("GPU readiness: the shipped student on CPU, CUDA, CUDA+IO binding, CUDA graphs and TensorRT (the provider "
        "each really ran on), plus training steps/s for the student and a teacher size")

EP = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


@dataclass(frozen=True)
class Mode:
    """One way of running the engine: a provider plus the two GPU-side switches."""

    name: str
    provider: str
    io_binding: bool
    cuda_graph: bool
    about: str


MODES = (
    Mode("cpu", "cpu", False, False, "CPU, intra-op threads = physical cores (the shipped configuration)"),
    Mode("cuda", "cuda", False, False, "CUDA, plain session.run: host<->device copies every call"),
    Mode("cuda_iobinding", "cuda", True, False, "CUDA, inputs/output bound to preallocated device buffers"),
    Mode("cuda_graph", "cuda", True, True, "CUDA, IO binding + CUDA graph replay (the engine's GPU default)"),
    Mode("tensorrt", "tensorrt", True, False, "TensorRT, fp16 allowed, engine cache beside the model, IO binding"),
)
MODE_NAMES = tuple(m.name for m in MODES)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default=None, help="ONNX policy (default: the newest shipped one under models/)")
    p.add_argument("--modes", default=",".join(MODE_NAMES), help=f"comma list of {', '.join(MODE_NAMES)}")
    p.add_argument("--iters", type=int, default=1000, help="timed infer calls per mode")
    p.add_argument("--warmup", type=int, default=50, help="untimed infer calls per mode first")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: physical cores)")
    p.add_argument("--train-sizes", default="student,foundation",
                   help="VLA sizes for the training probe (comma list; '' = no probe); student = the shipped "
                        "size, foundation = the distillation teacher")
    p.add_argument("--train-batch", type=int, default=None,
                   help="batch per optimiser step (default: 64 on CUDA as train's default, 8 on the CPU so a "
                        "teacher step takes seconds, not minutes; compare samples_per_s across devices)")
    p.add_argument("--train-seconds", type=float, default=3.0, help="timed seconds per training probe")
    p.add_argument("--train-device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", default=None, help="write the full report here")


# ------------------------------------------------------------------------------------------ helpers
@contextlib.contextmanager
def captured_fds() -> Iterator[list[str]]:
    """Collect what native code writes to fds 1 and 2 (onnxruntime logs a provider that fails to
    load there, not through Python), and hand it back as lines; the caller decides what to keep."""
    lines: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield lines
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            lines.extend(x for x in tmp.read().decode("utf-8", "replace").splitlines() if x.strip())


def ort_facts() -> dict[str, Any]:
    """Which onnxruntime this is: version, the distribution that installed it (``onnxruntime`` or
    ``onnxruntime-gpu``: both install the same module), and the providers its build lists."""
    import importlib.metadata as md

    import onnxruntime as ort

    dists = []
    for name in ("onnxruntime", "onnxruntime-gpu"):
        with contextlib.suppress(md.PackageNotFoundError):
            dists.append(f"{name}=={md.version(name)}")
    facts: dict[str, Any] = {"version": ort.__version__, "distributions": dists,
                             "available_providers": ort.get_available_providers()}
    if len(dists) > 1:
        facts["warning"] = ("both onnxruntime and onnxruntime-gpu are installed: they overwrite each other's module; "
                            "uninstall both, then install one (scripts/gpu_check.sh does)")
    return facts


def preload_gpu_libraries() -> list[str]:
    """Load CUDA/cuDNN (``onnxruntime.preload_dlls``, onnxruntime-gpu >= 1.21) and TensorRT (the
    ``tensorrt_libs`` wheel) from pip's ``nvidia-*``/``tensorrt-*`` packages before any session, so
    that no ``LD_LIBRARY_PATH`` is needed (it is fixed at process start and would also leak into
    the torch probe). Returns what was done; does nothing where onnxruntime has no CUDA build."""
    import ctypes
    import importlib.util

    import onnxruntime as ort

    done: list[str] = []
    if EP["cuda"] not in ort.get_available_providers():
        return done
    if hasattr(ort, "preload_dlls"):
        try:
            with captured_fds() as log:
                ort.preload_dlls()
            done.append("onnxruntime.preload_dlls()")
            done.extend(log[-5:])
        except Exception as e:  # a missing library is reported by the session that needs it
            done.append(f"onnxruntime.preload_dlls() failed: {e}")
    spec = importlib.util.find_spec("tensorrt_libs")
    if spec is not None and spec.submodule_search_locations:
        libdir = Path(next(iter(spec.submodule_search_locations)))
        for lib in sorted(libdir.glob("lib*.so*")):
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                done.append(f"loaded {lib.name}")
            except OSError as e:
                done.append(f"could not load {lib.name}: {e}")
    return done


def machine_facts() -> dict[str, Any]:
    """CPU model and cores, and the GPU as ``nvidia-smi`` names it (None without one)."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = None
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            gpu = out.stdout.strip() or out.stderr.strip() or None
        except (OSError, subprocess.SubprocessError) as e:
            gpu = f"nvidia-smi failed: {e}"
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "gpu": gpu, "python": platform.python_version(),
            "platform": platform.platform()}


def observation(image_size: int, cameras: tuple[str, ...], seed: int = 0) -> dict[str, Any]:
    """A fixed, valid observation (random pixels: latency does not depend on them; the CPU/GPU
    comparison only needs the same input everywhere)."""
    rng = np.random.default_rng(seed)
    obs: dict[str, Any] = {c: rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8) for c in cameras}
    obs["state"] = np.array([0.1, -0.7, 0.05, -2.3, 0.0, 1.6, 0.8, 0.04], np.float32)
    obs["instruction"] = "pick up the red cube and place it in the blue bin"
    return obs


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ORT_PREFIX = re.compile(r"^\S+ \S+ \[[EWI]:onnxruntime:[^\]]*\] ")  # "<date> <time> [W:onnxruntime:Default, file:line fn] "


def _relevant(lines: list[str], limit: int = 12) -> list[str]:
    """The lines of an onnxruntime load log worth keeping (errors, library names), without colour
    codes and timestamps, trimmed."""
    keys = ("error", "fail", "cannot", ".so", "cuda", "cudnn", "tensorrt", "nvinfer", "falling back")
    clean = [_ORT_PREFIX.sub("", _ANSI.sub("", x)).strip() for x in lines]
    return [x[:600] for x in clean if any(k in x.lower() for k in keys)][-limit:]


def load_reason(lines: list[str]) -> str | None:
    """Why a provider did not load, in a few words: the library the loader could not open where
    onnxruntime says so (``... with error: libcublasLt.so.13: cannot open shared object file``)."""
    clean = _relevant(lines, 100)
    for x in clean:
        m = re.search(r"with error: (.+)", x)
        if m:
            return m.group(1).strip()[:200]
    for x in clean:
        if "install tensorrt" in x.lower():
            return "TensorRT libraries (libnvinfer) not found"
    return clean[0][:200] if clean else None


def _fallback_note(mode: Mode, providers: list[str], available: list[str], log: list[str]) -> str | None:
    """One line saying which requested provider is not in the session and what it runs instead."""
    want = EP[mode.provider]
    used = providers[0]
    if used == want:
        return None  # whether CUDA graphs are on is judged by the caller, which has the engine
    if want not in available:
        build = "CUDA" if mode.provider == "cuda" else "TensorRT"
        why = f"unavailable (onnxruntime has no {build} build here)"
    else:
        why = f"failed to load ({load_reason(log) or 'driver, CUDA or cuDNN libraries missing?'})"
    return f"{want}: {why} -> {used}"


# ---------------------------------------------------------------------------------------- inference
def run_mode(path: Path, mode: Mode, obs: dict[str, Any], reference: np.ndarray | None, iters: int, warmup: int,
             threads: int | None) -> dict[str, Any]:
    """Load ``path`` the way ``mode`` says (fallback allowed: the point is to see where it lands),
    read back what the session runs, and time ``infer`` if it runs where it was asked to."""
    import onnxruntime as ort

    from jafm_robot.runtime.engine import PolicyEngine

    available = ort.get_available_providers()
    row: dict[str, Any] = {"mode": mode.name, "about": mode.about, "requested": EP[mode.provider],
                           "requested_io_binding": mode.io_binding, "requested_cuda_graph": mode.cuda_graph,
                           "requested_available": EP[mode.provider] in available}
    t0 = time.perf_counter()
    try:
        with captured_fds() as log:
            engine = PolicyEngine(path, provider=mode.provider, allow_fallback=True, intra_op_threads=threads,
                                  io_binding=mode.io_binding, cuda_graph=mode.cuda_graph if mode.io_binding else False)
    except Exception as e:  # reported, not raised: the other modes still get measured
        row.update(status="error", error=f"{type(e).__name__}: {e}", load_log=_relevant(log))
        return row
    row["load_s"] = round(time.perf_counter() - t0, 3)
    providers = list(engine.session.get_providers())
    row.update(providers=providers, provider=providers[0], io_binding=engine.io_binding,
               cuda_graph=engine.cuda_graph, fp16=engine.fp16, intra_op_threads=engine.intra_op_threads,
               load_errors=engine.load_errors, load_log=_relevant(log))
    note = _fallback_note(mode, providers, available, log)
    if note is None and mode.cuda_graph and not engine.cuda_graph:
        note = "CUDA graphs: the session did not enable them -> plain CUDA with IO binding"
    row["status"] = "ok" if note is None else ("degraded" if providers[0] == EP[mode.provider] else "fallback")
    row["note"] = note
    try:
        _time_mode(engine, row, obs, reference, iters, warmup)
    except Exception as e:  # a graph that loads but fails on the GPU (e.g. CUDA graph capture) is a row too
        row.update(status="error", error=f"{type(e).__name__}: {str(e).strip()[:500]}")
    return row


def _time_mode(engine: Any, row: dict[str, Any], obs: dict[str, Any], reference: np.ndarray | None, iters: int,
               warmup: int) -> None:
    """Compare with the CPU reference, then (unless the mode fell back) time ``engine.infer``
    (what the control loop calls: input checks and copies included) into ``row``."""
    out = engine.infer(obs)
    row["actions_shape"] = list(out.shape)
    if reference is not None:
        row["max_abs_diff_vs_cpu"] = float(np.max(np.abs(out - reference)))
    if row["status"] == "fallback":
        row.update(p50_ms=None, p99_ms=None, n=0)
        return
    for _ in range(max(0, warmup)):
        engine.infer(obs)
    engine._latency.clear()  # the engine's own window (session run only): warm-up left out
    times = np.empty(max(1, iters))
    for i in range(times.size):
        t = time.perf_counter()
        engine.infer(obs)
        times[i] = time.perf_counter() - t
    ms = times * 1e3
    run = engine.latency_stats()
    row.update(n=int(ms.size), p50_ms=float(np.percentile(ms, 50)), p99_ms=float(np.percentile(ms, 99)),
               mean_ms=float(ms.mean()), max_ms=float(ms.max()),
               session_run_p50_ms=run["p50_ms"], session_run_p99_ms=run["p99_ms"])


# ----------------------------------------------------------------------------------- training probe
def train_probe(size: str, batch: int | None, seconds: float, device_spec: str) -> dict[str, Any]:
    """Optimiser steps per second of :class:`Learner` on one synthetic batch of ``size``'s shapes.

    The batch is made once and reused: this measures the GPU/CPU step (forward, L1 chunk loss,
    backward, clipping, AdamW), not the data loader. ``Learner.update`` reads the loss back
    (``.item()``), so every step is complete when it is counted, on CUDA too.
    """
    import torch

    from jafm_robot.contract import ACTION_DIM, STATE_DIM
    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy
    from jafm_robot.training.learner import Learner, cpu_threads, pick_device

    device = pick_device(device_spec)
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads(1))  # what `train` uses by default
    batch = int(batch or (64 if device.type == "cuda" else 8))
    cfg = get_config(size)
    torch.manual_seed(0)
    policy = VLAPolicy(cfg).to(device).train()
    learner = Learner(policy, lr=3e-4, weight_decay=1e-4, grad_clip=1.0, schedule=lambda s: 1.0)
    g = torch.Generator().manual_seed(0)
    s = cfg.image_size
    images = {c: torch.randint(0, 256, (batch, s, s, 3), dtype=torch.uint8, generator=g).to(device)
              for c in cfg.cameras}
    state = torch.randn(batch, STATE_DIM, generator=g).to(device)
    instruction = torch.randint(1, 128, (batch, cfg.instruction_len), dtype=torch.uint8, generator=g).to(device)
    actions = torch.randn(batch, cfg.chunk_len, ACTION_DIM, generator=g).to(device)

    def step() -> float:
        pred = policy.predict_normalized(images, state, instruction)
        return learner.update((pred - policy.normalize_actions(actions, state)).abs().mean())

    t0 = time.perf_counter()
    for _ in range(2):  # first steps: allocator, cuDNN algorithm choice
        step()
    warm_s = time.perf_counter() - t0
    n, t0 = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - t0 < seconds:
        loss = step()
        n += 1
    dt = time.perf_counter() - t0
    out = {"size": size, "parameters": policy.num_parameters(), "device": str(device), "batch": batch,
           "steps": n, "seconds": round(dt, 3), "steps_per_s": n / dt, "samples_per_s": n * batch / dt,
           "step_ms": 1e3 * dt / n, "warmup_s": round(warm_s, 3), "last_loss": loss, "torch": torch.__version__,
           "torch_cuda": torch.version.cuda, "threads": torch.get_num_threads() if device.type == "cpu" else None}
    if device.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(device)
        out["peak_memory_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def _probe_in_child(size: str, batch: int | None, seconds: float, device: str) -> dict[str, Any]:
    """:func:`train_probe` in a fresh interpreter (see the module doc); a failure is a row, not a crash."""
    cmd = [sys.executable, "-m", "jafm_robot.bench.gpu", json.dumps({"size": size, "batch": batch,
                                                                     "seconds": seconds, "device": device})]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240 + 20 * seconds)
    except subprocess.TimeoutExpired:
        return {"size": size, "status": "error", "error": "timed out"}
    last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if proc.returncode == 0 and last:
        with contextlib.suppress(ValueError):
            return {"status": "ok", **json.loads(last[0])}
    return {"size": size, "status": "error", "error": f"exit {proc.returncode}", "stderr": proc.stderr[-2000:]}


# -------------------------------------------------------------------------------------------- report
def _fmt(v: Any, spec: str = ".3f") -> str:
    return "–" if v is None else format(v, spec)


def markdown(report: dict[str, Any]) -> str:
    """The short table printed at the end (everything else is in the JSON)."""
    lines = [f"machine: {report['machine']['cpu']} ({report['machine']['cpu_count']} CPUs), "
             f"GPU: {report['machine']['gpu'] or 'none'}; onnxruntime {report['onnxruntime']['version']} "
             f"({', '.join(report['onnxruntime']['distributions']) or '?'})", "",
             "| mode | session providers | status | p50 ms | p99 ms | max abs diff vs cpu | note |",
             "|---|---|---|---|---|---|---|"]
    for r in report["inference"]:
        provs = ", ".join(p.replace("ExecutionProvider", "") for p in r.get("providers", [])) or "–"
        diff = r.get("max_abs_diff_vs_cpu")
        lines.append(f"| {r['mode']} | {provs} | {r['status']} | {_fmt(r.get('p50_ms'))} | {_fmt(r.get('p99_ms'))} "
                     f"| {_fmt(diff, '.2e')} | {r.get('note') or r.get('error') or ''} |")
    if report["training"]:
        lines += ["", "| training size | parameters | device | batch | steps/s | samples/s |", "|---|---|---|---|---|---|"]
        for t in report["training"]:
            if t.get("status") != "ok":
                lines.append(f"| {t['size']} | – | – | – | – | {t.get('error', '')} |")
                continue
            dev = t.get("device_name") or f"{t['device']} ({t.get('threads')} thread(s))"
            lines.append(f"| {t['size']} | {t['parameters']:,} | {dev} | {t['batch']} | {t['steps_per_s']:.2f} "
                         f"| {t['samples_per_s']:.1f} |")
    return "\n".join(lines)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The whole report as a dict (what ``run`` prints and writes)."""
    from jafm_robot.paths import shipped_policy
    from jafm_robot.runtime.engine import PolicyEngine

    path = Path(args.policy) if args.policy else shipped_policy()
    if path is None:
        raise SystemExit("no policy: pass --policy (no shipped model under models/)")
    wanted = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in MODE_NAMES]
    if unknown:
        raise SystemExit(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODE_NAMES)}")
    t_start = time.perf_counter()
    preload = preload_gpu_libraries()  # before the first session: see its docstring
    report: dict[str, Any] = {"policy": str(path), "machine": machine_facts(), "onnxruntime": ort_facts(),
                              "preload": preload, "iters": args.iters, "warmup": args.warmup,
                              "inference": [], "training": []}
    # the reference every mode is compared with: the CPU engine's actions on one fixed observation
    ref = PolicyEngine(path, provider="cpu", intra_op_threads=args.threads, warmup=1)
    obs = observation(ref.image_size, ref.cameras)
    reference = ref.infer(obs)
    del ref
    for mode in MODES:
        if mode.name in wanted:
            row = run_mode(path, mode, obs, reference, args.iters, args.warmup, args.threads)
            report["inference"].append(row)
            print(f"  {mode.name}: {row['status']} {row.get('note') or row.get('error') or ''}", file=sys.stderr,
                  flush=True)
    for size in [s.strip() for s in args.train_sizes.split(",") if s.strip()]:
        report["training"].append(_probe_in_child(size, args.train_batch, args.train_seconds, args.train_device))
        print(f"  train {size}: {report['training'][-1].get('status')}", file=sys.stderr, flush=True)
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    return report


def run(args: argparse.Namespace) -> int:
    report = measure(args)
    if args.json:
        from jafm_robot.reporting import write_json

        write_json(args.json, report)
    print(markdown(report))
    return 0


def _probe_main(argv: list[str]) -> None:
    """Child-process entry of the training probe: one JSON line on stdout."""
    spec = json.loads(argv[0])
    print(json.dumps(train_probe(spec["size"], spec["batch"], float(spec["seconds"]), spec["device"]), default=str))


if __name__ == "__main__":
    _probe_main(sys.argv[1:])

