"""The foundation teacher size: >= 10x the student, trainable by the unchanged `train` verb, and
usable as a distillation teacher straight from its checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.cli.main import main as cli_main
from jafm_robot.distill.foundation import FOUNDATION, MIN_RATIO, parameter_counts


def test_foundation_is_at_least_ten_times_the_student():
    counts = parameter_counts()
    assert counts["foundation"] >= MIN_RATIO * counts["small"]
    assert set(FOUNDATION.cameras) == {"image", "wrist_image"}
    FOUNDATION.validate()


def test_foundation_is_a_train_size():
    from jafm_robot.policies.vla.configuration_vla import get_config

    assert get_config("foundation") is FOUNDATION


@pytest.mark.slow  # ~25 s: one step of a 37 M-parameter network on a shared 2-core CPU
def test_foundation_trains_with_the_train_verb_and_teaches(tmp_path):
    """One optimiser step through `jafm-robot train`'s code path, then the checkpoint as a teacher."""
    from jafm_robot.datasets.lerobot_v3 import Episode, LeRobotV3Writer
    from jafm_robot.distill.teachers import load_teacher
    from jafm_robot.policies.checkpoint import read_checkpoint

    size, n = 128, 4  # the foundation stem downsamples 16x to an 8x8 grid: 128 px is its smallest input
    rng = np.random.default_rng(0)
    w = LeRobotV3Writer(tmp_path / "ds", fps=10, image_size=size)
    state = rng.normal(0, 0.2, (n, 8)).astype(np.float32)
    w.add_episode(Episode(images={c: rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8) for c in ("image", "wrist_image")},
                          state=state, action=state + 0.02, task="reach over the red cube", language="en",
                          env_task="Reach", seed=0, success=True))
    out = tmp_path / "run"
    assert cli_main(["train", "--config", "foundation", "--dataset", str(tmp_path / "ds"), "--out", str(out), "--steps", "1", "--batch-size", "2",
                 "--warmup-steps", "0", "--shift-pad", "0", "--threads", "1"]) == 0
    ckpt = read_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["vla_config"]["name"] == "foundation" and ckpt["step"] == 1
    teacher = load_teacher(str(out / "checkpoints" / "last.pt"))
    obs = {"image": rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
           "wrist_image": rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
           "state": state[0], "instruction": "reach over the red cube"}
    chunk = teacher.label(obs)
    assert chunk.shape == (10, 8) and np.all(np.isfinite(chunk))
    assert teacher.parameters == parameter_counts()["foundation"]
