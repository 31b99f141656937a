"""``info["outcome"]``: how an episode stands, from privileged state, and eval's count of them.

The failure modes are what session 13's replays found by hand in a shipped policy's failures
(never lifted, dropped at carry height, in the bin but still held); here each is produced with
the real arm and real friction grasps and must be named as such.
"""

from __future__ import annotations

import numpy as np

from jafm_robot.envs.rollout import EpisodeResult, rollout, summarize
from tests.sim.helpers import move, pick, place, teleport


def test_pick_place_outcomes_follow_the_part(make_env) -> None:
    env = make_env("PickPlace")
    _, info = env.reset(seed=1)
    u = env.unwrapped
    g = u.task.goal
    q = u.world.part(g["part"])
    assert info["outcome"] == "never lifted"
    yaw = pick(env, q)
    info = move(env, u.world.part_position(q) + np.array([0.0, 0.0, 0.02]), 0.0, yaw)
    assert info["outcome"] == "held at the end"
    info = move(env, u.robot.ee_pose()[0], 0.08, yaw, settle=10)  # open up high, over the table
    assert u.world.bin_of(q) is None
    assert info["outcome"] == "dropped" and not info["is_success"]

    env.reset(seed=1)  # the same scene: what was lifted is forgotten on reset
    assert u.task.lifted() == frozenset()
    yaw = pick(env, q)
    info = place(env, g["bin_position"] + np.array([0, 0, 0.06]), yaw)
    assert info["outcome"] == "success" and info["is_success"]
    assert q.name in u.task.lifted()


def test_a_wrong_part_lifted_or_a_wrong_bin_is_named(make_env) -> None:
    env = make_env("PickPlace")
    env.reset(seed=1)
    u = env.unwrapped
    g = u.task.goal
    d = u.world.part(g["distractors"][0])
    pick(env, d)
    _, _, _, _, info = env.step(u.target)
    assert info["outcome"] == "lifted a wrong part"
    env.reset(seed=1)
    q = u.world.part(g["part"])
    wrong = next(b for name, b in u.world.bins.items() if name != g["bin"])
    teleport(env, q, wrong.position + np.array([0.0, 0.0, q.half_height - wrong.half_extents[2] + 0.01]), 240)
    _, _, _, _, info = env.step(u.target)
    assert info["outcome"] == "in a wrong bin"


def test_sort_and_reach_say_how_far_they_got(make_env) -> None:
    env = make_env("Sort")
    _, info = env.reset(seed=5)
    n = len(env.unwrapped.task.goal["assignment"])
    assert info["outcome"] == f"{n} of {n} parts left unsorted"
    u = env.unwrapped
    first = u.world.part(u.task.goal["parts"][0])
    right = u.world.bins[u.task.goal["assignment"][first.name]]
    wrong = next(b for name, b in u.world.bins.items() if name != right.name)
    teleport(env, first, right.position + np.array([0.0, 0.0, first.half_height - right.half_extents[2] + 0.01]), 240)
    _, _, _, _, info = env.step(u.target)
    assert info["outcome"] == f"{n - 1} of {n} parts left unsorted"
    teleport(env, first, wrong.position + np.array([0.0, 0.0, first.half_height - wrong.half_extents[2] + 0.01]), 240)
    _, _, _, _, info = env.step(u.target)
    assert info["outcome"] == "a part in a wrong bin"
    env = make_env("ConveyorPick")
    _, info = env.reset(seed=5)
    assert info["outcome"] == "missed on the belt"
    env = make_env("Reach")
    _, info = env.reset(seed=5)
    assert info["outcome"] == "not reached"


def test_rollout_keeps_the_outcome_and_summarize_counts_them(make_env) -> None:
    env = make_env("PickPlace")
    hold = env.unwrapped.target.copy()
    r = rollout(env, lambda obs: hold, seed=3, max_steps=3)
    assert r.info["outcome"] == "never lifted" and not r.success
    results = [r, EpisodeResult(seed=4, language="en", instruction="", success=True, steps=70, wall_s=1.0,
                                truncated=False, info={"outcome": "success"}),
               EpisodeResult(seed=5, language="en", instruction="", success=False, steps=150, wall_s=1.0,
                             truncated=True, info={"outcome": "never lifted"})]
    s = summarize(results, task="PickPlace")
    assert s["outcomes"] == {"never lifted": 2, "success": 1}
    assert list(s["outcomes"]) == ["never lifted", "success"]  # most common first
