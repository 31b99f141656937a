"""Pick/place auxiliary targets: read from the recorded gripper events by forward kinematics, used
by the trainer for sizes with an auxiliary head, and absent from the exported graph."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from jafm_robot.datasets.lerobot_v3 import LeRobotV3Writer
from jafm_robot.runtime.kinematics import panda_fk
from jafm_robot.training.auxiliary import grasp_place_targets
from tests.policy.conftest import IMG, synthetic_episode

HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.08])


def _pick_place_episode(seed: int, length: int = 16, lang: str = "en"):
    """A synthetic episode whose gripper target closes at 1/3 and opens at 2/3 of the way."""
    ep = synthetic_episode(seed, length, lang, IMG)
    rng = np.random.default_rng(seed)
    ep.state = (HOME + rng.normal(0, 0.05, (length, 8)) * np.r_[np.ones(7), 0]).astype(np.float32)
    grip = np.full(length, 0.08, np.float32)
    grip[length // 3: 2 * length // 3] = 0.0
    ep.action = ep.state.copy()
    ep.action[:, 7] = grip
    return ep


def test_targets_are_the_fk_at_close_and_release():
    a, b = _pick_place_episode(0), _pick_place_episode(1, 12)
    state = np.concatenate([a.state, b.state])
    action = np.concatenate([a.action, b.action])
    ep = np.r_[np.zeros(16, int), np.ones(12, int)]
    action[16:, 7] = 0.08  # the second episode never closes: no targets for it
    aux, valid = grasp_place_targets(state, action, ep)
    assert valid[:16].all() and not valid[16:].any()
    np.testing.assert_allclose(aux[0, :3], panda_fk(a.state[16 // 3, :7]), atol=1e-6)
    np.testing.assert_allclose(aux[0, 3:], panda_fk(a.state[2 * 16 // 3, :7]), atol=1e-6)
    assert np.ptp(aux[:16], axis=0).max() == 0  # one pair of points per episode, on every frame


def test_student_trains_with_the_auxiliary_loss_and_exports_without_it(tmp_path):
    from jafm_robot.training.export import export_onnx
    from jafm_robot.training.trainer import TrainConfig, train

    root = tmp_path / "ds"
    w = LeRobotV3Writer(root, fps=10, image_size=IMG)
    for i in range(4):
        w.add_episode(_pick_place_episode(i, 16, "en" if i % 2 == 0 else "ja"))
    out = tmp_path / "run"
    summary = train(TrainConfig(dataset=str(root), out=str(out), config="student", steps=40, batch_size=8, lr=1e-3,
                                log_every=5, save_every=100, chunk_len=4, shift_pad=0))
    log = np.loadtxt(out / "train_log.csv", delimiter=",", skiprows=1)
    assert log[-1, 1] < log[0, 1]  # action + auxiliary loss went down
    card = export_onnx(summary["checkpoint"], tmp_path / "student.onnx")
    assert card["parity_max_abs_diff"] <= 1e-4
    model = onnx.load(str(tmp_path / "student.onnx"))
    assert [o.name for o in model.graph.output] == ["actions"]
    assert json.loads((tmp_path / "student.json").read_text())["size"] == "student"


def test_auxiliary_sizes_need_grasps_in_the_data(tmp_path, synthetic_dataset):
    from jafm_robot.training.trainer import TrainConfig, train

    # the synthetic episodes close the gripper but never open it again: nothing to learn from
    with pytest.raises(ValueError, match="no episode has a grasp and a release"):
        train(TrainConfig(dataset=str(synthetic_dataset), out=str(tmp_path / "r"), config="student", steps=2, batch_size=4,
                          chunk_len=4))
