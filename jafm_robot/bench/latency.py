"""``jafm-robot bench latency``: batch-1 policy latency, ONNX Runtime (subject) vs torch eager (baseline).

Both run the same weights on the same observation in the same process, with the same thread count,
and the report gives p50/p99 of each and ``speedup_p50`` = torch / ORT. By default each subject's
calls run in one go, one subject after the other. ``--block N`` makes them take turns in blocks of N
calls instead; that spreads background load over both, but each turn then starts with the other
runtime's worker threads still spinning on the same cores (ORT's intra-op pool, torch's OpenMP
pool), which on 2 cores slowed torch eager from ~4.4 to ~8.3 ms p50: a ratio measured that way
flatters ONNX Runtime, so it is not the default.
The ORT side goes through the runtime's ``PolicyEngine.infer`` (what the control loop calls, input
checks included); the torch side is ``VLAPolicy.forward`` under ``inference_mode`` on tensors made
from the same NumPy observation, of the module the export traces: a network with affine norms
(``vision.norm``) is timed with them folded into its convs, as its ONNX file has them, and also as
trained (``torch_eager_cpu_unfolded``, for reference).

``--teacher`` times a distillation teacher in the same run (torch eager for a checkpoint or a size
name, ONNX Runtime for an ``.onnx`` file, each on an observation of its own shape) and reports
``teacher_over_student_p50`` (teacher p50 / the student's ONNX Runtime p50) and
``teacher_parameter_ratio``: the two latencies a distilled student is judged by, measured together.

``--teacher expert`` times the scripted experts that taught a behaviour-cloned student (privileged
simulator state + iterated IK): each call is one action of a real episode of each of the policy's
tasks, the env stepped between calls and not timed, and the report names it ``teacher_expert``.

``--policy`` takes a checkpoint (exported to a temporary ONNX file first), or an ONNX file, whose
torch twin is ``--checkpoint`` or, without it, rebuilt from the file's own weights; with neither,
``--config SIZE`` benches a freshly initialised network of that size (latency does not depend on
the weights' values).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HELP = "policy latency at batch 1: ONNX Runtime (CPU, optional CUDA/TensorRT) vs torch eager, p50/p99 + speedup"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default=None, help=".pt checkpoint, or .onnx (its torch twin: --checkpoint, else rebuilt from the file)")
    p.add_argument("--checkpoint", default=None, help="torch checkpoint matching an .onnx --policy (default: rebuilt from the .onnx file)")
    p.add_argument("--config", default="small", help="size to bench when no --policy is given")
    p.add_argument("--providers", default="cpu", help="comma list of cpu, cuda, tensorrt (unavailable ones are reported, not run)")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--block", type=int, default=0,
                   help="calls per turn to interleave the subjects (default 0: one after the other; see the module doc)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for both (default: physical cores)")
    p.add_argument("--teacher", default=None,
                   help="also time a teacher in the same run: .pt/.onnx, a size name (e.g. foundation, freshly "
                        "initialised: latency does not depend on the weights), or expert (the scripted experts of "
                        "the policy's tasks, one action per call); reports teacher_over_student_p50")
    p.add_argument("--json", default=None)
    p.add_argument("--card", action="store_true", help="store the result in the ONNX policy's model card")


def _pct(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()), "n": len(a)}


def _time(fns: dict[str, Any], iters: int, warmup: int, block: int) -> dict[str, list[float]]:
    """Per-call wall times of each subject: after ``warmup`` calls of each, ``iters`` timed calls
    of each, taken in turns of ``block`` calls (``block`` <= 0: each subject's calls in one go)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    step = block if block > 0 else iters
    while any(len(v) < iters for v in out.values()):
        for name, fn in fns.items():
            for _ in range(min(step, iters - len(out[name]))):
                t0 = time.perf_counter()
                fn()
                out[name].append(time.perf_counter() - t0)
    return out


class _ExpertTeacher:
    """The scripted expert on a live episode: ``_time_expert`` times each ``act`` and steps the env
    with ``advance`` outside the clock. Episodes go round the tasks, seeds from 10000 (the held-out
    range), so each task's phases (approach, grasp, carry, release) are timed."""

    def __init__(self, tasks: list[str], image_size: int) -> None:
        from jafm_robot.envs.make import make_env

        self.tasks = tasks or ["PickPlace"]
        self.envs = {t: make_env(t, image_size) for t in self.tasks}
        self.i, self.seed, self.env, self.expert, self.obs = -1, 10_000, None, None, None
        self._next_episode()

    def _next_episode(self) -> None:
        from jafm_robot.experts import make_expert

        self.i += 1
        self.env = self.envs[self.tasks[self.i % len(self.tasks)]]
        self.obs, _ = self.env.reset(seed=self.seed + self.i)
        self.expert = make_expert(self.env.unwrapped)
        self.expert.reset()

    def advance(self, action: np.ndarray) -> None:
        self.obs, _, term, trunc, _ = self.env.step(action)
        if term or trunc:
            self._next_episode()

    def close(self) -> None:
        for env in self.envs.values():
            env.close()


def _time_expert(teacher: _ExpertTeacher, iters: int, warmup: int) -> list[float]:
    """Per-call wall times of the expert's act(obs); the env steps between calls are not counted."""
    out: list[float] = []
    for k in range(warmup + iters):
        t0 = time.perf_counter()
        a = teacher.expert.act(teacher.obs)
        dt = time.perf_counter() - t0
        if k >= warmup:
            out.append(dt)
        teacher.advance(a)
    return out


def _teacher_subject(spec: str, n_threads: int) -> tuple[str, Any, dict[str, Any]]:
    """(result name, zero-argument call, facts) for the teacher of ``--teacher``, on an observation
    of its own shape (a teacher may see bigger images or more cameras than the student).

    A ``.pt`` checkpoint or a size name runs in torch eager, as the teacher does when it labels
    DAgger data; an ``.onnx`` file runs in ONNX Runtime on CPU."""

    from jafm_robot.policies.checkpoint import policy_from_checkpoint
    from jafm_robot.policies.export import example_inputs
    from jafm_robot.policies.vla.configuration_vla import SIZES, get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy
    from jafm_robot.runtime.engine import PolicyEngine

    if spec in SIZES:
        net = VLAPolicy(get_config(spec)).eval()
    elif spec.endswith((".pt", ".onnx")):
        net, _ = policy_from_checkpoint(spec)
        net.eval()
    else:
        raise ValueError(f"--teacher must be a .pt or .onnx file or one of the sizes {', '.join(SIZES)}, got {spec!r}")
    obs = {k: v[0] for k, v in example_inputs(net, batch=1).items()}
    facts = {"teacher": spec, "parameters": net.num_parameters(), "size": net.cfg.name, "cameras": list(net.cfg.cameras),
             "image_size": net.cfg.image_size}
    if spec.endswith(".onnx"):
        eng = PolicyEngine(spec, provider="cpu", intra_op_threads=n_threads)
        return "teacher_onnxruntime_cpu", lambda: eng.infer(obs), {**facts, "provider": eng.provider}

    return "teacher_torch_eager_cpu", lambda: _torch_forward(net, obs), facts


def _torch_forward(net: Any, obs: dict[str, np.ndarray]) -> np.ndarray:
    """One batch-1 torch eager call of a VLAPolicy on a NumPy observation (the baseline's path)."""
    import torch

    with torch.inference_mode():
        images = {c: torch.from_numpy(obs[c][None]) for c in net.cfg.cameras}
        return net(images, torch.from_numpy(obs["state"][None]), torch.from_numpy(obs["instruction"][None])).numpy()


def _grounded_subject(engine: Any, obs: dict[str, np.ndarray]) -> Any:
    """One call of a host's per-frame path: decode the instruction, find its grounding (parsed once,
    at the first call), feed the canonical text to the engine. The instruction is a real request for
    one of the policy's tasks, so the engine runs (a refusal would skip it)."""
    from types import SimpleNamespace

    from jafm_robot.contract import encode_instruction
    from jafm_robot.language import Goal, Part, canonical
    from jafm_robot.runtime.grounding import GroundedPolicy, InstructionGate

    meta = engine.metadata
    task = (meta.tasks or ["PickPlace"])[0]
    part, bin_ = (Part("red", "cube"), "blue") if task in ("PickPlace", "ConveyorPick") else (Part("red", "cube"), None)
    goal = Goal(task, part=None if task == "Sort" else part, bin=bin_,
                base=Part("blue", "block") if task == "Stack" else None)
    text = canonical(goal, meta.languages[0])
    loaded = SimpleNamespace(meta=meta, kind="onnx", chunk_len=engine.chunk_len, action_dt=engine.action_dt,
                             predict=engine.infer)
    grounded = GroundedPolicy(loaded, InstructionGate(meta.tasks or [task], meta.languages))
    said = {**obs, "instruction": encode_instruction(text)}
    return lambda: grounded.predict(said)


def bench(policy: str | None, checkpoint: str | None, config: str, providers: list[str], iters: int, warmup: int,
          threads: int | None, block: int = 0, teacher: str | None = None) -> dict[str, Any]:
    import onnxruntime as ort
    import torch

    from jafm_robot.policies.checkpoint import policy_from_checkpoint, save_checkpoint
    from jafm_robot.policies.export import example_inputs, export_onnx
    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy, fold_affine_norms
    from jafm_robot.runtime.engine import PolicyEngine, physical_cores
    from jafm_robot.training.trainer import policy_stats

    tmpdir = tempfile.TemporaryDirectory(prefix="jafm_latency_")
    try:
        if policy is None:
            model = VLAPolicy(get_config(config)).eval()
            ckpt_path = Path(tmpdir.name) / "random.pt"
            save_checkpoint(ckpt_path, {"step": 0, "model": model.state_dict(), "vla_config": model.cfg.to_dict(),
                                        "stats": policy_stats(model), "dataset": {}})
            onnx_path = Path(tmpdir.name) / "random.onnx"
            export_onnx(ckpt_path, onnx_path)
            verify = False
        elif policy.endswith(".pt"):
            ckpt_path = Path(policy)
            onnx_path = Path(tmpdir.name) / (Path(policy).stem + ".onnx")
            export_onnx(ckpt_path, onnx_path)
            verify = False
        elif policy.endswith(".onnx"):
            # without --checkpoint the torch twin is rebuilt from the file itself (policies.onnx_import)
            ckpt_path, onnx_path, verify = Path(checkpoint or policy), Path(policy), True
        else:
            raise ValueError(f"--policy must be .pt or .onnx, got {policy}")
        model, _ = policy_from_checkpoint(ckpt_path)
        n_threads = int(threads or physical_cores())
        torch.set_num_threads(n_threads)
        feeds = example_inputs(model, batch=1)
        obs = {k: v[0] for k, v in feeds.items()}
        results: dict[str, Any] = {}

        def torch_call(net: VLAPolicy) -> np.ndarray:
            return _torch_forward(net, obs)

        # the baseline is the module the export traces: affine norms folded into their convs, as in
        # the ONNX file; the network as trained (norm layers apart) is timed too, for reference
        folded = fold_affine_norms(model)

        available = ort.get_available_providers()
        skipped = {}
        want_map = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
        ref = torch_call(folded)[0]
        subjects: dict[str, Any] = {"torch_eager_cpu": lambda: torch_call(folded)}
        if folded is not model:
            subjects["torch_eager_cpu_unfolded"] = lambda: torch_call(model)
        extra: dict[str, dict[str, Any]] = {}
        for prov in providers:
            if prov not in want_map:
                raise ValueError(f"unknown provider {prov!r}; choose from cpu, cuda, tensorrt")
            if want_map[prov] not in available:
                skipped[prov] = f"{want_map[prov]} not available in this onnxruntime build ({', '.join(available)})"
                continue
            eng = PolicyEngine(onnx_path, provider=prov, verify=verify, intra_op_threads=n_threads)
            diff = float(np.max(np.abs(eng.infer(obs) - ref)))
            subjects[f"onnxruntime_{prov}"] = lambda e=eng: e.infer(obs)
            extra[f"onnxruntime_{prov}"] = {"provider": eng.provider, "max_abs_diff_vs_torch": diff}
            if prov == "cpu":  # every host's path: the instruction gate in front of the same engine
                subjects["onnxruntime_cpu_grounded"] = _grounded_subject(eng, obs)
                extra["onnxruntime_cpu_grounded"] = {"provider": eng.provider}
        teacher_name = None
        expert = None
        if teacher == "expert":
            tasks = PolicyEngine(onnx_path, verify=False).metadata.tasks if onnx_path else []
            expert = _ExpertTeacher(list(tasks), model.cfg.image_size)
            teacher_name = "teacher_expert"
            teacher_facts = {"teacher": "expert", "kind": "scripted (privileged simulator state + iterated IK)",
                             "parameters": 0, "tasks": expert.tasks}
        elif teacher:
            teacher_name, subjects[teacher_name], teacher_facts = _teacher_subject(teacher, n_threads)
        for name, samples in _time(subjects, iters, warmup, block).items():
            results[name] = {**_pct(samples), **extra.get(name, {})}
        if expert is not None:
            results[teacher_name] = _pct(_time_expert(expert, iters, warmup))
            expert.close()
        out = {
            "policy": policy or f"random {config}",
            "parameters": model.num_parameters(),
            "size": model.cfg.name,
            "vision_norm": model.cfg.vision.norm,
            "cameras": list(model.cfg.cameras),
            "image_size": model.cfg.image_size,
            "threads": n_threads,
            "batch": 1,
            "interleave_block": block,
            "results": results,
            "skipped": skipped,
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
        }
        if "onnxruntime_cpu" in results:
            out["speedup_p50"] = results["torch_eager_cpu"]["p50_ms"] / results["onnxruntime_cpu"]["p50_ms"]
            out["speedup_p99"] = results["torch_eager_cpu"]["p99_ms"] / results["onnxruntime_cpu"]["p99_ms"]
        if "onnxruntime_cpu_grounded" in results:
            out["grounding_overhead_p50"] = (results["onnxruntime_cpu_grounded"]["p50_ms"]
                                             / results["onnxruntime_cpu"]["p50_ms"])
        if teacher_name is not None:
            # issue 6's yardstick: the deployed student (ORT on CPU) against the teacher, one run
            out["teacher"] = teacher_facts
            if teacher_facts["parameters"]:
                out["teacher_parameter_ratio"] = teacher_facts["parameters"] / model.num_parameters()
            if "onnxruntime_cpu" in results:
                out["teacher_over_student_p50"] = results[teacher_name]["p50_ms"] / results["onnxruntime_cpu"]["p50_ms"]
        return out
    finally:
        tmpdir.cleanup()


def run(args: argparse.Namespace) -> int:
    from jafm_robot.reporting import write_json

    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    res = bench(args.policy, args.checkpoint, args.config, providers, args.iters, args.warmup, args.threads, args.block,
                args.teacher)
    for name, r in res["results"].items():
        print(f"{name:22s} p50 {r['p50_ms']:7.3f} ms  p99 {r['p99_ms']:7.3f} ms")
    for name, why in res["skipped"].items():
        print(f"{name:22s} skipped: {why}")
    if "speedup_p50" in res:
        print(f"speedup (torch eager / ORT CPU): p50 {res['speedup_p50']:.2f}x, p99 {res['speedup_p99']:.2f}x")
    if "grounding_overhead_p50" in res:
        print(f"instruction gate on the per-frame path: p50 x{res['grounding_overhead_p50']:.3f} of ORT CPU alone")
    if "teacher_over_student_p50" in res:
        size = (f"{res['teacher']['size']}, {res['teacher_parameter_ratio']:.1f}x the parameters"
                if "teacher_parameter_ratio" in res else res["teacher"].get("kind", res["teacher"]["teacher"]))
        print(f"teacher ({size}) / student on ORT CPU: p50 {res['teacher_over_student_p50']:.1f}x")
    write_json(args.json, res)
    if args.card and args.policy and args.policy.endswith(".onnx"):
        from jafm_robot.policies.export import update_card

        keys = ("results", "speedup_p50", "threads", "teacher", "teacher_parameter_ratio", "teacher_over_student_p50",
                "grounding_overhead_p50")
        update_card(args.policy, "latency", {k: res[k] for k in keys if k in res})
    return 0
