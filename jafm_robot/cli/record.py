"""``jafm-robot record``: scripted-expert demonstrations -> LeRobot v3.0 dataset (append-safe)."""

from __future__ import annotations

import argparse

from jafm_robot.cli.common import add_workers_arguments

HELP = ("record expert demonstrations as a LeRobotDataset v3.0 (episode by episode, in seed order; a re-run "
        "appends only what is missing)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="Reach, PickPlace, ConveyorPick, Stack or Sort")
    p.add_argument("--episodes", type=int, required=True, help="successful episodes the dataset holds when the command ends (episodes already there count, so a "
                        "re-run of an interrupted recording records only what is missing)")
    p.add_argument("--out", required=True, help="dataset folder (created, or appended to)")
    p.add_argument("--lang", default="en", help="en, ja or en,ja (episodes alternate)")
    p.add_argument("--seed", type=int, default=0, help="first env seed (seeds already in the dataset are skipped)")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--cube-grasp-offset", type=float, default=0.0, metavar="DEG",
                   help="grasp cubes DEG off their faces (45: across the diagonal, held by the edges)")
    p.add_argument("--grasp-hold", type=int, default=0, metavar="STEPS",
                   help="steps the closed hand stays still before lifting a part (0: lift once the fingers have closed)")
    p.add_argument("--approach-yaw-noise", type=float, default=0.0, metavar="DEG",
                   help="execute each grasp approach with a wrist-yaw offset drawn in +-DEG that fades out during the "
                        "descent, while recording the expert's own actions: demonstrations of turning a misaligned "
                        "hand onto the part (DART-style noise injection; 0: off)")
    p.add_argument("--align-above", action="store_true",
                   help="turn the wrist to a cube's faces only once the hand hovers over the cube, where the wrist "
                        "camera shows it (default: turn on the way there)")
    p.add_argument("--miss-first-grasp", default=None, metavar="MIN,MAX",
                   help="aim each episode's first grasp MIN..MAX cm off the part, to a random side of the fingers' "
                        "closing line, so the "
                        "expert misses, lifts, opens and grasps again: demonstrations of recovering from a missed "
                        "grasp; the deliberate miss is marked in the episodes table and left out of training")
    p.add_argument("--turn-first-grasp", default=None, metavar="MIN,MAX",
                   help="turn each episode's first grasp MIN..MAX degrees off the part's grasp yaw (blocks and cubes), "
                        "so the fingers stall on its corners and the expert lifts anyway (and recovers if it slips); "
                        "the turned approach is marked and left out of training like --miss-first-grasp")
    p.add_argument("--student", default=None, metavar="POLICY",
                   help="a trained policy (.pt or .onnx) drives the start of each episode as eval runs it, and the "
                        "expert takes over from where it brought the arm (DAgger-style corrections of the policy's "
                        "own mistakes); the policy's actions are marked and left out of training")
    p.add_argument("--takeover", default="10,60", metavar="MIN,MAX",
                   help="with --student: the expert takes over at a step drawn in MIN..MAX, or earlier where the "
                        "policy starts to close the fingers (default 10,60)")
    p.add_argument("--replan-every", type=int, default=None,
                   help="with --student: action points between the policy's inferences (default chunk_len//2, as eval)")
    p.add_argument("--keep-failures", action="store_true", help="also store episodes the expert failed")
    p.add_argument("--json", default=None, help="write a summary JSON here")
    add_workers_arguments(p)


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys

    import numpy as np

    from jafm_robot.cli.common import check_task, cluster_from, parse_languages, progress, write_json
    from jafm_robot.datasets.recording import record

    check_task(args.task)
    langs = parse_languages(args.lang)

    def pair(option: str, value: str | None, example: str) -> tuple[float, float] | None:
        if value is None:
            return None
        try:
            lo, hi = (float(v) for v in value.split(","))
        except ValueError:
            raise ValueError(f"{option} takes MIN,MAX (e.g. {example}), got {value!r}") from None
        return lo, hi

    miss = pair("--miss-first-grasp", args.miss_first_grasp, "2,3.5")
    turn = pair("--turn-first-grasp", args.turn_first_grasp, "20,40")
    takeover = pair("--takeover", args.takeover, "10,60")
    assert takeover is not None
    if not all(float(v).is_integer() for v in takeover):
        raise ValueError(f"--takeover takes whole steps MIN,MAX, got {args.takeover!r}")
    cluster = cluster_from(args)
    bar = progress(total=args.episodes, desc=f"record {args.task}")

    def tick(res) -> None:  # the bar counts the dataset's episodes, those of an earlier run included
        bar.update(res.total_episodes - bar.n)
        bar.set_postfix(attempts=res.attempted, frames=res.total_frames)

    res = record(args.task, args.episodes, args.out, langs, seed=args.seed, image_size=args.image_size,
                 keep_failures=args.keep_failures, on_episode=tick, cube_grasp_offset_deg=args.cube_grasp_offset,
                 grasp_hold_steps=args.grasp_hold, approach_yaw_noise_deg=args.approach_yaw_noise,
                 align_above=args.align_above, miss_first_grasp_cm=miss, turn_first_grasp_deg=turn,
                 student=args.student, takeover_steps=(int(takeover[0]), int(takeover[1])),
                 replan_every=args.replan_every, cluster=cluster,
                 command=shlex.join(["jafm-robot", *sys.argv[1:]]))
    bar.close()
    resumed = f", {res.resumed} finished by an interrupted run" if res.resumed else ""
    print(f"{args.out}: +{res.written} episodes ({res.attempted} attempted{resumed}, expert failed seeds "
          f"{res.failed_seeds}); dataset now {res.total_episodes} episodes / {res.total_frames} frames")
    if args.student is not None:
        steps = res.takeover_steps or [0]
        print(f"--student: expert took over at steps {min(steps)}-{max(steps)} (median {int(np.median(steps))}); "
              f"the policy finished {len(res.student_finished)} episodes before a takeover (not written)")
    write_json(args.json, res.__dict__)
    return 0 if res.total_episodes >= args.episodes else 1
