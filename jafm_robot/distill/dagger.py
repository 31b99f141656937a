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
   whole normalised chunk (the same objective as ``jafm-robot train``). Normalisation statistics are
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
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.contract import ACTION_DIM, TASKS
from jafm_robot.distill.buffer import ChunkBuffer, buffer_from_lerobot
from jafm_robot.distill.phrasings import PhrasingSplit, instruction_for, reset_with_phrasing, split_phrasings
from jafm_robot.distill.teachers import BaseTeacher, load_teacher

LOG_NAME = "distill_log.json"
EVAL_SEED_OFFSET = 1_000_000  # evaluation seeds never overlap collection seeds
# what must match for --resume to continue a run (anything else may change, e.g. --iterations)
RESUME_KEYS = ("teacher", "student_config", "tasks", "languages", "chunk_len", "image_size", "cameras",
               "holdout_phrasings", "episodes_per_iter", "seed", "dataset_init", "student_init")


@dataclass
class DistillConfig:
    teacher: str
    out: str
    student_config: str = "small"
    tasks: list[str] = field(default_factory=lambda: ["Reach"])
    languages: list[str] = field(default_factory=lambda: ["en"])
    iterations: int = 5
    episodes_per_iter: int = 10
    steps_per_iter: int = 500
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    grad_clip: float = 1.0
    beta0: float = 1.0
    beta_decay: float = 0.5
    chunk_len: int = 10
    image_size: int = 128
    cameras: str = "auto"  # auto = the student size's cameras
    replan_every: int | None = None
    max_steps: int | None = None
    holdout_phrasings: int = 1
    eval_episodes: int = 5
    eval_teacher: bool = True
    dataset_init: str | None = None
    # a `jafm-robot train` checkpoint to start the student from (its size, cameras and frozen
    # normalisation come with it): DAgger then only has to fix where behaviour cloning drifts
    student_init: str | None = None
    shift_pad: int = 4
    seed: int = 0
    resume: bool = False
    export: bool = True
    device: str = "cpu"
    threads: int | None = None
    progress: bool = True

    def validate(self) -> None:
        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.tasks:
            raise ValueError(f"unknown task(s) {bad or self.tasks}; choose from {', '.join(TASKS)}")
        if self.iterations < 1 or self.episodes_per_iter < 1:
            raise ValueError("--iterations and --episodes-per-iter must be >= 1")
        if self.steps_per_iter < 0 or self.batch_size < 1 or self.eval_episodes < 0:
            raise ValueError("--steps-per-iter and --eval-episodes must be >= 0, --batch-size >= 1")
        if not (0.0 <= self.beta0 <= 1.0) or not (0.0 <= self.beta_decay <= 1.0):
            raise ValueError(f"--beta0 and --beta-decay must be in [0, 1], got {self.beta0}, {self.beta_decay}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"--max-steps must be >= 1, got {self.max_steps}")


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


# -- evaluation ----------------------------------------------------------------------------------
def evaluate_phrasings(envs: dict[str, Any], make_act: Callable[[Any], Any], tasks: list[str], languages: list[str],
                       splits: dict[tuple[str, str], PhrasingSplit], episodes: int, seed: int,
                       max_steps: int | None) -> dict[str, Any]:
    """Success per task/language on held-out seeds, separately on training and held-out phrasings.

    Returns ``{"Reach/en": {"train_phrasings": summary, "held_out_phrasings": summary}, ...}`` with
    ``experts.rollout.summarize`` summaries (the same JSON ``jafm-robot eval`` writes).
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

        if cfg.student_config not in SIZES:
            raise ValueError(f"unknown student size {cfg.student_config!r}; choose one of {', '.join(SIZES)}")
        overrides: dict[str, Any] = {"chunk_len": cfg.chunk_len, "image_size": cfg.image_size}
        if cfg.cameras != "auto":
            overrides["cameras"] = tuple(c.strip() for c in cfg.cameras.split(",") if c.strip())
        self.vcfg = get_config(cfg.student_config, **overrides)
        self.cameras = list(self.vcfg.cameras)
        self.envs: dict[str, Any] = {}
        self.model: Any = None
        self.opt: Any = None
        self.step = 0
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

    def _config_dict(self) -> dict[str, Any]:
        d = asdict(self.cfg)
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

        from jafm_robot.training.trainer import cpu_threads

        cfg = self.cfg
        if cfg.device == "cpu":
            torch.set_num_threads(cfg.threads or cpu_threads(1))
        torch.manual_seed(cfg.seed)
        dt = self.action_dt
        if self.teacher.action_dt is not None and abs(self.teacher.action_dt - dt) > 1e-9:
            raise ValueError(f"teacher {self.teacher.name} plans points {self.teacher.action_dt}s apart, the env steps {dt}s")
        if self.log_path.is_file() and not cfg.resume:
            raise ValueError(f"{self.out} already holds a distill run; pass --resume or choose another --out")
        if cfg.resume:
            return self._resume()
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = {"config": self._config_dict(), "argv": self.argv, "teacher": self.teacher.describe(),
                    "student": {"size": self.vcfg.name, "vla_config": self.vcfg.to_dict()},
                    "phrasings": self.phrasings_table(), "buffer": "npz per iteration under buffer/ (see distill/buffer.py)",
                    "iterations": []}
        if cfg.dataset_init:
            init = self._dataset_init_buffer()
            self.log["dataset_init"] = {"root": cfg.dataset_init, "episodes": len(init.episodes), "frames": len(init)}
        if cfg.student_init:
            self._init_student(Path(cfg.student_init), torch)
        self._write_log()
        return 0

    def _dataset_init_buffer(self) -> ChunkBuffer:
        """The --dataset-init episodes (held-out phrasings dropped) into the buffer. They are read
        again from the dataset on --resume rather than copied: a recorded dataset is already on disk,
        and recompressing gigabytes of frames into the run folder took minutes."""
        from jafm_robot.datasets.lerobot_v3 import LeRobotV3Dataset

        cfg = self.cfg
        held = [t for s in self.splits.values() for t in s.texts()["held_out"]]
        init = buffer_from_lerobot(cfg.dataset_init, self.cameras, cfg.chunk_len, cfg.image_size, exclude_templates=held)
        self.buffer.extend(init)
        self.data_record_commands = LeRobotV3Dataset(cfg.dataset_init).record_commands()
        return init

    def _init_student(self, path: Path, torch: Any) -> None:
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
        self._make_optimizer(torch)
        self.log["student"] = {"size": c.name, "vla_config": c.to_dict(), "init": str(path),
                               "init_command": shlex.join(ckpt.get("argv") or []),
                               "init_record_commands": list((ckpt.get("dataset") or {}).get("record_commands") or [])}

    def _resume(self) -> int:
        import torch

        if not self.log_path.is_file():
            raise FileNotFoundError(f"--resume: no {LOG_NAME} in {self.out}")
        self.log = json.loads(self.log_path.read_text())
        old = self.log.get("config", {})
        new = self._config_dict()
        diff = [k for k in RESUME_KEYS if old.get(k) != new.get(k)]
        if diff:
            raise ValueError(f"--resume: {', '.join(f'--{k.replace(chr(95), chr(45))}' for k in diff)} differ from the run in {self.out}")
        self.log["config"] = new
        if self.cfg.dataset_init:
            init = self._dataset_init_buffer()
            want = self.log.get("dataset_init", {}).get("frames")
            if want is not None and want != len(init):
                raise ValueError(f"--resume: {self.cfg.dataset_init} now has {len(init)} usable frames, the run started "
                                 f"with {want}; the dataset changed")
        done = [e["iteration"] for e in self.log.get("iterations", [])]
        for i in done:
            self.buffer.extend(ChunkBuffer.load(self.out / "buffer" / f"iter_{i:03d}.npz"))
        ck = self.log.get("pretrain_checkpoint")
        if done:
            ck = self.log["iterations"][-1]["checkpoint"]
        if ck:
            self._load_checkpoint(Path(ck) if Path(ck).is_absolute() else self.out / ck, torch)
        elif self.cfg.student_init:
            self._init_student(Path(self.cfg.student_init), torch)
        return (done[-1] + 1) if done else 0

    def _load_checkpoint(self, path: Path, torch: Any) -> None:
        from jafm_robot.policies.checkpoint import policy_from_checkpoint, read_checkpoint

        ckpt = read_checkpoint(path, map_location=self.cfg.device)
        self.model, _ = policy_from_checkpoint(ckpt, map_location=self.cfg.device)
        self.model.to(self.cfg.device).train()
        self._make_optimizer(torch)
        if ckpt.get("optimizer"):
            self.opt.load_state_dict(ckpt["optimizer"])
        self.step = int(ckpt.get("step", 0))
        self.last_loss = ckpt.get("loss")

    def phrasings_table(self) -> dict[str, dict[str, list[str]]]:
        """``{"Reach/en": {"train": [...], "held_out": [...]}}``: what the card reports."""
        return {f"{t}/{lang}": s.texts() for (t, lang), s in self.splits.items()}

    # -- training --------------------------------------------------------------------------------
    def _make_optimizer(self, torch: Any) -> None:
        params = list(self.model.named_parameters())
        no_decay_names = ("pos", "queries", "type_emb")
        decay = [p for n, p in params if p.ndim >= 2 and not any(k in n for k in no_decay_names)]
        rest = [p for n, p in params if not (p.ndim >= 2 and not any(k in n for k in no_decay_names))]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.cfg.weight_decay},
                                      {"params": rest, "weight_decay": 0.0}], lr=self.cfg.lr)

    def train_student(self, steps: int, iteration: int) -> float | None:
        """``steps`` optimiser steps on the whole buffer (L1 on the normalised chunk); builds the
        student (and freezes its normalisation) on first call."""
        import torch
        import torch.nn.functional as F

        from jafm_robot.policies.vla.modeling_vla import VLAPolicy

        cfg = self.cfg
        if len(self.buffer) == 0:
            raise ValueError("the aggregated dataset is empty; nothing to train on")
        if self.model is None:
            self.model = VLAPolicy(self.vcfg, self.buffer.stats()).to(cfg.device)
            self._make_optimizer(torch)
        if steps <= 0:
            return self.last_loss
        self.model.train()
        rng = np.random.default_rng([cfg.seed, iteration, 7])
        warm = max(1, min(cfg.warmup_steps, steps))
        losses = []
        bar = self._bar(steps, f"train it{iteration}")
        try:
            for k in range(steps):
                for g in self.opt.param_groups:  # linear warmup from the run's first step, then constant
                    g["lr"] = cfg.lr * min(1.0, (self.step + 1) / warm)
                idx = rng.integers(0, len(self.buffer), size=min(cfg.batch_size, len(self.buffer)))
                b = self.buffer.batch(idx, rng, cfg.shift_pad)
                dev = cfg.device
                images = {c: torch.from_numpy(v).to(dev) for c, v in b.images.items()}
                state = torch.from_numpy(b.state).to(dev)
                pred = self.model.predict_normalized(images, state, torch.from_numpy(b.instruction).to(dev))
                loss = F.l1_loss(pred, self.model.normalize_actions(torch.from_numpy(b.actions).to(dev), state))
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at step {self.step}; lower --lr")
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.opt.step()
                self.step += 1
                losses.append(loss.item())
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
        from jafm_robot.policies.checkpoint import save_checkpoint
        from jafm_robot.training.trainer import policy_stats

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
        payload = {"step": self.step, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                   "vla_config": self.vcfg.to_dict(), "stats": policy_stats(self.model), "train_config": self._config_dict(),
                   "dataset": facts, "argv": self.argv, "loss": self.last_loss, "distill": {"teacher": self.teacher.describe()}}
        save_checkpoint(path, payload)
        save_checkpoint(self.out / "checkpoints" / "last.pt", payload)
        return path

    # -- collection ------------------------------------------------------------------------------
    def collect(self, iteration: int, beta: float) -> ChunkBuffer:
        cfg = self.cfg
        combos = list(product(cfg.tasks, cfg.languages))
        rng = np.random.default_rng([cfg.seed, iteration, 1])
        student = _ModelPolicy(self.model, self.action_dt, cfg.device) if self.model is not None else None
        new = ChunkBuffer(self.cameras, cfg.image_size, cfg.chunk_len)
        bar = self._bar(cfg.episodes_per_iter, f"collect it{iteration} beta={beta:.2f}")
        try:
            for e in range(cfg.episodes_per_iter):
                g = iteration * cfg.episodes_per_iter + e
                task, lang = combos[g % len(combos)]
                driver = "teacher" if (student is None or rng.random() < beta) else "student"
                arrays, row = collect_episode(self.env(task), self.teacher, student, driver, cfg.seed + g, lang,
                                              self.splits[(task, lang)], self.cameras, cfg.chunk_len,
                                              cfg.replan_every, cfg.max_steps)
                new.add_episode(arrays["images"], arrays["state"], arrays["instruction"], arrays["labels"],
                                {**row, "iteration": iteration})
                bar.update(1)
        finally:
            bar.close()
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
            if cfg.dataset_init and not cfg.student_init and self.model is None and start == 0:
                self.train_student(cfg.steps_per_iter, -1)
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
                loss = self.train_student(cfg.steps_per_iter, it)
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


__all__ = ["ACTION_DIM", "DistillConfig", "DistillRun", "beta_for", "collect_episode", "distill", "evaluate_phrasings"]
