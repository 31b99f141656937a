"""``jafm-robot bench latency``: both backends measured in one run, ratio reported (no timing asserts)."""

from __future__ import annotations

import json

from jafm_robot.cli.main import main


def _bench_json(tmp_path, *args: str) -> dict:
    """Run ``jafm-robot bench latency ARGS --json F``, check it exits 0, return what it wrote."""
    out = tmp_path / "lat.json"
    assert main(["bench", "latency", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_bench_latency_reports_both_backends(tmp_path, trained_run):
    run, _ = trained_run
    res = _bench_json(tmp_path, "--policy", str(run / "checkpoints/last.pt"), "--iters", "5", "--warmup", "1",
                      "--providers", "cpu,cuda", "--threads", "1")
    torch_r, ort_r = res["results"]["torch_eager_cpu"], res["results"]["onnxruntime_cpu"]
    for r in (torch_r, ort_r):
        assert r["n"] == 5 and 0 < r["p50_ms"] <= r["p99_ms"]
    assert ort_r["max_abs_diff_vs_torch"] <= 1e-4
    assert res["speedup_p50"] == torch_r["p50_ms"] / ort_r["p50_ms"]
    assert res["batch"] == 1 and res["threads"] == 1
    # the hosts' per-frame path (instruction gate + the same engine) is timed in the same run
    grounded = res["results"]["onnxruntime_cpu_grounded"]
    assert grounded["n"] == 5 and res["grounding_overhead_p50"] == grounded["p50_ms"] / ort_r["p50_ms"]
    # no GPU here: the CUDA request is reported, not silently dropped (and run where present)
    assert "cuda" in res["skipped"] or "onnxruntime_cuda" in res["results"]


def test_bench_latency_times_a_teacher_in_the_same_run(tmp_path, trained_run):
    """The student is judged against its teacher: both latencies come from one run, the teacher on
    an observation of its own shape (here a bigger, freshly initialised size with both cameras)."""
    run, _ = trained_run
    res = _bench_json(tmp_path, "--policy", str(run / "checkpoints/last.pt"), "--teacher", "small", "--iters", "4",
                      "--warmup", "1", "--threads", "1")
    teacher, student = res["results"]["teacher_torch_eager_cpu"], res["results"]["onnxruntime_cpu"]
    assert teacher["n"] == 4 and 0 < teacher["p50_ms"] <= teacher["p99_ms"]
    assert res["teacher_over_student_p50"] == teacher["p50_ms"] / student["p50_ms"]
    assert res["teacher"]["size"] == "small" and res["teacher_parameter_ratio"] == res["teacher"]["parameters"] / res["parameters"]
    assert res["teacher_parameter_ratio"] > 1

    onnx_teacher = tmp_path / "teacher.onnx"  # an exported teacher runs in ONNX Runtime
    assert main(["export", "--checkpoint", str(run / "checkpoints/last.pt"), "--out", str(onnx_teacher)]) == 0
    res = _bench_json(tmp_path, "--policy", str(run / "checkpoints/last.pt"), "--teacher", str(onnx_teacher),
                      "--iters", "3", "--warmup", "1", "--threads", "1")
    assert res["results"]["teacher_onnxruntime_cpu"]["n"] == 3 and res["teacher_parameter_ratio"] == 1.0
    assert main(["bench", "latency", "--config", "tiny", "--teacher", "no-such-size", "--iters", "2", "--warmup", "0"]) == 2


def test_bench_latency_rejects_bad_input(tmp_path):
    assert main(["bench", "latency", "--policy", str(tmp_path / "x.onnx")]) == 2  # .onnx without its checkpoint
    assert main(["bench", "latency", "--config", "tiny", "--providers", "tpu", "--iters", "2", "--warmup", "0"]) == 2
