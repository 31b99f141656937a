"""DAgger with action-chunk matching: the loop behind ``jafm-robot distill``.

Iteration i:

1. **Collect** ``episodes_per_iter`` episodes over the task x language grid. Each episode is driven
   by the teacher with probability ``beta_i`` and by the current student otherwise (a per-episode
   mixture: a chunked policy cannot be mixed per step without one of them acting on a plan it did
   not make). Iteration 0 is always teacher-driven (there is no student yet) unless
   ``--dataset-init`` gave data to pre-train one; afterwards ``beta_i = beta0 * beta_decay**i``.
   The student drives exactly as it will be deployed (``ChunkExecutor``: re-plan every K points,
   crossfaded), so the states it visits are the states it will meet.
2. **Label** every visited observation with the teacher's chunk (``teacher.label(obs, env)``); for
   the scripted expert driving its own episode the labels are its executed next actions
   (see :mod:`~jafm_robot.distill.teachers`). Training episodes only ever use the training
   phrasings (:mod:`~jafm_robot.distill.phrasings`).
3. **Aggregate** into the buffer (npz per iteration, see :mod:`~jafm_robot.distill.buffer`) and
   **train** the student ``steps_per_iter`` AdamW steps on the whole buffer with the L1 loss on the
   whole normalised chunk (the same objective as ``jafm-robot train``, through the same
   :class:`~jafm_robot.training.learner.Learner`: parameter groups, clipping, schedule, checkpoint
   payload and resume are written once for both). Normalisation statistics are
   computed from the first data and then frozen: re-normalising under a trained network would shift
   every one of its outputs.
4. **Checkpoint** (trainer-compatible ``.pt``: ``jafm-robot export/eval`` read it) and **evaluate**
   the student on held-out seeds, separately on training and on held-out phrasings.

Finally the student is exported (ONNX + card via the existing exporter) and the card gets the
distillation facts: teacher, per-iteration success, phrasings used/held out, success on held-out
phrasings and the exact command. ``--resume`` continues after the last *completed* iteration
(buffer files, the iteration's checkpoint and the JSON log are written in an order that makes a
killed run resumable at any point).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.configs import nested, option, to_flat
from jafm_robot.contract import ACTION_DIM, LANGUAGES, TASKS
from jafm_robot.distill.buffer import ChunkBuffer, buffer_from_lerobot
from jafm_robot.distill.phrasings import PhrasingSplit, instruction_for, reset_with_phrasing, split_phrasings
from jafm_robot.distill.teachers import BaseTeacher, load_teacher
from jafm_robot.training.config import TrainConfig

LOG_NAME = "distill_log.json"
EVAL_SEED_OFFSET = 1_000_000  # evaluation seeds never overlap collection seeds
# what must match for --resume to continue a run (anything else may change, e.g. --iterations)
RESUME_KEYS = ("teacher", "student_config", "tasks", "languages", "chunk_len", "image_size", "cameras",
               "holdout_phrasings", "episodes_per_iter", "seed", "dataset_init", "student_init")


def task_list(text: str) -> list[str]:
    """``--tasks Reach,PickPlace`` -> the task names, with a clear error for an unknown or empty list."""
    tasks = [t.strip() for t in text.split(",") if t.strip()]
    if not tasks:
        raise ValueError("--tasks is empty")
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}; choose one of {', '.join(TASKS)}")
    return tasks


def language_list(text: str) -> list[str]:
    """``--lang en,ja`` -> the languages, with a clear error for anything else."""
    langs = [s.strip() for s in text.split(",") if s.strip()]
    bad = [lang for lang in langs if lang not in LANGUAGES]
    if bad or not langs:
        raise ValueError(f"unknown language {','.join(bad) or text!r}; choose from {', '.join(LANGUAGES)}")
    return langs


#: The TrainConfig fields a distill run sets for its student, under their ``distill`` option names
#: (configs.nested): the student is trained like ``jafm-robot train`` trains, only on the DAgger
#: buffer, ``steps_per_iter`` steps at a time, with warmup then a constant LR over the whole run.
STUDENT_TRAINING: dict[str, dict[str, Any]] = {
    "config": {"name": "student_config", "default": "small", "help": "student size: tiny, small, base, large"},
    "steps": {"name": "steps_per_iter", "default": 500, "help": "student optimiser steps after each collection"},
    "out": {"help": "run folder: buffer/, checkpoints/, distill_log.json, student.onnx(+.json)"},
    "dataset": {"name": "dataset_init", "default": None, "required": False,
                "help": "LeRobot v3 dataset to seed the buffer and pre-train the student"},
    "batch_size": {"help": None},
    "lr": {},
    "weight_decay": {},
    "warmup_steps": {"default": 50, "cli": False},
    "grad_clip": {},
    "chunk_len": {},
    "cameras": {"help": "auto (the student size's), image, or image,wrist_image"},
    "shift_pad": {},
    "seed": {},
    "device": {"default": "cpu", "choices": ["cpu", "cuda"]},
    "threads": {"help": "torch CPU threads (default: OMP_NUM_THREADS or cores/2)"},
    "resume": {"help": "continue after the last completed iteration in --out"},
}


def _student_training() -> TrainConfig:
    return TrainConfig(**{k: v["default"] for k, v in STUDENT_TRAINING.items() if "default" in v})


@dataclass
class DistillConfig:
    """A ``jafm-robot distill`` run: the DAgger settings, and in ``train`` the
    :class:`~jafm_robot.training.config.TrainConfig` the student trains with (its size, the run
    folder, the optimiser settings, ``steps`` per iteration). Build one from the flat option names
    with ``configs.from_flat(DistillConfig, {...})``; :func:`configs.to_flat` gives them back (the
    layout of ``distill_log.json``'s ``config``)."""

    teacher: str = option("", required=True, help="expert | PATH.pt | PATH.onnx | module:function (obs -> chunk)")
    # (RUF009: option and nested return dataclasses.field(...), like field itself)
    tasks: list[str] = option(default_factory=lambda: ["Reach"], text_default="Reach", convert=task_list,  # noqa: RUF009
                              help="comma-separated tasks, e.g. Reach,PickPlace")
    languages: list[str] = option(default_factory=lambda: ["en"], flag="--lang", text_default="en",  # noqa: RUF009
                                  convert=language_list, help="en, ja or en,ja")
    iterations: int = option(5, help="DAgger iterations (with --resume: the new total)")
    episodes_per_iter: int = option(10)
    train: TrainConfig = nested(_student_training, STUDENT_TRAINING)  # noqa: RUF009
    beta0: float = option(1.0, help="teacher-driven episode probability at iteration 0 "
                          "(iteration 0 is always teacher-driven without --dataset-init)")
    beta_decay: float = option(0.5, help="beta_i = beta0 * beta_decay**i")
    # a `jafm-robot train` checkpoint to start the student from (its size, cameras and frozen
    # normalisation come with it): DAgger then only has to fix where behaviour cloning drifts
    student_init: str | None = option(None, help="a `jafm-robot train` checkpoint, or a shipped .onnx policy (rebuilt), "
                                      "to start the student from (size, cameras, normalisation come with it)")
    holdout_phrasings: int = option(1, help="instruction templates per task/language never trained on")
    eval_episodes: int = option(5, help="per task/language and phrasing split, each iteration (0 = off)")
    eval_teacher: bool = option(True, flag="--no-eval-teacher", help="do not measure the teacher on the same eval seeds")
    image_size: int = option(128)
    replan_every: int | None = option(None, help="action points between student inferences (default chunk_len//2)")
    max_steps: int | None = option(None, help="cap on episode length (collection and eval)")
    export: bool = option(True, flag="--no-export", help="skip the final ONNX export")
    workers: int | None = option(None, metavar="N", help="worker processes the collection is spread over through Ray "
                                 "(default: $JAFM_WORKERS, else the cores available); 1 collects in this process")
    ray_address: str | None = option(None, metavar="ADDR", help="join a running Ray cluster (auto, HOST:6379) "
                                     "instead of starting a local one")
    progress: bool = True

    # the TrainConfig settings the collection and evaluation read too
    @property
    def out(self) -> str:
        return self.train.out

    @property
    def seed(self) -> int:
        return self.train.seed

    @property
    def chunk_len(self) -> int:
        return self.train.chunk_len

    @property
    def device(self) -> str:
        """``cpu`` or ``cuda`` (a ``TrainConfig``'s ``auto`` picks CUDA where there is a GPU)."""
        if self.train.device != "auto":
            return self.train.device
        from jafm_robot.training.learner import pick_device

        return pick_device("auto").type

    def validate(self) -> None:
        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.tasks:
            raise ValueError(f"unknown task(s) {bad or self.tasks}; choose from {', '.join(TASKS)}")
        if not self.teacher or not self.train.out:
            raise ValueError("--teacher and --out are required")
        if self.iterations < 1 or self.episodes_per_iter < 1:
            raise ValueError("--iterations and --episodes-per-iter must be >= 1")
        if self.train.steps < 0 or self.train.batch_size < 1 or self.eval_episodes < 0:
            raise ValueError("--steps-per-iter and --eval-episodes must be >= 0, --batch-size >= 1")
        if not (0.0 <= self.beta0 <= 1.0) or not (0.0 <= self.beta_decay <= 1.0):
            raise ValueError(f"--beta0 and --beta-decay must be in [0, 1], got {self.beta0}, {self.beta_decay}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"--max-steps must be >= 1, got {self.max_steps}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        plain = TrainConfig()
        unused = [f.name for f in fields(TrainConfig)
                  if f.name not in STUDENT_TRAINING and getattr(self.train, f.name) != getattr(plain, f.name)]
        if unused:
            raise ValueError(f"distill trains the student on the buffer with the plain chunk L1; the train setting(s) "
                             f"{', '.join(unused)} do not apply")


def beta_for(cfg: DistillConfig, iteration: int, has_student: bool) -> float:
    """Probability that an episode of ``iteration`` is teacher-driven."""
    if not has_student:
        return 1.0
    return float(cfg.beta0 * cfg.beta_decay ** iteration)


# -- policies as ChunkExecutor sees them ---------------------------------------------------------
class _ModelPolicy:
    """The in-memory student as a chunk predictor (what ChunkExecutor drives)."""

    kind = "torch"

    def __init__(self, model: Any, action_dt: float, device: str) -> None:
        self.model, self.action_dt, self.device = model, float(action_dt), device
        self.chunk_len = int(model.cfg.chunk_len)

    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        import torch

        from jafm_robot.runtime.observation import prepare_observation

        cfg = self.model.cfg
        feeds = prepare_observation(obs, cfg.cameras, cfg.image_size)
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            images = {c: torch.from_numpy(feeds[c]).to(self.device) for c in cfg.cameras}
            out = self.model(images, torch.from_numpy(feeds["state"]).to(self.device),
                             torch.from_numpy(feeds["instruction"]).to(self.device))
        self.model.train(was_training)
        return out[0].cpu().numpy().astype(np.float32)


class _TeacherPolicy:
    """A teacher as a chunk predictor. ``current`` short-cuts a label already computed for this obs."""

    kind = "teacher"

    def __init__(self, teacher: BaseTeacher, env: Any, action_dt: float) -> None:
        self.teacher, self.env, self.action_dt = teacher, env, float(action_dt)
        self.chunk_len = teacher.chunk_len
        self.current: np.ndarray | None = None

    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        if self.current is not None:
            return self.current
        return self.teacher.label(obs, self.env)


def _executor(policy: Any, replan_every: int | None) -> Any:
    from jafm_robot.policies.inference import ChunkExecutor

    return ChunkExecutor(policy, replan_every)


# -- collection ----------------------------------------------------------------------------------
def collect_episode(env: Any, teacher: BaseTeacher, student: _ModelPolicy | None, driver: str, seed: int,
                    language: str, split: PhrasingSplit, cameras: list[str], chunk_len: int,
                    replan_every: int | None, max_steps: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one episode and return (arrays, info row). Every visited observation gets a teacher chunk."""
    from jafm_robot.policies.vla.processor_vla import chunk_indices

    action_dt = float(env.unwrapped.action_dt)
    obs, info, tidx = reset_with_phrasing(env, seed, language, split.train)
    hindsight = driver == "teacher" and teacher.hindsight
    tpol: _TeacherPolicy | None = None
    if driver == "teacher":
        if hindsight:
            drv = teacher.driver(env)  # type: ignore[attr-defined]
        else:
            tpol = _TeacherPolicy(teacher, env, action_dt)
            drv = _executor(tpol, replan_every)
    else:
        if student is None:
            raise RuntimeError("student-driven episode before any student exists")
        drv = _executor(student, replan_every)
    drv.reset()
    frames: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
    states, instrs, labels, actions = [], [], [], []
    limit = max_steps or getattr(env.spec, "max_episode_steps", None) or 10_000
    success = bool(info.get("is_success", False))
    for _ in range(int(limit)):
        for c in cameras:
            frames[c].append(np.asarray(obs[c], np.uint8))
        states.append(np.asarray(obs["state"], np.float32))
        instrs.append(np.asarray(obs["instruction"], np.uint8))
        if not hindsight:
            lab = teacher.label(obs, env)
            labels.append(lab)
            if tpol is not None:
                tpol.current = lab
        action = np.asarray(drv(obs), np.float32)
        actions.append(action)
        obs, _r, terminated, truncated, info = env.step(action)
        success = bool(info.get("is_success", False))
        if terminated or truncated:
            break
    n = len(states)
    if hindsight:
        acts = np.stack(actions)
        lab_arr = acts[chunk_indices(np.zeros(n, np.int64), chunk_len)]
    else:
        lab_arr = np.stack(labels).astype(np.float32)
    arrays = {"images": {c: np.stack(v) for c, v in frames.items()}, "state": np.stack(states),
              "instruction": np.stack(instrs), "labels": lab_arr}
    row = {"task": env.unwrapped.task.name, "language": language, "seed": int(seed),
           "instruction": str(info.get("instruction_text", "")), "template_index": int(tidx), "driver": driver,
           "success": success, "steps": n}
    return arrays, row


@dataclass(frozen=True, eq=False)
class CollectSpec:
    """What a collection worker rebuilds: the teacher, the envs, the phrasing splits and the student
    of this iteration (a checkpoint dict, ``None`` before the first)."""

    teacher: str
    chunk_len: int
    image_size: int
    cameras: tuple[str, ...]
    holdout_phrasings: int
    replan_every: int | None
    max_steps: int | None
    action_dt: float
    student: dict[str, Any] | None = None


class CollectWorker:
    """Teacher, student and envs built once per iteration, then one episode per call
    ``(seed, task, language, driver)``; returns :func:`collect_episode`'s (arrays, row)."""

    def __init__(self, spec: CollectSpec, teacher: BaseTeacher | None = None, student: _ModelPolicy | None = None,
                 envs: Callable[[str], Any] | None = None) -> None:
        self.spec = spec
        self.teacher = teacher if teacher is not None else load_teacher(spec.teacher, chunk_len=spec.chunk_len, device="cpu")
        self.student = student
        if student is None and spec.student is not None:
            import torch

            from jafm_robot.policies.checkpoint import policy_from_checkpoint

            torch.set_num_threads(1)  # the workers share the cores between them
            model, _ = policy_from_checkpoint(spec.student)
            self.student = _ModelPolicy(model, spec.action_dt, "cpu")
        self._own: dict[str, Any] = {}
        self._envs = envs
        self._splits: dict[tuple[str, str], PhrasingSplit] = {}

    def env(self, task: str) -> Any:
        if self._envs is not None:
            return self._envs(task)
        if task not in self._own:
            from jafm_robot.envs.make import make_env

            self._own[task] = make_env(task, self.spec.image_size)
        return self._own[task]

    def __call__(self, job: tuple[int, str, str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        seed, task, lang, driver = job
        if (task, lang) not in self._splits:
            self._splits[(task, lang)] = split_phrasings(task, lang, self.spec.holdout_phrasings)
        sp = self.spec
        return collect_episode(self.env(task), self.teacher, self.student, driver, seed, lang, self._splits[(task, lang)],
                               list(sp.cameras), sp.chunk_len, sp.replan_every, sp.max_steps)

    def close(self) -> None:
        for env in self._own.values():
            env.close()


# -- evaluation ----------------------------------------------------------------------------------
def evaluate_phrasings(envs: dict[str, Any], make_act: Callable[[Any], Any], tasks: list[str], languages: list[str],
                       splits: dict[tuple[str, str], PhrasingSplit], episodes: int, seed: int,
                       max_steps: int | None) -> dict[str, Any]:
    """Success per task/language on held-out seeds, separately on training and held-out phrasings.

    Returns ``{"Reach/en": {"train_phrasings": summary, "held_out_phrasings": summary}, ...}`` with
    ``envs.rollout.summarize`` summaries (the same JSON ``jafm-robot eval`` writes).
    """
    from jafm_robot.envs.rollout import rollout, summarize

    out: dict[str, Any] = {}
    for task, lang in product(tasks, languages):
        env = envs[task]
        split = splits[(task, lang)]
        entry: dict[str, Any] = {}
        for kind, allowed in (("train_phrasings", split.train), ("held_out_phrasings", split.held_out)):
            if not allowed:
                continue
            results = []
            t0 = time.perf_counter()
            for i in range(episodes):
                s = EVAL_SEED_OFFSET + seed + i
                env.reset(seed=s, options={"language": lang})
                text = instruction_for(env, lang, allowed[s % len(allowed)])
                results.append(rollout(env, make_act(env), s, lang, max_steps=max_steps, options={"instruction": text}))
            entry[kind] = summarize(results, task=task, seed=EVAL_SEED_OFFSET + seed, wall_s=time.perf_counter() - t0,
                                    language=lang, phrasings=kind, templates=list(allowed),
                                    instructions=[r.instruction for r in results])
        out[f"{task}/{lang}"] = entry
    return out


def _success_table(ev: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {k: {kind: v[kind]["success_rate"] for kind in v} for k, v in ev.items()}


# -- the run -------------------------------------------------------------------------------------
class DistillRun:
    """State of one ``jafm-robot distill`` run folder; :meth:`run` does the whole loop."""

    def __init__(self, cfg: DistillConfig, argv: list[str] | None = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.argv = list(argv or [])
        self.out = Path(cfg.out)
        self.log_path = self.out / LOG_NAME
        self.log: dict[str, Any] = {}
        self.teacher = load_teacher(cfg.teacher, chunk_len=cfg.chunk_len, device=cfg.device)
        self.splits = {(t, lang): split_phrasings(t, lang, cfg.holdout_phrasings) for t, lang in product(cfg.tasks, cfg.languages)}
        from jafm_robot.policies.vla.configuration_vla import SIZES, get_config

        size = cfg.train.config
        if size not in SIZES:
            raise ValueError(f"unknown student size {size!r}; choose one of {', '.join(SIZES)}")
        overrides: dict[str, Any] = {"chunk_len": cfg.chunk_len, "image_size": cfg.image_size}
        if cfg.train.cameras != "auto":
            overrides["cameras"] = tuple(c.strip() for c in cfg.train.cameras.split(",") if c.strip())
        self.vcfg = get_config(size, **overrides)
        self.cameras = list(self.vcfg.cameras)
        self.envs: dict[str, Any] = {}
        self.model: Any = None
        self.learner: Any = None  # training.learner.Learner, made with the student
        self.last_loss: float | None = None
        self.buffer = ChunkBuffer(self.cameras, cfg.image_size, cfg.chunk_len)
        self.data_record_commands: list[str] = []  # of --dataset-init (read with it)

    # -- helpers --------------------------------------------------------------------------------
    def env(self, task: str) -> Any:
        if task not in self.envs:
            from jafm_robot.envs.make import make_env

            self.envs[task] = make_env(task, self.cfg.image_size)
        return self.envs[task]

    def close(self) -> None:
        for e in self.envs.values():
            e.close()
        self.envs.clear()

    @property
    def action_dt(self) -> float:
        return float(self.env(self.cfg.tasks[0]).unwrapped.action_dt)

    def _write_log(self) -> None:
        from jafm_robot.reporting import write_json

        tmp = self.log_path.with_name(LOG_NAME + ".tmp")
        write_json(tmp, self.log)
        os.replace(tmp, self.log_path)

    @property
    def step(self) -> int:
        """Optimiser steps the student has taken over the whole run."""
        return self.learner.step if self.learner is not None else 0

    def _config_dict(self) -> dict[str, Any]:
        d = to_flat(self.cfg)  # flat, under the option names: what --resume compares (RESUME_KEYS)
        d.pop("resume", None)
        d.pop("progress", None)
        return d

    def _bar(self, total: int, desc: str) -> Any:
        from jafm_robot.reporting import progress

        return progress(total=total, desc=desc, disable=not self.cfg.progress, leave=False)

    # -- setup / resume --------------------------------------------------------------------------
    def _setup(self) -> int:
        """Prepare the folder; returns the first iteration to run."""
        import torch

        from jafm_robot.training.learner import cpu_threads

        cfg = self.cfg
        if cfg.device == "cpu":
            torch.set_num_threads(cfg.train.threads or cpu_threads(1))
        torch.manual_seed(cfg.seed)
        dt = self.action_dt
        if self.teacher.action_dt is not None and abs(self.teacher.action_dt - dt) > 1e-9:
            raise ValueError(f"teacher {self.teacher.name} plans points {self.teacher.action_dt}s apart, the env steps {dt}s")
        if self.log_path.is_file() and not cfg.train.resume:
            raise ValueError(f"{self.out} already holds a distill run; pass --resume or choose another --out")
        if cfg.train.resume:
            return self._resume()
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = {"config": self._config_dict(), "argv": self.argv, "teacher": self.teacher.describe(),
                    "student": {"size": self.vcfg.name, "vla_config": self.vcfg.to_dict()},
                    "phrasings": self.phrasings_table(), "buffer": "npz per iteration under buffer/ (see distill/buffer.py)",
                    "iterations": []}
        if cfg.train.dataset:
            init = self._dataset_init_buffer()
            self.log["dataset_init"] = {"root": cfg.train.dataset, "episodes": len(init.episodes), "frames": len(init)}
        if cfg.student_init:
            self._init_student(Path(cfg.student_init))
        self._write_log()
        return 0

    def _dataset_init_buffer(self) -> ChunkBuffer:
        """The --dataset-init episodes (held-out phrasings dropped) into the buffer. They are read
        again from the dataset on --resume rather than copied: a recorded dataset is already on disk,
        and recompressing gigabytes of frames into the run folder took minutes."""
        from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset

        cfg = self.cfg
        held = [t for s in self.splits.values() for t in s.texts()["held_out"]]
        init = buffer_from_lerobot(cfg.train.dataset, self.cameras, cfg.chunk_len, cfg.image_size, exclude_templates=held)
        self.buffer.extend(init)
        self.data_record_commands = LeRobotV3Dataset(cfg.train.dataset).record_commands()
        return init

    def _init_student(self, path: Path) -> None:
        """Start from a trained checkpoint: weights and normalisation kept, optimiser and step fresh."""
        from jafm_robot.policies.checkpoint import policy_from_checkpoint

        if not path.is_file():
            raise FileNotFoundError(f"--student-init: no checkpoint at {path}")
        model, ckpt = policy_from_checkpoint(path, map_location=self.cfg.device)
        c = model.cfg
        if (list(c.cameras), c.image_size, c.chunk_len) != (self.cameras, self.cfg.image_size, self.cfg.chunk_len):
            raise ValueError(f"--student-init {path}: cameras {list(c.cameras)}, image size {c.image_size}, chunk "
                             f"{c.chunk_len} do not match this run's {self.cameras}, {self.cfg.image_size}, {self.cfg.chunk_len}")
        self.model, self.vcfg = model.to(self.cfg.device).train(), c
        self._new_learner()
        self.log["student"] = {"size": c.name, "vla_config": c.to_dict(), "init": str(path),
                               "init_command": shlex.join(ckpt.get("argv") or []),
                               "init_record_commands": list((ckpt.get("dataset") or {}).get("record_commands") or [])}

    def _resume(self) -> int:
        if not self.log_path.is_file():
            raise FileNotFoundError(f"--resume: no {LOG_NAME} in {self.out}")
        self.log = json.loads(self.log_path.read_text())
        old = self.log.get("config", {})
        new = self._config_dict()
        diff = [k for k in RESUME_KEYS if old.get(k) != new.get(k)]
        if diff:
            raise ValueError(f"--resume: {', '.join(f'--{k.replace(chr(95), chr(45))}' for k in diff)} differ from the run in {self.out}")
        self.log["config"] = new
        if self.cfg.train.dataset:
            init = self._dataset_init_buffer()
            want = self.log.get("dataset_init", {}).get("frames")
            if want is not None and want != len(init):
                raise ValueError(f"--resume: {self.cfg.train.dataset} now has {len(init)} usable frames, the run started "
                                 f"with {want}; the dataset changed")
        done = [e["iteration"] for e in self.log.get("iterations", [])]
        for i in done:
            self.buffer.extend(ChunkBuffer.load(self.out / "buffer" / f"iter_{i:03d}.npz"))
        ck = self.log.get("pretrain_checkpoint")
        if done:
            ck = self.log["iterations"][-1]["checkpoint"]
        if ck:
            self._load_checkpoint(Path(ck) if Path(ck).is_absolute() else self.out / ck)
        elif self.cfg.student_init:
            self._init_student(Path(self.cfg.student_init))
        return (done[-1] + 1) if done else 0

    def _load_checkpoint(self, path: Path) -> None:
        """Continue from one of this run's checkpoints: the student, its optimiser, schedule and step."""
        from jafm_robot.policies.checkpoint import policy_from_checkpoint, read_checkpoint

        ckpt = read_checkpoint(path, map_location=self.cfg.device)
        self.model, _ = policy_from_checkpoint(ckpt, map_location=self.cfg.device)
        self.model.to(self.cfg.device).train()
        self.vcfg = self.model.cfg  # the checkpoint's network (a --student-init size may differ from --student-config)
        self._new_learner()
        # --resume may change --lr (RESUME_KEYS): the schedule continues at the new peak
        self.learner.resume(ckpt, lr=self.cfg.train.lr)
        self.last_loss = ckpt.get("loss")

    def phrasings_table(self) -> dict[str, dict[str, list[str]]]:
        """``{"Reach/en": {"train": [...], "held_out": [...]}}``: what the card reports."""
        return {f"{t}/{lang}": s.texts() for (t, lang), s in self.splits.items()}

    # -- training --------------------------------------------------------------------------------
    def _new_learner(self) -> None:
        """The shared learner for the student: AdamW with the trainer's weight-decay rule and clipping,
        LR warmed up linearly over the run's first ``min(warmup_steps, steps_per_iter)`` steps, then
        constant (a DAgger run has no known total to decay over)."""
        from jafm_robot.training.learner import Learner

        t = self.cfg.train
        warm = max(1, min(t.warmup_steps, t.steps))
        self.learner = Learner(self.model, lr=t.lr, weight_decay=t.weight_decay, grad_clip=t.grad_clip,
                               schedule=lambda s: min(1.0, (s + 1) / warm))

    def train_student(self, steps: int, iteration: int) -> float | None:
        """``steps`` optimiser steps on the whole buffer (L1 on the normalised chunk); builds the
        student (and freezes its normalisation) on first call."""
        import torch
        import torch.nn.functional as F

        from jafm_robot.policies.vla.modeling_vla import VLAPolicy

        t, dev = self.cfg.train, self.cfg.device
        if len(self.buffer) == 0:
            raise ValueError("the aggregated dataset is empty; nothing to train on")
        if self.model is None:
            self.model = VLAPolicy(self.vcfg, self.buffer.stats()).to(dev)
            self._new_learner()
        if steps <= 0:
            return self.last_loss
        self.model.train()
        rng = np.random.default_rng([t.seed, iteration, 7])
        losses = []
        bar = self._bar(steps, f"train it{iteration}")
        try:
            for k in range(steps):
                idx = rng.integers(0, len(self.buffer), size=min(t.batch_size, len(self.buffer)))
                b = self.buffer.batch(idx, rng, t.shift_pad)
                images = {c: torch.from_numpy(v).to(dev) for c, v in b.images.items()}
                state = torch.from_numpy(b.state).to(dev)
                pred = self.model.predict_normalized(images, state, torch.from_numpy(b.instruction).to(dev))
                loss = F.l1_loss(pred, self.model.normalize_actions(torch.from_numpy(b.actions).to(dev), state))
                losses.append(self.learner.update(loss))
                bar.update(1)
                if k % 10 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}")
        finally:
            bar.close()
        self.last_loss = float(np.mean(losses[-max(1, min(len(losses), 20)):]))
        return self.last_loss

    def _record_commands(self) -> list[str]:
        """The commands behind every recorded frame the student saw (--student-init's data, --dataset-init)."""
        cmds = list(self.log.get("student", {}).get("init_record_commands") or []) + self.data_record_commands
        return list(dict.fromkeys(cmds))

    def save_checkpoint(self, name: str) -> Path:
        """A checkpoint in ``jafm-robot train``'s format (export, eval and load_policy read it)."""
        env = self.env(self.cfg.tasks[0]).unwrapped
        robot = getattr(env, "robot_config", None)
        facts = {
            "root": str((self.out / "buffer").resolve()), "fps": round(1.0 / self.action_dt), "action_dt": self.action_dt,
            "cameras": self.cameras, "image_size": self.cfg.image_size, "robot": getattr(robot, "name", "panda"),
            "joint_names": list(getattr(robot, "joint_names", []) or [f"panda_joint{i}" for i in range(1, 8)])[:7],
            "env_tasks": list(self.cfg.tasks), "languages": list(self.cfg.languages),
            "num_episodes": len(self.buffer.episodes), "num_frames": len(self.buffer),
            "record_commands": self._record_commands(),
        }
        path = self.out / "checkpoints" / f"{name}.pt"
        self.learner.save([path, self.out / "checkpoints" / "last.pt"], train_config=self._config_dict(), dataset=facts,
                          argv=self.argv, loss=self.last_loss, distill={"teacher": self.teacher.describe()})
        return path

    # -- collection ------------------------------------------------------------------------------
    def collect(self, iteration: int, beta: float) -> ChunkBuffer:
        """This iteration's episodes, spread over the workers (:mod:`jafm_robot.workers`): who drives
        each episode is drawn here, so the buffer is the same whatever the number of workers, and
        episodes are added in seed order."""
        from functools import partial

        from jafm_robot.workers import Cluster, default_workers, run_all

        cfg = self.cfg
        combos = list(product(cfg.tasks, cfg.languages))
        rng = np.random.default_rng([cfg.seed, iteration, 1])
        student = _ModelPolicy(self.model, self.action_dt, cfg.device) if self.model is not None else None
        jobs = []
        for e in range(cfg.episodes_per_iter):
            g = iteration * cfg.episodes_per_iter + e
            task, lang = combos[g % len(combos)]
            driver = "teacher" if (student is None or rng.random() < beta) else "student"
            jobs.append((cfg.seed + g, (cfg.seed + g, task, lang, driver)))
        cluster = Cluster(workers=cfg.workers or default_workers(), address=cfg.ray_address)
        spec = CollectSpec(cfg.teacher, cfg.chunk_len, cfg.image_size, tuple(self.cameras), cfg.holdout_phrasings,
                           cfg.replan_every, cfg.max_steps, self.action_dt)
        if cluster.parallel:  # each worker rebuilds this iteration's student from its weights
            if self.model is not None:
                from jafm_robot.training.learner import policy_stats

                state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
                spec = replace(spec, student={"vla_config": self.model.cfg.to_dict(), "stats": policy_stats(self.model),
                                              "model": state})
            factory: Callable[[], Any] = partial(CollectWorker, spec)
        else:
            factory = partial(CollectWorker, spec, self.teacher, student, self.env)
        new = ChunkBuffer(self.cameras, cfg.image_size, cfg.chunk_len)
        for _, (arrays, row) in run_all(factory, jobs, cluster, desc=f"collect it{iteration} beta={beta:.2f}",
                                        total=len(jobs), progress=cfg.progress):
            new.add_episode(arrays["images"], arrays["state"], arrays["instruction"], arrays["labels"],
                            {**row, "iteration": iteration})
        return new

    def evaluate_student(self) -> dict[str, Any]:
        student = _ModelPolicy(self.model, self.action_dt, self.cfg.device)
        envs = {t: self.env(t) for t in self.cfg.tasks}
        return evaluate_phrasings(envs, lambda env: _executor(student, self.cfg.replan_every), self.cfg.tasks,
                                  self.cfg.languages, self.splits, self.cfg.eval_episodes, self.cfg.seed, self.cfg.max_steps)

    def evaluate_teacher(self) -> dict[str, Any]:
        t = self.teacher

        def make_act(env: Any) -> Any:
            if t.hindsight:
                return t.driver(env)  # type: ignore[attr-defined]
            return _executor(_TeacherPolicy(t, env, self.action_dt), self.cfg.replan_every)

        envs = {task: self.env(task) for task in self.cfg.tasks}
        return evaluate_phrasings(envs, make_act, self.cfg.tasks, self.cfg.languages, self.splits,
                                  self.cfg.eval_episodes, self.cfg.seed, self.cfg.max_steps)

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        try:
            start = self._setup()
            if cfg.train.dataset and not cfg.student_init and self.model is None and start == 0:
                self.train_student(cfg.train.steps, -1)
                ck = self.save_checkpoint("pretrain")
                self.log["pretrain_checkpoint"] = str(ck.relative_to(self.out))
                self._write_log()
            if cfg.eval_teacher and cfg.eval_episodes > 0 and "teacher_eval" not in self.log:
                self.log["teacher_eval"] = self.evaluate_teacher()
                self._write_log()
            for it in range(start, cfg.iterations):
                t0 = time.perf_counter()
                beta = beta_for(cfg, it, self.model is not None)
                new = self.collect(it, beta)
                new.save(self.out / "buffer" / f"iter_{it:03d}.npz")
                self.buffer.extend(new)
                t1 = time.perf_counter()
                loss = self.train_student(cfg.train.steps, it)
                ck = self.save_checkpoint(f"iter_{it:03d}")
                t2 = time.perf_counter()
                ev = self.evaluate_student() if cfg.eval_episodes > 0 else {}
                drivers = [e["driver"] for e in new.episodes]
                entry = {
                    "iteration": it, "beta": beta,
                    "episodes": len(new.episodes), "teacher_driven": drivers.count("teacher"),
                    "student_driven": drivers.count("student"), "frames_added": len(new),
                    "buffer_frames": len(self.buffer), "buffer_episodes": len(self.buffer.episodes),
                    "collect_success_rate": float(np.mean([e["success"] for e in new.episodes])),
                    "train_steps_total": self.step, "loss": loss,
                    "checkpoint": str(ck.relative_to(self.out)), "eval": ev, "success": _success_table(ev),
                    "collect_s": t1 - t0, "train_s": t2 - t1, "eval_s": time.perf_counter() - t2,
                }
                self.log["iterations"].append(entry)
                self._write_log()
                if cfg.progress:
                    succ = ", ".join(f"{k} {v.get('train_phrasings', 0):.0%}/{v.get('held_out_phrasings', 0):.0%}"
                                     for k, v in entry["success"].items())
                    print(f"iteration {it}: beta {beta:.2f}, +{len(new)} frames ({entry['student_driven']} student-driven "
                          f"episodes), buffer {len(self.buffer)}, loss {loss if loss is None else round(loss, 4)}"
                          + (f", student success train/held-out phrasings: {succ}" if succ else ""), flush=True)
            if cfg.export and self.model is not None:
                self.log["export"] = self.export()
                self._write_log()
            return self.log
        finally:
            self.close()

    def export(self) -> dict[str, Any]:
        """ONNX + card via the existing exporter, then the distillation facts into the card."""
        from jafm_robot.policies.export import export_onnx, update_card_entries
        from jafm_robot.runtime.metadata import card_path

        onnx_path = self.out / "student.onnx"
        cmd = ["jafm-robot", "export", "--checkpoint", str(self.out / "checkpoints" / "last.pt"), "--out", str(onnx_path)]
        card = export_onnx(self.out / "checkpoints" / "last.pt", onnx_path, command=cmd)
        last = self.log["iterations"][-1] if self.log.get("iterations") else {}
        ev = last.get("eval") or {}
        success = {k: v["train_phrasings"] for k, v in ev.items() if "train_phrasings" in v}
        held = {k: v["held_out_phrasings"] for k, v in ev.items() if "held_out_phrasings" in v}
        table = self.phrasings_table()
        init_cmd = self.log.get("student", {}).get("init_command")
        entries: list[tuple[str, str | None, Any]] = [("success", None, success)] if success else []
        entries += [
            ("success_held_out_phrasings", None, held),
            ("phrasings", None, {"train": {k: v["train"] for k, v in table.items()},
                                 "held_out": {k: v["held_out"] for k, v in table.items()}}),
            ("distillation", None, {
                "method": "DAgger, per-episode teacher/student mixture, L1 on the whole action chunk",
                "teacher": self.teacher.describe(),
                "teacher_success": _success_table(self.log.get("teacher_eval") or {}),
                "student_parameters": card["parameters"],
                "parameter_ratio": (self.teacher.parameters / card["parameters"]) if self.teacher.parameters else None,
                "iterations": [{k: e[k] for k in ("iteration", "beta", "teacher_driven", "student_driven", "frames_added",
                                                   "buffer_frames", "loss", "success")} for e in self.log["iterations"]],
                "eval_seeds": f"{EVAL_SEED_OFFSET + self.cfg.seed}..{EVAL_SEED_OFFSET + self.cfg.seed + self.cfg.eval_episodes - 1}",
            }),
            ("commands", None, {**card["commands"], **({"train": init_cmd} if init_cmd else {}),
                                "distill": shlex.join(self.argv)}),
        ]
        update_card_entries(onnx_path, entries)
        return {"onnx": str(onnx_path), "card": str(card_path(onnx_path)), "sha256": card["sha256"],
                "parameters": card["parameters"]}


def distill(cfg: DistillConfig, argv: list[str] | None = None) -> dict[str, Any]:
    """Run (or resume) a distillation; returns the JSON log."""
    return DistillRun(cfg, argv).run()


__all__ = [
    "ACTION_DIM",
    "STUDENT_TRAINING",
    "DistillConfig",
    "DistillRun",
    "beta_for",
    "collect_episode",
    "distill",
    "evaluate_phrasings",
    "language_list",
    "task_list",
]
