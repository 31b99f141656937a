"""Building an env by task name: the one place that turns ``"PickPlace"`` into a gymnasium env.

Every host that rolls out episodes (``expert``, ``record``, ``eval``, ``distill``, ``layouts``) calls
:func:`make_env`, so they all get the same registered env with the same options.
"""

from __future__ import annotations

from typing import Any

from jafm_robot.contract import DEFAULT_ACTION_DT


def make_env(task: str, image_size: int, **kwargs: Any):
    """The gymnasium env of ``task`` (``jafm_robot/<task>-v0``)."""
    import gymnasium as gym

    from jafm_robot.envs.registration import env_id, register_envs

    register_envs()  # idempotent; the ids are also registered on ``import jafm_robot``
    return gym.make(env_id(task), image_size=image_size, **kwargs)


def env_action_dt(env) -> float:
    """Seconds between action points of an env (wrapped or not)."""
    return float(getattr(env.unwrapped, "action_dt", DEFAULT_ACTION_DT))
