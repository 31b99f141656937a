"""``jafm-robot bringup``: start the ROS 2 graph of a launch file as processes, without ROS 2 ``launch``.

``--sim`` starts ``launch/sim_pick_place.launch.py`` (sim_node + policy_node + controller_node),
otherwise ``launch/robot.launch.py`` (camera_node + policy_node + controller_node for a real arm).
The node list, names, parameter file and remappings are read from the launch file itself
(:mod:`jafm_robot.ros.launch_spec`), so ``bringup`` and ``ros2 launch`` start the same graph with the
same YAML (``--ros-args --params-file``). Output of every node is forwarded with a ``[node]`` prefix;
Ctrl-C / SIGTERM stops all of them (SIGINT, then SIGTERM, then SIGKILL), and so does one node dying.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

HELP = "start the ROS 2 nodes of a launch file as processes (--sim: simulated pick-and-place)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim", action="store_true", help="the simulated graph (sim_pick_place.launch.py)")
    parser.add_argument("--params", type=Path, default=None, help="params YAML (default: the launch file's own)")
    parser.add_argument("--model", default=None, help="policy ONNX file (overrides policy_node.model)")
    parser.add_argument("--task", default=None, help="sim task (overrides sim_node.task)")
    parser.add_argument("--seed", type=int, default=None, help="sim seed (overrides sim_node.seed)")
    parser.add_argument("--language", default=None, help="en or ja (overrides sim_node.language)")
    parser.add_argument("--camera", default=None, help="camera source: index, file or URL (camera_node.source)")
    parser.add_argument(
        "--command-topic",
        default=None,
        help="remap controller_node's command topic (robot.launch.py's command_topic argument)",
    )
    parser.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID for the nodes")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--dry-run", action="store_true", help="print the node commands and exit")


def plan(args: argparse.Namespace, workdir: Path) -> list[tuple[str, list[str]]]:
    """(node name, command line) for each node of the launch file, overrides applied."""
    from jafm_robot.cli.common import check_task, parse_languages
    from jafm_robot.ros.launch_spec import graph_spec
    from jafm_robot.ros.params import load_node_params
    from jafm_robot.ros.process import node_command, write_params_file

    spec = graph_spec(args.sim)
    params = Path(args.params) if args.params else spec.params_path()
    overrides: dict[str, dict[str, object]] = {}
    if args.model:
        overrides.setdefault("policy_node", {})["model"] = str(Path(args.model).expanduser().resolve())
    if args.task:
        overrides.setdefault("sim_node", {})["task"] = check_task(args.task)
    if args.seed is not None:
        overrides.setdefault("sim_node", {})["seed"] = int(args.seed)
    if args.language:
        overrides.setdefault("sim_node", {})["language"] = parse_languages(args.language)[0]
    if args.camera is not None:
        overrides.setdefault("camera_node", {})["source"] = str(args.camera)
    if overrides:
        params = write_params_file(params, overrides, workdir / "params.yaml")
    for n in spec.nodes:  # validate every node's section now: a typo is one clear line, not N crashes
        load_node_params(params, n.name)
    out = []
    for n in spec.nodes:
        remaps = {}
        for src, dst in n.remappings:
            if dst.startswith("$("):  # a launch argument: its CLI value, else its default
                arg = dst[2:-1]
                value = args.command_topic if arg == "command_topic" and args.command_topic else spec.arguments.get(arg)
                if value and value != src:
                    remaps[src] = value
            else:
                remaps[src] = dst
        cmd = node_command(n.executable, params, remaps=remaps)
        if n.name != n.executable:
            cmd += ["-r", f"__node:={n.name}"]
        out.append((n.name, cmd))
    return out


def run(args: argparse.Namespace) -> int:
    from jafm_robot.ros.process import NodeProcess, ros_env, stop_all

    workdir = Path(tempfile.mkdtemp(prefix="jafm_bringup_"))
    commands = plan(args, workdir)
    if args.dry_run:
        for name, cmd in commands:
            print(f"{name}: {' '.join(cmd)}")
        return 0
    env = ros_env(args.domain_id)
    procs = [NodeProcess(name, cmd, env=env, sink=sys.stdout) for name, cmd in commands]
    stopping = {"why": ""}

    def on_signal(signum: int, _frame: object) -> None:
        stopping["why"] = signal.Signals(signum).name

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"[bringup] starting {', '.join(n for n, _ in commands)} (ROS_DOMAIN_ID={env.get('ROS_DOMAIN_ID', '0')})",
          flush=True)
    code = 0
    try:
        for p in procs:
            p.start()
        t_end = None if args.duration is None else time.monotonic() + args.duration
        while not stopping["why"]:
            dead = [p for p in procs if not p.alive]
            if dead:
                stopping["why"] = f"{dead[0].name} exited with {dead[0].returncode}"
                code = 1
                break
            if t_end is not None and time.monotonic() >= t_end:
                stopping["why"] = "duration reached"
                break
            time.sleep(0.1)
    finally:
        print(f"[bringup] shutting down ({stopping['why'] or 'error'})", flush=True)
        codes = stop_all(procs)
        for s, h in old.items():
            signal.signal(s, h)
        print(f"[bringup] exit codes: {codes}", flush=True)
    return code
