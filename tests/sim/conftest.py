"""Shared fixtures for the sim tests (small images: most tests do not look at pixels)."""

from __future__ import annotations

import gymnasium as gym
import pytest

import jafm_robot  # noqa: F401  (registers the envs)


@pytest.fixture
def make_env():
    """``make_env(task, **kw)`` -> gymnasium env (32 px images unless given); closed after the test."""
    made: list[gym.Env] = []

    def _make(task: str = "PickPlace", **kw):
        kw.setdefault("image_size", 32)
        env = gym.make(f"jafm_robot/{task}-v0", **kw)
        made.append(env)
        return env

    yield _make
    for env in made:
        env.close()
