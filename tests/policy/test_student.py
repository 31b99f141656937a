"""The five-task student (``models/jafm_student_v1.onnx``): it loads wherever a policy loads, serves
every task in both languages, its card holds the figures the issue asks for (held-out success per
task and language, its teacher's on the same seeds, both latencies from one run, the history of
versions replaced), and a short closed-loop episode per task runs through eval's host with the
instruction understood for that task. Until the student ships, the kept candidate
(``models/candidates/``) is loaded and run instead, and the card test waits for the shipped one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jafm_robot.contract import LANGUAGES, TASKS
from jafm_robot.paths import models_dir

SHIPPED = models_dir() / "jafm_student_v1.onnx"
# until it ships, the kept candidate (models/candidates/) is what loads and runs here
STUDENT = SHIPPED if SHIPPED.is_file() else models_dir() / "candidates" / "jafm_student_v1.onnx"
pytestmark = pytest.mark.skipif(not STUDENT.is_file(), reason="no five-task student, shipped or kept")


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads(STUDENT.with_suffix(".json").read_text())


def test_student_serves_five_tasks_in_both_languages(card) -> None:
    from jafm_robot.runtime.engine import PolicyEngine

    eng = PolicyEngine(STUDENT)  # sha256 against the card, metadata, signature
    m = eng.metadata
    assert sorted(m.tasks) == sorted(TASKS) and sorted(m.languages) == sorted(LANGUAGES)
    assert sorted(card["tasks"]) == sorted(TASKS)
    obs = {c: np.zeros((m.image_size, m.image_size, 3), np.uint8) for c in m.cameras}
    obs["state"] = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.08], np.float32)
    obs["instruction"] = np.zeros(128, np.uint8)
    assert eng.infer(obs).shape == (m.chunk_len, 8)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped student's card only: a candidate lacks the teacher stage")
def test_student_card_has_success_teacher_and_latency_per_task(card) -> None:
    for task in TASKS:
        for lang in LANGUAGES:
            key = f"{task}/{lang}"
            res, teacher = card["success"][key], card["teacher"][key]
            assert res["episodes"] >= 100 and teacher["episodes"] == res["episodes"], key
            assert teacher["seed"] == res["seed"], f"{key}: teacher and student on different seeds"
            for r in (res, teacher):
                lo, hi = r["ci95"]
                assert 0.0 <= lo <= r["success_rate"] <= hi <= 1.0
            assert card["commands"][f"eval {key}"].startswith("jafm-robot eval")
            assert card["commands"][f"teacher {key}"].startswith("jafm-robot expert")
    lat = card["latency"]
    assert {"onnxruntime_cpu", "torch_eager_cpu", "teacher_expert"} <= set(lat["results"])
    assert lat["teacher"]["teacher"] == "expert" and lat["teacher_over_student_p50"] > 0
    assert card["commands"]["train"].startswith("jafm-robot train --dataset")
    assert isinstance(card["history"], list)


@pytest.mark.parametrize("task", TASKS)
def test_student_short_closed_loop_episode_per_task(task: str) -> None:
    """Twelve action points of one held-out episode through eval's host (grounding gate, chunk
    executor, the env's physics): the instruction is understood as this task, the network is run,
    the arm moves, and the env names the outcome in the task's own words."""
    from jafm_robot.training.evaluate import EvalSpec, EvalWorker

    lang = LANGUAGES[TASKS.index(task) % len(LANGUAGES)]
    worker = EvalWorker(EvalSpec(policy=str(STUDENT), task=task, language=lang, max_steps=12))
    try:
        run = worker((10_000, False))
        u = worker.env.unwrapped
        end = u.robot.ee_pose()[0].copy()
        worker.env.reset(seed=10_000)
        home = u.robot.ee_pose()[0].copy()
    finally:
        worker.close()
    g = run.result.info["grounding"]
    assert g["understood"] and g["task"] == task, g
    assert len(run.inference_ms) >= 2
    assert run.result.success or np.linalg.norm(end - home) > 0.02, "the arm did not move"
    assert isinstance(run.result.info["outcome"], str) and run.result.info["outcome"]
