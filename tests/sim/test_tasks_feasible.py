"""Every task is solvable with the real arm and friction grasps (a plain IK script, not an expert)."""

from __future__ import annotations

import pytest

from jafm_robot.contract import TASKS
from tests.sim.helpers import scripted_episode


def test_conveyor_pick_is_solvable(make_env) -> None:
    """Intercept a part riding the moving belt and drop it in the named bin."""
    env = make_env("ConveyorPick")
    assert scripted_episode(env, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_scripted_success_rate(make_env, task: str) -> None:
    env = make_env(task)
    wins = sum(scripted_episode(env, seed) for seed in range(100, 108))
    assert wins >= 7, f"{task}: {wins}/8"


@pytest.mark.slow
@pytest.mark.parametrize("scene", ["compact", "factory"])
def test_scripted_pick_place_without_randomisation(make_env, scene: str) -> None:
    env = make_env("PickPlace", scene=scene, randomize=False)
    wins = sum(scripted_episode(env, seed) for seed in range(4))
    assert wins >= 3
