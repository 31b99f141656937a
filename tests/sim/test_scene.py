"""Scene files: every shipped scene loads; missing or malformed files give clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jafm_robot.sim.scene import available_scenes, load_scene, resolve_scene_path


def test_shipped_scenes_load_and_are_consistent() -> None:
    names = available_scenes()
    assert {"factory", "factory_conveyor", "compact"} <= set(names)
    for name in names:
        sc = load_scene(name)
        assert sc.name and sc.path.name == f"{name}.yaml"
        assert len(sc.parts.colors) >= 4 and len(sc.parts.shapes) >= 3
        for shape in sc.parts.shapes.values():  # every part fits the open gripper (0.08 m)
            assert min(shape.size[:2]) <= 0.06
        for b in sc.bins:
            assert b.color in sc.parts.colors
        assert sc.sim_hz >= 240
    assert load_scene("factory_conveyor").conveyor is not None
    assert load_scene("factory").conveyor is None


def test_missing_scene_names_the_file() -> None:
    with pytest.raises(FileNotFoundError, match=r"no_such_scene\.yaml"):
        load_scene("no_such_scene")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yaml"):
        resolve_scene_path("/tmp/definitely/nowhere.yaml")


def _write(tmp_path: Path, data: object, name: str = "bad.yaml") -> Path:
    f = tmp_path / name
    f.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return f


def _factory_dict() -> dict:
    return yaml.safe_load(resolve_scene_path("factory").read_text())


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    f = _write(tmp_path, "table: [unclosed\n  - x: {")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_scene(f)
    f = _write(tmp_path, "- just\n- a list\n", "list.yaml")
    with pytest.raises(ValueError, match=r"list\.yaml"):
        load_scene(f)


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.pop("table"), "table"),
        (lambda d: d["table"].update(half_extents=[0.3, "wide", 0.02]), "table.half_extents"),
        (lambda d: d["bins"][0].update(color="purple"), "bins[0].color"),
        (lambda d: d["parts"]["shapes"]["cube"].update(half_extents=[0.05, 0.05, 0.02]), "parts.shapes.cube"),
        (lambda d: d["parts"]["shapes"]["cube"].update(type="sphere"), "parts.shapes.cube.type"),
        (lambda d: d["parts"]["colors"].update(red=[2.0, 0, 0]), "parts.colors.red"),
        (lambda d: d.update(conveyor={"start": [0.5, 0.0], "end": [0.5, 0.05]}), "conveyor.end"),
        (lambda d: d["robot"].update(visual="fancy"), "robot.visual"),
        (lambda d: d["cameras"].pop("scene"), "cameras.scene"),
        (lambda d: d["table"].update(textures=["textures/none_such.png"]), "table.textures"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, mutate, key: str) -> None:
    d = _factory_dict()
    mutate(d)
    f = _write(tmp_path, d)
    with pytest.raises(ValueError) as e:
        load_scene(f)
    assert "bad.yaml" in str(e.value) and key in str(e.value)


def test_scene_from_explicit_path_builds_an_env(tmp_path: Path) -> None:
    """An integrator's layout is a YAML file, no code: a fourth bin appears in the world."""
    from jafm_robot.envs.core import RobotTaskEnv

    d = _factory_dict()
    d["name"] = "four_bins"
    d["bins"].append({"name": "yellow", "color": "yellow", "position": [0.52, -0.36]})
    f = _write(tmp_path, d, "four_bins.yaml")
    env = RobotTaskEnv("PickPlace", image_size=32, scene=str(f))
    try:
        env.reset(seed=0)
        assert set(env.world.bins) == {"red", "green", "blue", "yellow"}
        assert env.scene_config.name == "four_bins"
    finally:
        env.close()
