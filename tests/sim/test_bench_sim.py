"""``jafm-robot bench sim`` runs end to end (tiny step counts: speed itself is the bench's job)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("panda_gym", reason="the bench baseline needs panda-gym (extra [bench])")

from jafm_robot.bench import sim as bench_sim
from jafm_robot.cli.main import main


def test_bench_sim_writes_the_json_keys(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    rc = main(["bench", "sim", "--json", str(out), "--steps", "4", "--rounds", "1", "--size", "32",
               "--tasks", "PickPlace,ConveyorPick"])
    assert rc == 0
    res = json.loads(out.read_text())
    for key in ("ours_steps_per_s", "panda_gym_steps_per_s", "ratio", "per_task", "vector_async_2_steps_per_s",
                "ours_full_visual_steps_per_s", "ratio_full_visual"):
        assert key in res
    assert res["ours_steps_per_s"] > 0 and res["panda_gym_steps_per_s"] > 0
    assert res["ratio"] == pytest.approx(res["ours_steps_per_s"] / res["panda_gym_steps_per_s"])
    assert set(res["per_task"]) == {"PickPlace", "ConveyorPick"} and res["vector_async_2_steps_per_s"] > 0


def test_bench_sim_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        bench_sim.run_bench(steps=1, tasks=("Juggle",), vector=False)
    with pytest.raises(ValueError, match="steps"):
        bench_sim.run_bench(steps=0, vector=False)
