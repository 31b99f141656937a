"""The conveyor really carries parts: friction-driven, speed-configurable, off = still."""

from __future__ import annotations

import numpy as np
import pybullet as p

from tests.sim.helpers import pick, teleport


def _belt_parts(u):
    conv = u.world.conveyor
    return [q for q in u.world.parts if conv.on_belt(u.world.part_position(q))]


def test_belt_carries_parts_at_its_speed_and_stops_when_off(make_env) -> None:
    env = make_env("ConveyorPick")
    env.reset(seed=4)
    u = env.unwrapped
    conv = u.world.conveyor
    assert conv is not None and conv.speed > 0
    parts = _belt_parts(u)
    assert u.world.part(u.task.goal["part"]) in parts and len(parts) >= 2
    hold = u.robot_config.home8
    env.step(hold)  # spin-up from rest
    start = {q.name: u.world.part_position(q) for q in parts}
    for _ in range(10):  # 1 s
        env.step(hold)
    for q in parts:
        d = u.world.part_position(q) - start[q.name]
        along = float(d @ conv.direction)
        assert abs(along - conv.speed * 1.0) < 0.15 * conv.speed, (q.name, d)
        sideways = conv.direction[0] * d[1] - conv.direction[1] * d[0]
        assert abs(float(sideways)) < 0.005  # no sideways drift
        assert conv.on_belt(u.world.part_position(q))
    conv.set_speed(0.0)
    env.step(hold)
    mid = {q.name: u.world.part_position(q) for q in parts}
    for _ in range(5):
        env.step(hold)
    for q in parts:
        assert np.linalg.norm(u.world.part_position(q) - mid[q.name]) < 0.002


def test_speed_is_configurable_and_reversible(make_env) -> None:
    env = make_env("ConveyorPick")
    env.reset(seed=1)
    u = env.unwrapped
    conv = u.world.conveyor
    q = u.world.part(u.task.goal["part"])
    teleport(env, q, conv.point(0.3) + np.array([0, 0, q.half_height + 0.002]))
    conv.set_speed(-0.1)
    hold = u.robot_config.home8
    env.step(hold)
    a = u.world.part_position(q)
    for _ in range(5):
        env.step(hold)
    moved = float((u.world.part_position(q) - a) @ conv.direction)
    assert abs(moved - (-0.1 * 0.5)) < 0.01


def test_parts_off_the_belt_are_not_carried(make_env) -> None:
    """Only contact drives a part: one on the table beside the belt stays put."""
    env = make_env("ConveyorPick")
    env.reset(seed=2)
    u = env.unwrapped
    q = u.world.part(u.task.goal["part"])
    teleport(env, q, np.array([0.40, -0.2, u.world.table_height + q.half_height + 0.002]))
    assert not u.world.conveyor.on_belt(u.world.part_position(q))
    a = u.world.part_position(q)
    for _ in range(5):
        env.step(u.robot_config.home8)
    assert np.linalg.norm(u.world.part_position(q) - a) < 0.002
    assert q.body_id not in u.world.conveyor.carried


def test_lifted_part_stops_riding_the_belt(make_env) -> None:
    """Grasp a part on the moving belt and lift it: it follows the gripper, not the belt."""
    env = make_env("ConveyorPick")
    env.reset(seed=0)
    u = env.unwrapped
    u.world.conveyor.set_speed(0.0)  # let the test grasp a still part, then restart the belt
    q = u.world.part(u.task.goal["part"])
    pick(env, q, lift=0.12)
    u.world.conveyor.set_speed(0.08)
    a = u.world.part_position(q)
    for _ in range(10):
        env.step(u.target)
    b = u.world.part_position(q)
    assert b[2] > u.world.conveyor.surface_z + 0.08  # held up in the air
    assert np.linalg.norm(b - a) < 0.003  # not carried along
    assert q.body_id not in u.world.conveyor.carried
    assert p.getNumConstraints(physicsClientId=u.client) == 1  # only the finger coupling, no welding
