"""The launch files and ``jafm-robot bringup`` start the same nodes with the same parameters.

``launch``/``launch_ros`` are not installable from PyPI, so the launch files are read with ``ast``
(when ``launch_ros`` is importable they are also loaded for real). The bringup side is its actual
command lines (``--dry-run``), not a second copy of the node list.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

import pytest

from jafm_robot.cli import bringup
from jafm_robot.ros.launch_spec import GRAPHS, read_launch
from jafm_robot.ros.params import NODE_PARAMS, load_node_params, read_params_yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch"


def _args(**kw) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    bringup.add_arguments(p)
    argv = []
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        argv += [flag] if v is True else [flag, str(v)]
    return p.parse_args(argv)


def _cmd_params(cmd: list[str]) -> tuple[str, Path, dict[str, str]]:
    module = cmd[cmd.index("-m") + 1]
    params = Path(cmd[cmd.index("--params-file") + 1])
    remaps = dict(cmd[i + 1].split(":=") for i, a in enumerate(cmd) if a == "-r")
    return module, params, remaps


@pytest.mark.parametrize(("sim", "expected"), [(True, ["sim_node", "policy_node", "controller_node"]),
                                              (False, ["camera_node", "policy_node", "controller_node"])])
def test_bringup_starts_the_launch_files_nodes(sim: bool, expected: list[str], tmp_path: Path) -> None:
    spec = read_launch(LAUNCH / GRAPHS["sim" if sim else "robot"])
    assert spec.executables == expected
    assert all(n.package == "jafm_robot" and n.name == n.executable for n in spec.nodes)
    assert all(n.parameters == ("$(params_file)",) for n in spec.nodes), "every node takes the params file"
    # the launch argument's default is share/jafm_robot/launch/params/<PARAMS>
    assert spec.arguments["params_file"] == "$default_params"
    assert '"launch", "params", PARAMS)' in spec.path.read_text()
    plan = bringup.plan(_args(sim=sim) if sim else _args(), tmp_path)
    assert [n for n, _ in plan] == expected
    for (_, cmd), node in zip(plan, spec.nodes, strict=True):
        module, params, remaps = _cmd_params(cmd)
        assert module == f"jafm_robot.ros.{node.executable}"
        assert params == LAUNCH / "params" / spec.params_file  # the same YAML as the launch file
        assert remaps == {}  # defaults: no remapping in either


def test_robot_command_topic_is_remapped_in_both(tmp_path: Path) -> None:
    spec = read_launch(LAUNCH / "robot.launch.py")
    ctrl = next(n for n in spec.nodes if n.executable == "controller_node")
    assert ctrl.remappings == (("/forward_position_controller/commands", "$(command_topic)"),)
    assert spec.arguments["command_topic"] == "/forward_position_controller/commands"
    plan = dict(bringup.plan(_args(command_topic="/panda/arm_controller/commands"), tmp_path))
    assert _cmd_params(plan["controller_node"])[2] == {
        "/forward_position_controller/commands": "/panda/arm_controller/commands"
    }
    assert _cmd_params(plan["policy_node"])[2] == {}


def test_yaml_sections_match_the_declared_parameters() -> None:
    """Every node section of every params file sets only declared keys, and all of them (one source)."""
    for graph in GRAPHS.values():
        spec = read_launch(LAUNCH / graph)
        table = read_params_yaml(spec.params_path())
        for n in spec.nodes:
            declared = set(NODE_PARAMS[n.executable].__dataclass_fields__)
            given = set(table[n.name]) | (set(table.get("/**", {})) & declared)
            assert given == declared, f"{spec.params_file}:{n.name} differs from params.py: {given ^ declared}"
            load_node_params(spec.params_path(), n.name)


def test_overrides_go_into_a_params_file(tmp_path: Path) -> None:
    plan = dict(bringup.plan(_args(sim=True, task="Reach", seed=7, model="m.onnx"), tmp_path))
    _, params, _ = _cmd_params(plan["sim_node"])
    assert params.parent == tmp_path
    sim = load_node_params(params, "sim_node")
    assert (sim.task, sim.seed) == ("Reach", 7)
    assert load_node_params(params, "policy_node").model.endswith("m.onnx")
    with pytest.raises(ValueError, match="unknown task"):
        bringup.plan(_args(sim=True, task="Juggle"), tmp_path)


def test_console_scripts_are_the_node_mains() -> None:
    setup = ast.parse((ROOT / "setup.py").read_text())
    nodes = next(
        ast.literal_eval(s.value) for s in setup.body
        if isinstance(s, ast.Assign) and getattr(s.targets[0], "id", "") == "NODES"
    )
    assert sorted(nodes) == sorted(NODE_PARAMS)
    for n in nodes:
        assert callable(importlib.import_module(f"jafm_robot.ros.{n}").main)
    for graph in GRAPHS.values():
        text = (LAUNCH / graph).read_text()
        assert set(re.findall(r'executable="(\w+)"', text)) <= set(nodes)


def test_launch_files_load_with_launch_ros_when_available() -> None:
    pytest.importorskip("launch_ros", reason="launch_ros is not on PyPI; the ast checks above cover it")
    import importlib.util

    for graph in GRAPHS.values():
        spec = importlib.util.spec_from_file_location("lf", LAUNCH / graph)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        assert mod.generate_launch_description().entities
