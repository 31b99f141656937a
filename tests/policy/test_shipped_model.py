"""The shipped policy under ``models/``: it loads through the runtime's checks and its card holds
what issue 3 asks of it (held-out success per language with intervals, latency, and every command
that reproduces it). Skipped on a checkout that ships no policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jafm_robot.paths import shipped_policy


@pytest.fixture(scope="module")
def shipped():
    path = shipped_policy()
    if path is None:
        pytest.skip("no shipped policy under models/")
    return path, json.loads(path.with_suffix(".json").read_text())


def test_shipped_policy_loads_and_acts(shipped):
    from jafm_robot.runtime.engine import PolicyEngine

    path, card = shipped
    eng = PolicyEngine(path)  # sha256 against the card, metadata, signature
    m = eng.metadata
    obs = {c: np.zeros((m.image_size, m.image_size, 3), np.uint8) for c in m.cameras}
    obs["state"] = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.08], np.float32)
    obs["instruction"] = np.zeros(128, np.uint8)
    out = eng.infer(obs)
    assert out.shape == (m.chunk_len, 8) and np.isfinite(out).all()
    assert card["parameters"] > 0 and card["sha256"]


def test_shipped_card_holds_measured_success_latency_and_commands(shipped):
    _, card = shipped
    for task in card["tasks"]:
        for lang in card["languages"]:
            res = card["success"][f"{task}/{lang}"]
            assert res["episodes"] >= 100, (task, lang, res["episodes"])
            lo, hi = res["ci95"]
            assert 0.0 <= lo <= res["success_rate"] <= hi <= 1.0
            assert f"eval {task}/{lang}" in card["commands"]
    lat = card["latency"]["results"]  # `bench latency --card`: ONNX Runtime and torch eager, one run
    assert lat["onnxruntime_cpu"]["p50_ms"] > 0 and lat["torch_eager_cpu"]["p50_ms"] > 0
    cmds = card["commands"]
    assert cmds["record"] and all(c.startswith("jafm-robot record") for c in cmds["record"])
    assert cmds["train"].startswith("jafm-robot train") and cmds["export"].startswith("jafm-robot export")
    # the runs fine-tuned from one another, and any weight averaging between them
    assert all(c and c.startswith(("jafm-robot train", "jafm-robot average")) for c in cmds.get("train_chain", []))
    if "average" in cmds:
        assert len(cmds["average_sources"]) >= 2 and all(c.startswith("jafm-robot train") for c in cmds["average_sources"])
