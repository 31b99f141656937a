"""Shared fixtures: small LeRobot v3.0 datasets written by the real writer (real H.264 video).

The synthetic scenes are smooth images with a moving coloured square, the kind of content a camera
sees, so codec tolerances measured on them mean something; the end-to-end test uses the real env.
"""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.datasets.lerobot_v3 import Episode, LeRobotV3Writer

IMG = 64


def synthetic_episode(seed: int, length: int, lang: str = "en", size: int = IMG) -> Episode:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx * 255 // size, yy * 255 // size, np.full_like(xx, 96)], -1).astype(np.uint8)
    images = {}
    for cam, colour in (("image", (220, 30, 30)), ("wrist_image", (30, 200, 40))):
        frames = np.repeat(base[None], length, 0).copy()
        for t in range(length):
            x = (seed * 3 + t) % (size - 8)
            frames[t, 8:16, x: x + 8] = colour
        images[cam] = frames
    # Learnable on purpose: the joints ramp up for the English instruction and down for the
    # Japanese one, so a policy must read the instruction to predict the next chunk.
    direction = 1.0 if lang == "en" else -1.0
    start = rng.normal(0, 0.3, 8)
    state = (start + direction * 0.05 * np.arange(length)[:, None]).astype(np.float32)
    state[:, 7] = np.linspace(0.08, 0.0, length)
    action = (state + direction * 0.05).astype(np.float32)
    action[:, 7] = np.maximum(state[:, 7] - 0.08 / length, 0.0)
    task = "pick up the red cube and put it in the bin" if lang == "en" else "赤いキューブを箱に入れて"
    return Episode(images=images, state=state, action=action, task=task, language=lang, env_task="PickPlace",
                   seed=seed, success=True)


def write_synthetic(root, n: int = 3, start_seed: int = 0) -> LeRobotV3Writer:
    w = LeRobotV3Writer(root, fps=10, image_size=IMG)
    for i in range(n):
        w.add_episode(synthetic_episode(start_seed + i, 12 + i, "en" if i % 2 == 0 else "ja"))
    return w


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "synthetic"
    write_synthetic(root, 3)
    return root


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, synthetic_dataset):
    """A tiny policy trained a few steps on the synthetic dataset (shared by export/eval tests)."""
    from jafm_robot.training.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("run") / "tiny"
    summary = train(TrainConfig(dataset=str(synthetic_dataset), out=str(out), config="tiny", steps=6, batch_size=8,
                                log_every=2, save_every=3, chunk_len=4))
    return out, summary
