"""``jafm-robot bench latency``: both backends measured in one run, ratio reported (no timing asserts)."""

from __future__ import annotations

import json

from jafm_robot.cli.main import main


def test_bench_latency_reports_both_backends(tmp_path, trained_run):
    out = tmp_path / "lat.json"
    run, _ = trained_run
    assert main(["bench", "latency", "--policy", str(run / "checkpoints/last.pt"), "--iters", "5", "--warmup", "1",
                 "--providers", "cpu,cuda", "--threads", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    torch_r, ort_r = res["results"]["torch_eager_cpu"], res["results"]["onnxruntime_cpu"]
    for r in (torch_r, ort_r):
        assert r["n"] == 5 and 0 < r["p50_ms"] <= r["p99_ms"]
    assert ort_r["max_abs_diff_vs_torch"] <= 1e-4
    assert res["speedup_p50"] == torch_r["p50_ms"] / ort_r["p50_ms"]
    assert res["batch"] == 1 and res["threads"] == 1
    # no GPU here: the CUDA request is reported, not silently dropped (and run where present)
    assert "cuda" in res["skipped"] or "onnxruntime_cuda" in res["results"]


def test_bench_latency_rejects_bad_input(tmp_path):
    assert main(["bench", "latency", "--policy", str(tmp_path / "x.onnx")]) == 2  # .onnx without its checkpoint
    assert main(["bench", "latency", "--config", "tiny", "--providers", "tpu", "--iters", "2", "--warmup", "0"]) == 2
