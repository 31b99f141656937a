"""The one learner behind `train` and `distill` (weight-decay rule, schedule, resume) and the config
dataclasses the two command lines are derived from (jafm_robot.configs)."""

from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn

from jafm_robot.configs import add_arguments, from_flat, from_namespace, to_flat
from jafm_robot.distill.dagger import DistillConfig
from jafm_robot.training.config import TrainConfig
from jafm_robot.training.learner import Learner, decays, param_groups

# the keys distill_log.json's "config" and a distill checkpoint's train_config had before DistillConfig
# held a TrainConfig: --resume compares an old run's log against them (RESUME_KEYS); the rollouts
# issue added where the collection runs (workers, ray_address), which --resume does not compare
DISTILL_LOG_KEYS = {"teacher", "out", "student_config", "tasks", "languages", "iterations", "episodes_per_iter",
                    "steps_per_iter", "batch_size", "lr", "weight_decay", "warmup_steps", "grad_clip", "beta0", "beta_decay",
                    "chunk_len", "image_size", "cameras", "replan_every", "max_steps", "holdout_phrasings", "eval_episodes",
                    "eval_teacher", "dataset_init", "student_init", "shift_pad", "seed", "resume", "export", "device",
                    "threads", "progress", "workers", "ray_address"}


def test_one_weight_decay_rule_for_every_size():
    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy

    policy = VLAPolicy(get_config("student", image_size=64))
    decay, rest = param_groups(policy, 0.01)
    assert decay["weight_decay"] == 0.01 and rest["weight_decay"] == 0.0
    named = dict(policy.named_parameters())
    assert len(decay["params"]) + len(rest["params"]) == len(named)
    kept = {n for n, p in named.items() if not decays(n, p)}
    assert any(p.ndim >= 2 for n, p in named.items() if n in kept)  # a 2-D embedding table that does not decay
    assert all(named[n].ndim < 2 or any(k in n for k in ("pos", "queries", "type_emb")) for n in kept)


def _learner(model: nn.Module, lr: float = 0.1) -> Learner:
    return Learner(model, lr=lr, weight_decay=0.01, grad_clip=1.0, schedule=lambda s: min(1.0, (s + 1) / 4))


def _steps(learner: Learner, n: int) -> None:
    g = torch.Generator().manual_seed(learner.step)
    for _ in range(n):
        x = torch.randn(8, 3, generator=g)
        learner.update((learner.policy(x) - 1.0).abs().mean())


def test_resume_without_a_scheduler_state_continues_the_warmup():
    """A DAgger checkpoint saved before the loops were one has no scheduler state: resumed inside
    the warmup it continues where the uninterrupted run is, step for step."""
    torch.manual_seed(0)
    whole = nn.Linear(3, 2)
    part = nn.Linear(3, 2)
    part.load_state_dict(whole.state_dict())
    a, b = _learner(whole), _learner(part)
    _steps(a, 2)
    _steps(b, 2)
    old = {"step": b.step, "optimizer": b.opt.state_dict()}  # the old DAgger payload: no "scheduler"
    _steps(a, 3)
    resumed = _learner(part)
    resumed.resume(old)
    assert resumed.step == 2 and resumed.lr == pytest.approx(0.1 * 3 / 4)
    _steps(resumed, 3)
    assert all(torch.equal(p, q) for p, q in zip(whole.parameters(), part.parameters(), strict=True))
    assert resumed.lr == a.lr and resumed.sched.last_epoch == a.sched.last_epoch == 5
    # distill --resume may change --lr: the schedule continues at the new peak
    again = _learner(nn.Linear(3, 2))
    again.resume({"step": a.step, "optimizer": a.opt.state_dict(), "scheduler": a.sched.state_dict()}, lr=0.02)
    assert again.lr == pytest.approx(0.02)


def test_train_options_parse_straight_into_the_config():
    p = argparse.ArgumentParser()
    add_arguments(p, TrainConfig)
    p.add_argument("--json")
    ns = p.parse_args(["--dataset", "d", "--out", "o", "--steps", "7", "--lr", "0.001", "--resume", "--threads", "1",
                       "--norm", "affine", "--init", "x.pt", "--json", "s.json"])
    cfg = from_namespace(TrainConfig, ns)
    assert cfg == TrainConfig(dataset="d", out="o", steps=7, lr=0.001, resume=True, threads=1, norm="affine", init="x.pt")
    assert isinstance(cfg.steps, int) and isinstance(cfg.lr, float)
    with pytest.raises(SystemExit):
        p.parse_args(["--out", "o"])  # --dataset is required
    with pytest.raises(SystemExit):
        p.parse_args(["--dataset", "d", "--out", "o", "--norm", "batch"])


def test_distill_holds_a_train_config_and_keeps_its_flat_record():
    from jafm_robot.cli import distill

    p = argparse.ArgumentParser()
    distill.add_arguments(p)
    ns = p.parse_args(["--teacher", "expert", "--out", "o", "--student-config", "tiny", "--steps-per-iter", "3",
                       "--tasks", "Reach,PickPlace", "--lang", "en,ja", "--no-export", "--dataset-init", "ds", "--lr", "0.01"])
    cfg = from_namespace(DistillConfig, ns)
    assert (cfg.train.config, cfg.train.steps, cfg.train.dataset, cfg.train.lr, cfg.out) == ("tiny", 3, "ds", 0.01, "o")
    assert (cfg.tasks, cfg.languages, cfg.export, cfg.eval_teacher) == (["Reach", "PickPlace"], ["en", "ja"], False, True)
    assert (cfg.train.warmup_steps, cfg.train.device) == (50, "cpu")  # distill's own defaults for the student
    flat = to_flat(cfg)
    assert set(flat) == DISTILL_LOG_KEYS
    assert from_flat(DistillConfig, flat) == cfg
    with pytest.raises(ValueError, match="unknown task"):
        from_namespace(DistillConfig, p.parse_args(["--teacher", "expert", "--out", "o", "--tasks", "Juggle"]))
    with pytest.raises(TypeError, match="unknown option"):
        from_flat(DistillConfig, {"teacher": "expert", "out": "o", "layouts": "a.npz"})
    bc_only = DistillConfig(teacher="expert", train=TrainConfig(out="o", layouts="a.npz"))
    with pytest.raises(ValueError, match="layouts do not apply"):
        bc_only.validate()
