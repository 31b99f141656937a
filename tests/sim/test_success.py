"""Success comes from privileged simulator state: in the bin and resting, on the base, etc."""

from __future__ import annotations

import numpy as np

from tests.sim.helpers import move, pick, place, teleport


def _drop_in(env, part, bin_, dx: float = 0.0) -> None:
    teleport(env, part, bin_.position + np.array([dx, 0.0, part.half_height - bin_.half_extents[2] + 0.01]), 240)


def test_part_resting_in_the_named_bin_is_success_elsewhere_not(make_env) -> None:
    env = make_env("PickPlace")
    env.reset(seed=7)
    u = env.unwrapped
    g = u.task.goal
    q = u.world.part(g["part"])
    assert not u.is_success()  # on the table
    wrong = next(b for name, b in u.world.bins.items() if name != g["bin"])
    _drop_in(env, q, wrong)
    assert u.world.in_bin(q, wrong) and not u.is_success()  # the wrong bin
    _drop_in(env, q, u.world.bins[g["bin"]])
    assert u.world.in_bin(q, g["bin"]) and u.is_success()
    _, reward, terminated, _, info = env.step(u.target)
    assert info["is_success"] and terminated and reward == 1.0
    # a distractor in the bin does not count
    env.reset(seed=7)
    d = u.world.part(g["distractors"][0])
    _drop_in(env, d, u.world.bins[g["bin"]])
    assert not u.is_success()


def test_part_on_the_bin_rim_is_not_inside(make_env) -> None:
    env = make_env("PickPlace")
    env.reset(seed=7)
    u = env.unwrapped
    b = u.world.bins[u.task.goal["bin"]]
    q = u.world.part(u.task.goal["part"])
    outside = b.position + np.array([b.half_extents[0] + 0.05, 0.0, 0.0])
    outside[2] = u.world.table_height + q.half_height + 0.002
    teleport(env, q, outside)
    assert not u.world.in_bin(q, b) and not u.is_success()


def test_scripted_pick_and_place_with_the_real_arm_succeeds(make_env) -> None:
    """The whole chain: friction grasp, carry, release, settle -> success (and only then)."""
    env = make_env("PickPlace")
    env.reset(seed=1)
    u = env.unwrapped
    g = u.task.goal
    q = u.world.part(g["part"])
    yaw = pick(env, q)
    assert u.world.part_position(q)[2] > 0.1  # lifted by friction alone
    move(env, g["bin_position"] + np.array([0, 0, 0.06]), 0.0, yaw)
    assert not u.is_success()  # still in the gripper
    info = place(env, g["bin_position"] + np.array([0, 0, 0.06]), yaw)
    assert info["is_success"]


def test_stack_success_needs_top_resting_on_base(make_env) -> None:
    env = make_env("Stack")
    env.reset(seed=3)
    u = env.unwrapped
    top, base = u.world.part(u.task.goal["top"]), u.world.part(u.task.goal["base"])
    assert not u.is_success()
    bp = u.world.part_position(base)
    teleport(env, top, bp + np.array([0.0, 0.0, base.half_height + top.half_height + 0.003]), 240)
    assert u.is_success()
    teleport(env, top, bp + np.array([0.12, 0.0, top.half_height - base.half_height + 0.003]), 240)
    assert not u.is_success()


def test_sort_needs_every_part_in_its_colour_bin(make_env) -> None:
    env = make_env("Sort")
    env.reset(seed=5)
    u = env.unwrapped
    assign = u.task.goal["assignment"]
    assert len(assign) >= 2 and all(u.world.part(n).color == u.world.bins[b].color for n, b in assign.items())
    names = list(assign)
    for i, n in enumerate(names):
        _drop_in(env, u.world.part(n), u.world.bins[assign[n]], dx=0.03 * (i % 2) - 0.015)
        assert u.is_success() == (i == len(names) - 1)
    wrong = next(b for b in u.world.bins.values() if b.name != assign[names[0]])
    _drop_in(env, u.world.part(names[0]), wrong)
    assert not u.is_success() and names[0] in u.task.remaining()


def test_reach_success_when_the_gripper_is_above_the_part(make_env) -> None:
    env = make_env("Reach")
    env.reset(seed=2)
    u = env.unwrapped
    target = u.task.target_position()
    move(env, target + np.array([0.0, 0.0, 0.1]), 0.08, settle=3)
    assert not u.is_success()
    info = move(env, target, 0.08, settle=3)
    assert info["is_success"] and u.is_success()


def test_a_tilted_spinning_cylinder_settles_in_the_bin(make_env) -> None:
    """Rolling resistance: a cylinder dropped slightly tilted and spinning comes to rest (Bullet
    without it lets the cylinder wobble on its rim for ever, so 'resting' would never hold)."""
    import pybullet as p

    env = make_env("Sort")
    env.reset(seed=0)
    u = env.unwrapped
    b = next(iter(u.world.bins.values()))
    q = u.world.spawn_part("yellow", "cylinder", b.position[:2] + 0.5, 0.0)  # somewhere off the table first
    p.resetBasePositionAndOrientation(q.body_id, (b.position + np.array([0, 0, 0.01])).tolist(),
                                      p.getQuaternionFromEuler([0.12, 0.05, 0.0]), physicsClientId=u.client)
    p.resetBaseVelocity(q.body_id, [0.05, 0, 0], [1.5, 1.5, 3.0], physicsClientId=u.client)
    u.step_physics(int(1.5 / u.sim_dt))
    assert u.world.in_bin(q, b) and u.world.part_speed(q) < 0.01
