"""Domain randomisation: seeded, bounded, and switchable with ``randomize``."""

from __future__ import annotations

import numpy as np
import pybullet as p

from jafm_robot.sim.scene import load_scene


def _appearance(u):
    a = u.world.appearance
    fr = {q.name: p.getDynamicsInfo(q.body_id, -1, physicsClientId=u.client)[1] for q in u.world.parts}
    return a, fr


def test_randomize_false_gives_the_nominal_cell(make_env) -> None:
    env = make_env("PickPlace", randomize=False)
    u = env.unwrapped
    sc = load_scene("factory")
    layouts, counts = [], set()
    for seed in (0, 1, 2):
        env.reset(seed=seed)
        a, fr = _appearance(u)
        assert np.allclose(a.light_direction, sc.lighting.direction)
        assert np.allclose(a.scene_eye, sc.scene_camera.eye) and np.allclose(a.table_color, sc.table.color)
        assert a.table_texture == sc.table.textures[0]
        assert all(abs(f - sc.parts.friction) < 1e-9 for f in fr.values())
        for q in u.world.parts:
            assert np.allclose(q.rgba[:3], sc.parts.colors[q.color])  # the nominal shade
            xy = u.world.part_position(q)[:2]
            assert min(np.linalg.norm(xy - np.asarray(s)) for s in sc.parts.slots) < 0.01  # on a slot
        counts.add(len(u.world.parts))
        layouts.append(sorted((q.name, tuple(np.round(u.world.part_position(q)[:2], 2))) for q in u.world.parts))
    assert counts == {1 + sc.parts.distractors[0]}
    assert len({tuple(x) for x in layouts}) > 1  # the seed still picks the parts and their slots


def test_randomize_true_varies_everything_within_bounds(make_env) -> None:
    env = make_env("PickPlace")
    u = env.unwrapped
    sc = load_scene("factory")
    r = sc.randomization
    lights, eyes, tables, frictions, counts, textures = [], [], [], [], set(), set()
    for seed in range(6):
        env.reset(seed=seed)
        a, fr = _appearance(u)
        lights.append(a.light_direction)
        eyes.append(a.scene_eye)
        tables.append(a.table_color)
        frictions.extend(fr.values())
        counts.add(len(u.world.parts))
        textures.add(a.table_texture)
        assert a.table_texture in sc.table.textures
        assert np.all(np.abs(a.scene_eye - sc.scene_camera.eye) <= r.camera_position + 1e-9)
        assert np.all(np.abs(a.table_color - sc.table.color) <= r.table_color + 1e-9)
        for q in u.world.parts:  # a shade of the same named colour: nearest nominal colour is its own
            d = {c: np.linalg.norm(np.asarray(q.rgba[:3]) - np.asarray(v)) for c, v in sc.parts.colors.items()}
            assert min(d, key=d.get) == q.color
            pos = u.world.part_position(q)
            assert np.all(pos[:2] >= np.asarray(sc.parts.spawn_low) - 1e-6)
            assert np.all(pos[:2] <= np.asarray(sc.parts.spawn_high) + 1e-6)
    assert len({tuple(np.round(x, 6)) for x in lights}) == 6 and len({tuple(np.round(x, 6)) for x in eyes}) == 6
    assert len({tuple(np.round(x, 6)) for x in tables}) == 6
    lo, hi = r.friction
    assert len(set(np.round(frictions, 6))) > 3
    assert all(lo * sc.parts.friction - 1e-9 <= f <= hi * sc.parts.friction + 1e-9 for f in frictions)
    assert len(counts) > 1  # the number of distractors varies
    assert len(textures) > 1  # plain and textured table tops


def test_parts_start_apart_and_at_rest(make_env) -> None:
    env = make_env("Sort")
    u = env.unwrapped
    for seed in range(4):
        env.reset(seed=seed)
        pos = [u.world.part_position(q) for q in u.world.parts]
        for i in range(len(pos)):
            for j in range(i + 1, len(pos)):
                assert np.linalg.norm(pos[i][:2] - pos[j][:2]) >= u.scene_config.parts.min_separation - 1e-6
        for q in u.world.parts:
            assert u.world.part_speed(q) < 0.05
            assert abs(u.world.part_position(q)[2] - (u.world.table_height + q.half_height)) < 0.005
