"""Registers the five task envs with gymnasium (``jafm_robot/<Task>-v0``); idempotent and cheap.

Called by ``import jafm_robot`` and through the ``gymnasium.envs`` entry point. Only strings are
registered here, so registering imports neither PyBullet nor the env module.

The time limit: each spec carries the task's ``max_episode_steps``, so ``gymnasium.make`` wraps
the env in ``TimeLimit`` (and ``make(..., max_episode_steps=N)`` overrides it, as usual: gymnasium
consumes that keyword itself and never passes it to the env). The env's own internal limit is
therefore switched off for envs made that way (``internal_time_limit=False``) so that the two can
never disagree; construct ``RobotTaskEnv`` directly to use its internal limit instead.
"""

from __future__ import annotations

from jafm_robot.contract import TASKS

# Episode lengths in env steps of 0.1 s (kept in sync with the task classes; a test checks it).
MAX_EPISODE_STEPS = {"Reach": 50, "PickPlace": 150, "ConveyorPick": 200, "Stack": 150, "Sort": 400}
ENTRY_POINT = "jafm_robot.envs.core:RobotTaskEnv"


def env_id(task: str) -> str:
    return f"jafm_robot/{task}-v0"


def register_envs() -> None:
    import gymnasium

    for task in TASKS:
        eid = env_id(task)
        if eid in gymnasium.envs.registry:
            continue
        gymnasium.register(
            id=eid,
            entry_point=ENTRY_POINT,
            max_episode_steps=MAX_EPISODE_STEPS[task],
            nondeterministic=False,
            kwargs={"task": task, "internal_time_limit": False},
        )
