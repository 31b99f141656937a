"""``jafm-robot distill``: DAgger distillation of a teacher (scripted expert, foundation checkpoint,
ONNX file or any user callable) into the small real-time student, then ONNX export with a card.

See ``docs/distill.md`` and :mod:`jafm_robot.distill.dagger`.
"""

from __future__ import annotations

import argparse
import sys

HELP = ("distill a teacher (expert | PATH.pt | PATH.onnx | module:function) into the student by DAgger with "
        "action-chunk matching; per-iteration success, held-out phrasings, --resume, ONNX export with card")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teacher", required=True, help="expert | PATH.pt | PATH.onnx | module:function (obs -> chunk)")
    p.add_argument("--student-config", default="small", help="student size: tiny, small, base, large")
    p.add_argument("--tasks", default="Reach", help="comma-separated tasks, e.g. Reach,PickPlace")
    p.add_argument("--lang", default="en", help="en, ja or en,ja")
    p.add_argument("--iterations", type=int, default=5, help="DAgger iterations (with --resume: the new total)")
    p.add_argument("--episodes-per-iter", type=int, default=10)
    p.add_argument("--steps-per-iter", type=int, default=500, help="student optimiser steps after each collection")
    p.add_argument("--out", required=True, help="run folder: buffer/, checkpoints/, distill_log.json, student.onnx(+.json)")
    p.add_argument("--beta0", type=float, default=1.0, help="teacher-driven episode probability at iteration 0 "
                   "(iteration 0 is always teacher-driven without --dataset-init)")
    p.add_argument("--beta-decay", type=float, default=0.5, help="beta_i = beta0 * beta_decay**i")
    p.add_argument("--student-init", default=None,
                   help="a `jafm-robot train` checkpoint, or a shipped .onnx policy (rebuilt), to start the student "
                        "from (size, cameras, normalisation come with it)")
    p.add_argument("--dataset-init", default=None, help="LeRobot v3 dataset to seed the buffer and pre-train the student")
    p.add_argument("--holdout-phrasings", type=int, default=1, help="instruction templates per task/language never trained on")
    p.add_argument("--eval-episodes", type=int, default=5, help="per task/language and phrasing split, each iteration (0 = off)")
    p.add_argument("--no-eval-teacher", action="store_true", help="do not measure the teacher on the same eval seeds")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--chunk-len", type=int, default=10)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--cameras", default="auto", help="auto (the student size's), image, or image,wrist_image")
    p.add_argument("--replan-every", type=int, default=None, help="action points between student inferences (default chunk_len//2)")
    p.add_argument("--max-steps", type=int, default=None, help="cap on episode length (collection and eval)")
    p.add_argument("--shift-pad", type=int, default=4, help="random-shift augmentation in pixels (0 = off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: OMP_NUM_THREADS or cores/2)")
    p.add_argument("--no-export", action="store_true", help="skip the final ONNX export")
    p.add_argument("--resume", action="store_true", help="continue after the last completed iteration in --out")
    p.add_argument("--json", default=None, help="write the run log (also OUT/distill_log.json) here")


def run(args: argparse.Namespace) -> int:
    from jafm_robot.cli.common import check_task, parse_languages, write_json
    from jafm_robot.distill.dagger import DistillConfig, distill

    tasks = [check_task(t.strip()) for t in args.tasks.split(",") if t.strip()]
    if not tasks:
        raise ValueError("--tasks is empty")
    cfg = DistillConfig(
        teacher=args.teacher, out=args.out, student_config=args.student_config, tasks=tasks,
        languages=parse_languages(args.lang), iterations=args.iterations, episodes_per_iter=args.episodes_per_iter,
        steps_per_iter=args.steps_per_iter, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        beta0=args.beta0, beta_decay=args.beta_decay, chunk_len=args.chunk_len, image_size=args.image_size,
        cameras=args.cameras, replan_every=args.replan_every, max_steps=args.max_steps,
        holdout_phrasings=args.holdout_phrasings, eval_episodes=args.eval_episodes, eval_teacher=not args.no_eval_teacher,
        dataset_init=args.dataset_init, student_init=args.student_init, shift_pad=args.shift_pad, seed=args.seed, resume=args.resume,
        export=not args.no_export, device=args.device, threads=args.threads,
    )
    log = distill(cfg, argv=["jafm-robot", *sys.argv[1:]] if sys.argv else None)
    ex = log.get("export")
    its = log.get("iterations", [])
    last = its[-1] if its else {}
    print(f"distilled {len(its)} iteration(s): buffer {last.get('buffer_frames', 0)} frames, "
          f"loss {last.get('loss')}" + (f" -> {ex['onnx']} ({ex['parameters']} parameters)" if ex else ""))
    write_json(args.json, log)
    return 0
