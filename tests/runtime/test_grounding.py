"""The instruction gate between users and a policy (runtime.grounding), with the shipped ONNX model
in a real ONNX Runtime session and the real PickPlace env: a paraphrase reaches the network as the
template it learned, a refusal holds the arm, and eval reports what was understood per episode."""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.contract import encode_instruction
from jafm_robot.envs.instructions import TEMPLATES, bin_phrase, part_phrase
from jafm_robot.paths import models_dir
from jafm_robot.runtime.grounding import GroundedPolicy, InstructionGate, hold_chunk

SHIPPED = models_dir() / "pick_place_v0.onnx"


def test_a_paraphrase_is_fed_as_the_template_the_policy_learned():
    gate = InstructionGate(["PickPlace"], ["en", "ja"])
    g = gate.ground("Could you drop the red cube into the blue basket, please?")
    assert not g.refused and g.understanding.task == "PickPlace"
    assert g.feed == TEMPLATES["PickPlace"]["en"][0].format(part=part_phrase("red", "cube", "en"),
                                                             bin=bin_phrase("blue", "en"))
    ja = gate.ground("青いかごに赤いキューブを入れておいてください")
    assert ja.feed == TEMPLATES["PickPlace"]["ja"][0].format(part=part_phrase("red", "cube", "ja"),
                                                              bin=bin_phrase("blue", "ja"))
    assert gate.ground("Could you drop the red cube into the blue basket, please?") is g  # parsed once
    # a sentence the policy learned word for word is fed unchanged (it saw every template)
    learned = TEMPLATES["PickPlace"]["ja"][3].format(part=part_phrase("red", "cube", "ja"), bin=bin_phrase("blue", "ja"))
    assert gate.ground(learned).feed == learned
    readout = g.readout()
    assert readout["understood"] is True and readout["refused"] is False
    assert readout["part"] == {"color": "red", "shape": "cube"} and readout["bin"] == "blue" and readout["base"] is None


@pytest.mark.parametrize(("text", "code"), [
    ("", "empty"),
    ("   ", "empty"),
    ("把红色方块放进蓝色箱子", "other_language"),
    ("stack the red cube on the blue block", "unserved_task"),  # the policy serves PickPlace only
    ("put the pink sphere in the blue bin", "unknown_vocabulary"),
])
def test_what_cannot_be_grounded_is_refused_with_a_reason(text, code):
    g = InstructionGate(["PickPlace"], ["en", "ja"]).ground(text)
    assert g.refused and g.feed is None and g.understanding.code == code and g.reason


def test_a_part_that_is_not_on_the_table_is_refused():
    gate = InstructionGate(["PickPlace"], ["en", "ja"])
    table = [("red", "cube"), ("green", "cylinder")]
    assert gate.ground("put the red cube in the blue bin", table, ["red", "green", "blue"]).feed is not None
    absent = gate.ground("put the purple bolt in the red bin", table, ["red", "green", "blue"])
    assert absent.refused and absent.understanding.code == "absent_part"


def test_a_language_the_policy_was_not_trained_on_is_refused():
    g = InstructionGate(["PickPlace"], ["en"]).ground("赤いキューブを青い箱に入れて")
    assert g.refused and g.understanding.code == "other_language"


def test_the_grounded_policy_feeds_the_canonical_text_and_holds_on_a_refusal():
    from jafm_robot.policies.inference import load_policy

    policy = load_policy(SHIPPED)
    grounded = GroundedPolicy(policy, InstructionGate(policy.meta.tasks, policy.meta.languages))
    rng = np.random.default_rng(0)
    obs = {"image": rng.integers(0, 255, (128, 128, 3), dtype=np.uint8),
           "wrist_image": rng.integers(0, 255, (128, 128, 3), dtype=np.uint8),
           "state": np.asarray([0.0, -0.4, 0.0, -2.2, 0.0, 1.9, 0.8, 0.08], np.float32)}
    said = "Please get the red cube and put it inside the blue container."
    out = grounded.predict({**obs, "instruction": encode_instruction(said)})
    fed = grounded.last.feed
    np.testing.assert_array_equal(out, policy.predict({**obs, "instruction": encode_instruction(fed)}))
    assert grounded.last.text == said

    refused = grounded.predict({**obs, "instruction": encode_instruction("weld the bracket to the frame")})
    assert grounded.last.refused
    np.testing.assert_array_equal(refused, hold_chunk(obs["state"], policy.chunk_len))
    # the pose held is the one the refusal found, even when the arm has sagged since
    moved = {**obs, "state": obs["state"] + 0.01, "instruction": encode_instruction("weld the bracket to the frame")}
    np.testing.assert_array_equal(grounded.predict(moved), refused)


def test_eval_grounds_each_episode_and_a_refused_phrasing_never_moves_the_arm():
    from jafm_robot.training.evaluate import EvalSpec, evaluate

    good = evaluate(EvalSpec(str(SHIPPED), "PickPlace", "en", phrasing="could you put the {part} in the {bin} box?",
                             max_steps=3), 1, 10_000, progress=False)
    g = good["per_episode"][0]["info"]["grounding"]
    assert g["understood"] and not g["refused"] and g["instruction"].startswith("could you put the ")
    assert good["refused"] == 0

    bad = evaluate(EvalSpec(str(SHIPPED), "PickPlace", "en", phrasing="weld the {part} to the {bin} bin",
                            max_steps=15), 1, 10_000, progress=False, video=None)
    ep = bad["per_episode"][0]
    assert bad["refused"] == 1 and ep["info"]["grounding"]["code"] == "unserved_task" and not ep["success"]


def test_run_holds_the_arm_for_every_refusal_class_and_acts_on_a_paraphrase():
    from jafm_robot.hosts.realtime import RealtimeRunner

    # one instruction per refusal class (seed 10000's table: green block, green cube, yellow block, red cube)
    bad = [("  ", "empty"), ("把红色方块放进蓝色箱子", "other_language"), ("qwpo zmxn vbty", "gibberish"),
           ("weld the bracket to the frame", "unserved_task"), ("ピンクのボールを赤い箱に入れて", "unknown_vocabulary"),
           ("put the purple bolt in the red bin", "absent_part")]
    with RealtimeRunner(str(SHIPPED), "PickPlace") as runner:
        for text, code in bad:
            held = runner.run_episode(10_000, "en", instruction=text, time_limit=0.5)
            assert held.refused and held.understood["code"] == code and not held.success, (text, held.understood)
            assert held.hold_motion_rad is not None and held.hold_motion_rad < 1e-3  # < 1 mrad
            assert held.policy["chunks"] == 0  # the policy never ran
        ok = runner.run_episode(10_000, "ja", instruction="緑のブロックは赤のかごにお願いします", time_limit=1.0)
        assert not ok.refused and ok.understood["part"] == {"color": "green", "shape": "block"}  # seed 10000's goal
        assert ok.understood["bin"] == "red" and ok.policy["chunks"] > 0


def test_eval_phrasings_reports_each_phrasing_and_stores_the_table_in_the_card(tmp_path, capsys):
    import json
    import shutil

    from jafm_robot.cli.main import main

    model = tmp_path / "pick_place_v0.onnx"
    shutil.copy(SHIPPED, model)
    shutil.copy(SHIPPED.with_suffix(".json"), model.with_suffix(".json"))
    tsv = tmp_path / "phrasings.tsv"
    tsv.write_text("# lang<TAB>template\nen\tcould you put the {part} in the {bin} box?\nja\t{part}を{bin}の箱へ\n"
                   "en\tweld the {part} to the {bin} bin\n", encoding="utf-8")
    out = tmp_path / "ph.json"
    assert main(["eval", "--policy", str(model), "--task", "PickPlace", "--lang", "en", "--episodes", "1",
                 "--seed", "10000", "--max-steps", "3", "--phrasings", str(tsv), "--json", str(out), "--card"]) == 0
    res = json.loads(out.read_text())
    assert [r["phrasing"] for r in res["per_phrasing"]] == ["could you put the {part} in the {bin} box?",
                                                             "weld the {part} to the {bin} bin"]  # en lines only
    assert [r["refused"] for r in res["per_phrasing"]] == [0, 1]
    assert res["per_phrasing"][1]["successes"] == 0 and res["phrasings"]["refused"] == 1
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["phrasings"]["PickPlace/en"]["per_phrasing"][1]["refused"] == 1
    assert "eval --phrasings PickPlace/en" in card["commands"]
    assert "2 phrasings" in capsys.readouterr().out
