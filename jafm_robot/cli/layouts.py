"""``jafm-robot layouts``: render many seeded part layouts with the named part's image position.

Cheap perception data for ``train --layouts`` (see ``jafm_robot.datasets.layouts``): one reset and
one render per frame, no expert trajectory.
"""

from __future__ import annotations

import argparse

from jafm_robot.cli.common import add_workers_arguments

HELP = "render seeded part layouts with where the named part appears (keypoint data for train --layouts)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="PickPlace")
    p.add_argument("--count", type=int, required=True, help="layouts (one frame each)")
    p.add_argument("--out", required=True, help=".npz file to write")
    p.add_argument("--seed", type=int, default=200_000, help="first seed (keep clear of training and eval seeds)")
    p.add_argument("--lang", default="en,ja")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--scene", default=None)
    p.add_argument("--poses-from", default=None,
                   help="dataset whose recorded joint states (gripper open) pose the arm in half the frames")
    p.add_argument("--hover-fraction", type=float, default=0.0,
                   help="share of frames with the open hand hovering over the named part at a random yaw (the "
                        "wrist camera shows the part large and turned: grasp-yaw data)")
    p.add_argument("--json", default=None)
    add_workers_arguments(p)


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from jafm_robot.cli.common import check_task, cluster_from, parse_languages, write_json
    from jafm_robot.datasets.layouts import record_layouts

    check_task(args.task)
    poses = None
    if args.poses_from:
        from jafm_robot.datasets.concat import open_dataset

        ds = open_dataset(args.poses_from)
        poses = ds.state[ds.state[:, 7] > 0.07]  # gripper open: approaching a part (or leaving a bin)
    res = record_layouts(args.task, args.count, args.out, seed=args.seed, languages=tuple(parse_languages(args.lang)),
                         image_size=args.image_size, poses=poses, scene=args.scene, hover_fraction=args.hover_fraction,
                         command=shlex.join(["jafm-robot", *sys.argv[1:]]), cluster=cluster_from(args))
    print(f"{args.out}: {res['count']} layouts in {res['seconds']:.0f} s; named part in view "
          f"(scene, wrist): {res['in_view'][0]:.0%}, {res['in_view'][1]:.0%}")
    write_json(args.json, res)
    return 0
