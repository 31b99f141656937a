"""``jafm-robot understand`` through the CLI entry point: JSON on stdout, exit 0 / 3."""

from __future__ import annotations

import json

import pytest

from jafm_robot.cli.main import main
from jafm_robot.paths import models_dir, shipped_policy

PICK_PLACE = str(models_dir() / "pick_place_v0.onnx")

pytestmark = pytest.mark.skipif(shipped_policy() is None, reason="no shipped policy under models/")


@pytest.mark.parametrize("text,lang", [("put the red cube in the blue bin", "en"), ("青い箱に赤いキューブを入れてください", "ja")])
def test_accepted(text: str, lang: str, capsys) -> None:
    assert main(["understand", text]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["understood"] is True and out["task"] == "PickPlace" and out["language"] == lang
    assert out["part"] == {"color": "red", "shape": "cube"} and out["bin"] == "blue" and out["base"] is None
    assert 0 < out["confidence"] <= 1
    assert out["canonical"] == {"en": "put the red cube in the blue bin", "ja": "赤いキューブを青い箱に入れて"}


@pytest.mark.parametrize("argv,code", [
    (["weld the bracket"], "unserved_task"),
    (["--policy", PICK_PLACE, "赤いキューブを青いブロックの上に積んで"], "unserved_task"),  # Stack: pick_place_v0 serves PickPlace only
    (["--scene-parts", "red cube,green cylinder", "紫のボルトを青い箱に入れて"], "absent_part"),
    (["--scene-parts", "red cube,green cylinder", "put the purple bolt in the blue bin"], "absent_part"),
    (["把红色方块放进蓝色箱子"], "other_language"),
])
def test_refused(argv: list[str], code: str, capsys) -> None:
    assert main(["understand", *argv]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["understood"] is False and out["reason"] and out["code"] == code


def test_the_newest_shipped_policy_understands_each_of_its_tasks(capsys) -> None:
    """Without --policy, understand answers for the newest shipped model (the five-task student
    where it ships): a request for any task in the model's metadata is understood as that task."""
    from jafm_robot.runtime.engine import PolicyEngine

    tasks = PolicyEngine(shipped_policy(), warmup=0).metadata.tasks
    said = {"Reach": "赤いキューブの上に手を動かして", "Stack": "stack the red cube on the blue block",
            "Sort": "部品を色ごとに仕分けて", "ConveyorPick": "take the red cube off the conveyor into the blue bin",
            "PickPlace": "put the red cube in the blue bin"}
    for task in tasks:
        assert main(["understand", said[task]]) == 0, task
        out = json.loads(capsys.readouterr().out)
        assert out["understood"] is True and out["task"] == task, out


def test_bad_inputs_are_usage_errors(tmp_path, capsys) -> None:
    assert main(["understand", "--scene-parts", "red cub", "put the red cube in the blue bin"]) == 2
    assert main(["understand", "--policy", str(tmp_path / "none.onnx"), "put the red cube in the blue bin"]) == 2
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    assert main(["understand", "--policy", str(bad), "put the red cube in the blue bin"]) == 2


def test_a_language_the_policy_was_not_trained_on_is_refused_as_the_hosts_refuse_it(tmp_path, capsys) -> None:
    from jafm_robot.runtime.metadata import PolicyMetadata
    from jafm_robot.runtime.testing import make_dummy_policy

    model = make_dummy_policy(tmp_path / "en_only.onnx", meta=PolicyMetadata(tasks=["PickPlace"], languages=["en"]))
    assert main(["understand", "--policy", str(model), "赤いキューブを青い箱に入れて"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["understood"] is False and out["code"] == "other_language"
    assert main(["understand", "--policy", str(model), "put the red cube in the blue bin"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fed"] == "put the red cube in the blue bin" and out["canonical"] == {"en": out["fed"]}
