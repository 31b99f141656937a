"""Fixtures for the distill tests: a real Reach env at a small image size (fast to render)."""

from __future__ import annotations

import pytest

IMG = 32


@pytest.fixture(scope="module")
def reach_env():
    from jafm_robot.envs.make import make_env

    env = make_env("Reach", IMG)
    yield env
    env.close()
