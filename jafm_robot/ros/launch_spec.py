"""Read the node list of a ``*.launch.py`` without ROS 2 ``launch`` (which is not on PyPI).

``jafm-robot bringup`` takes its graph from here, so the processes it starts are, by construction,
the ``launch_ros.actions.Node`` entries of the launch file, with the same executables, names,
parameter file and remappings. The launch file is parsed with :mod:`ast`, never executed: it
imports ``launch``/``launch_ros``, which exist only in a ROS 2 installation.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from jafm_robot.paths import launch_dir

GRAPHS = {"sim": "sim_pick_place.launch.py", "robot": "robot.launch.py"}


@dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    parameters: tuple[str, ...]  # names of the variables/launch configurations passed as parameters
    remappings: tuple[tuple[str, str], ...]  # (from, to-launch-argument-or-literal)


@dataclass
class LaunchSpec:
    path: Path
    nodes: list[NodeSpec]
    params_file: str  # basename under launch/params/
    arguments: dict[str, str | None] = field(default_factory=dict)  # launch argument -> literal default

    @property
    def executables(self) -> list[str]:
        return [n.executable for n in self.nodes]

    def params_path(self) -> Path:
        return self.path.parent / "params" / self.params_file


def _literal(node: ast.AST, consts: dict[str, object]) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "LaunchConfiguration" and node.args:
        return f"$({_literal(node.args[0], consts)})"
    if isinstance(node, ast.Name):
        return f"${node.id}"
    return None


def read_launch(path: str | Path) -> LaunchSpec:
    """Nodes, parameter file and launch arguments of a launch file (clear error if it has none)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"launch file not found: {p}")
    tree = ast.parse(p.read_text(), filename=str(p))
    consts: dict[str, object] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                consts[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                pass
    # variables bound to LaunchConfiguration("x") inside functions: name -> "$(x)"
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            v = _literal(n.value, consts)
            if isinstance(v, str) and v.startswith("$("):
                consts[n.targets[0].id] = v
    nodes: list[NodeSpec] = []
    args: dict[str, str | None] = {}
    for n in ast.walk(tree):
        if not isinstance(n, ast.Call):
            continue
        fname = n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
        kw = {k.arg: k.value for k in n.keywords if k.arg}
        if fname == "Node":
            params = tuple(str(_literal(e, consts)) for e in getattr(kw.get("parameters"), "elts", []))
            remaps = []
            for e in getattr(kw.get("remappings"), "elts", []):
                if isinstance(e, ast.Tuple) and len(e.elts) == 2:
                    remaps.append((str(_literal(e.elts[0], consts)), str(_literal(e.elts[1], consts))))
            nodes.append(
                NodeSpec(
                    package=str(_literal(kw["package"], consts)),
                    executable=str(_literal(kw["executable"], consts)),
                    name=str(_literal(kw.get("name", kw["executable"]), consts)),
                    parameters=params,
                    remappings=tuple(remaps),
                )
            )
        elif fname == "DeclareLaunchArgument" and n.args:
            default = kw.get("default_value")
            v = _literal(default, consts) if default is not None else None
            args[str(_literal(n.args[0], consts))] = v if isinstance(v, str) else None
    if not nodes:
        raise ValueError(f"{p}: no launch_ros Node(...) entries found")
    params_file = consts.get("PARAMS")
    if not isinstance(params_file, str):
        raise ValueError(f"{p}: needs a module-level PARAMS = '<file>.yaml' naming its parameter file")
    return LaunchSpec(path=p, nodes=nodes, params_file=params_file, arguments=args)


def graph_spec(sim: bool) -> LaunchSpec:
    """The launch file behind ``bringup --sim`` (True) or ``bringup`` (False)."""
    return read_launch(launch_dir() / GRAPHS["sim" if sim else "robot"])
