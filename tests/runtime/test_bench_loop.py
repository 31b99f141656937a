"""``jafm-robot bench loop`` end to end, briefly: both conditions run, the JSON and the PNG are written."""

from __future__ import annotations

import json

from jafm_robot.cli.main import main


def test_bench_loop_writes_json_and_png(tmp_path):
    out, png = tmp_path / "loop.json", tmp_path / "loop.png"
    rc = main([
        "bench", "loop", "--rate", "500", "--seconds", "0.6", "--rounds", "2", "--hidden", "64", "--layers", "1",
        "--no-realtime", "--json", str(out), "--png", str(png),
    ])
    assert rc == 0
    d = json.loads(out.read_text())
    for cond in ("empty", "loaded"):
        c = d[cond]
        assert c["ticks"] > 50  # it ran (no timing bound: the machine is shared)
        assert c["period_error_p50_us"] <= c["period_error_p99_us"] <= c["period_error_max_us"]
        assert len(c["round_p99_us"]) == 2
    assert d["loaded"]["policy_chunks"] >= 2  # the policy really inferred while the loop ran
    assert d["ratio_p99"] > 0 and d["model_origin"] in ("shipped", "generated mlp 1x64")
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_loop_rejects_bad_arguments(tmp_path, capsys):
    assert main(["bench", "loop", "--rate", "0"]) == 2
    assert "rate" in capsys.readouterr().err
    assert main(["bench", "loop", "--model", str(tmp_path / "missing.onnx")]) == 2
