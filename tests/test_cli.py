"""The ``jafm-robot`` command line: every verb and benchmark is reachable and documents itself."""

import pytest

from jafm_robot.cli.bench import BENCHES
from jafm_robot.cli.main import VERBS, build_parser, main


def test_every_verb_is_installed():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    missing = set(VERBS) - set(sub.choices)
    assert not missing, f"verbs without a module: {missing}"


@pytest.mark.parametrize("argv", [[], *[[v] for v in VERBS], *[["bench", b] for b in BENCHES]])
def test_help_renders(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    assert "usage: jafm-robot" in capsys.readouterr().out


@pytest.mark.parametrize("option,value,message", [("--grasp-hold", "-1", "--grasp-hold must be >= 0"),
                                                  ("--approach-yaw-noise", "120", "--approach-yaw-noise must be within"),
                                                  ("--miss-first-grasp", "3,2", "--miss-first-grasp must be MIN,MAX"),
                                                  ("--miss-first-grasp", "2", "--miss-first-grasp takes MIN,MAX"),
                                                  ("--turn-first-grasp", "30,60", "--turn-first-grasp must be MIN,MAX degrees"),
                                                  ("--takeover", "1.5,30", "--takeover takes whole steps"),
                                                  ("--student", "no/such.onnx", "no/such.onnx")])
def test_record_refuses_bad_expert_options_before_touching_the_folder(tmp_path, capsys, option, value, message):
    out = tmp_path / "ds"
    assert main(["record", "--task", "PickPlace", "--episodes", "1", "--out", str(out), option, value]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("verb", [["eval", "--policy", "p.onnx", "--task", "PickPlace"], ["run", "--policy", "p.onnx"], ["demo"]])
@pytest.mark.parametrize("value", ["0", "1.5", "nan"])
def test_chunk_hosts_refuse_an_overlap_weight_outside_zero_one(verb, value, capsys):
    with pytest.raises(SystemExit) as e:
        main([*verb, "--overlap-weight", value])
    assert e.value.code == 2
    assert "overlap_weight must be in (0, 1]" in capsys.readouterr().err
