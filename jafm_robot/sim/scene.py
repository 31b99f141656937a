"""Scene files: a work cell variant is a YAML file under ``sim/scenes/``, not code.

An integrator adds a layout (another table size, a conveyor on the other side, four bins) by
writing a YAML file; this module turns it into typed, validated dataclasses. Every error names the
file and the offending key, because a scene file is edited by hand and a ``KeyError`` deep inside
PyBullet set-up would not say what to fix. Pure Python + NumPy (no PyBullet), so tools can read a
scene without a simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from jafm_robot.paths import sim_dir

SHAPE_TYPES = ("box", "cylinder")


@dataclass(frozen=True)
class TableSpec:
    center: tuple[float, float]  # xy of the table centre (world frame = robot base frame)
    half_extents: tuple[float, float, float]  # half size of the table top slab
    height: float  # z of the top surface
    color: tuple[float, float, float]
    friction: float
    # image files (relative to the scene file, else to sim/scenes/) or None = plain colour;
    # the first is the nominal one, randomisation picks any
    textures: tuple[Path | None, ...] = (None,)


@dataclass(frozen=True)
class BinSpec:
    name: str
    color: str  # a colour name from the part catalogue, so instructions can say "the red bin"
    position: tuple[float, float]  # xy of the bin centre
    inner_half_extents: tuple[float, float]
    wall_height: float
    wall_thickness: float


@dataclass(frozen=True)
class ConveyorSpec:
    start: tuple[float, float]  # xy where parts enter the belt
    end: tuple[float, float]  # xy where the belt ends (it moves from start towards end)
    width: float
    surface_height: float  # belt top above the table top
    speed: float  # m/s along start -> end; 0 = stopped
    friction: float  # belt/part friction coefficient of the drive model
    end_stop: bool  # a low bumper at the end keeps parts on the belt
    color: tuple[float, float, float]


@dataclass(frozen=True)
class ShapeSpec:
    name: str
    type: str  # "box" | "cylinder"
    half_extents: tuple[float, float, float]  # boxes
    radius: float  # cylinders
    height: float  # cylinders (full height); boxes: 2 * half_extents[2]
    mass: float

    @property
    def half_height(self) -> float:
        return self.half_extents[2] if self.type == "box" else self.height / 2

    @property
    def size(self) -> tuple[float, float, float]:
        """Full extents (x, y, z) of the part's bounding box."""
        if self.type == "box":
            return tuple(2 * h for h in self.half_extents)  # type: ignore[return-value]
        return (2 * self.radius, 2 * self.radius, self.height)


@dataclass(frozen=True)
class PartsSpec:
    colors: dict[str, tuple[float, float, float]]
    shapes: dict[str, ShapeSpec]
    friction: float
    spawn_low: tuple[float, float]
    spawn_high: tuple[float, float]
    min_separation: float
    slots: tuple[tuple[float, float], ...]  # nominal positions used when randomize=False
    distractors: tuple[int, int]  # (min, max) distractors; randomize=False uses min
    rolling_friction: float = 0.002
    spinning_friction: float = 0.002


@dataclass(frozen=True)
class CameraSpec:
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float]
    fov: float
    near: float
    far: float


@dataclass(frozen=True)
class WristCameraSpec:
    link: str  # robot link the camera is fixed to
    offset: tuple[float, float, float]  # camera position in the link frame
    look: tuple[float, float, float]  # viewing direction in the link frame
    up: tuple[float, float, float]  # image-up direction in the link frame
    fov: float
    near: float
    far: float


@dataclass(frozen=True)
class LightingSpec:
    direction: tuple[float, float, float]
    color: tuple[float, float, float]
    ambient: float
    diffuse: float
    specular: float


@dataclass(frozen=True)
class RandomizationSpec:
    shade: float  # max per-channel jitter of a part colour (stays within its named colour)
    light_direction: float  # max per-component jitter of the light direction
    camera_position: float  # m, max per-axis jitter of the scene camera eye
    camera_target: float  # m, max per-axis jitter of the scene camera target
    table_color: float  # max per-channel jitter of the table colour
    friction: tuple[float, float]  # multiplier range on part friction
    yaw: float  # rad, max part yaw (parts spawn with yaw in [-yaw, yaw])


@dataclass(frozen=True)
class SceneConfig:
    name: str
    path: Path
    sim_hz: float
    gravity: float
    solver_iterations: int
    robot: str  # robot config name or path (sim/robots/<robot>.yaml)
    robot_visual: str  # "collision" (low-poly, fast to render) or "full" (pybullet_data meshes)
    pedestal_half_extents: tuple[float, float]
    pedestal_color: tuple[float, float, float]
    floor_z: float
    floor_visible: bool
    floor_color: tuple[float, float, float]
    table: TableSpec
    bins: tuple[BinSpec, ...]
    conveyor: ConveyorSpec | None
    parts: PartsSpec
    scene_camera: CameraSpec
    wrist_camera: WristCameraSpec
    lighting: LightingSpec
    randomization: RandomizationSpec
    extra: dict[str, Any] = field(default_factory=dict)

    def bin(self, name: str) -> BinSpec:
        for b in self.bins:
            if b.name == name:
                return b
        raise KeyError(f"scene {self.name!r} has no bin {name!r} (bins: {[b.name for b in self.bins]})")


def scenes_dir() -> Path:
    return sim_dir() / "scenes"


def available_scenes() -> list[str]:
    """Names of the scene files shipped under ``sim/scenes/``."""
    d = scenes_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def resolve_scene_path(name_or_path: str | Path) -> Path:
    """``factory`` -> ``sim/scenes/factory.yaml``; an explicit path is used as is."""
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = scenes_dir() / f"{name_or_path}.yaml"
    if not p.is_file():
        raise FileNotFoundError(
            f"scene file not found: {p} (shipped scenes: {', '.join(available_scenes()) or 'none'})"
        )
    return p


class _Reader:
    """Typed access to a YAML mapping with errors that name the file and the key path."""

    def __init__(self, data: Any, file: Path, where: str = "") -> None:
        if not isinstance(data, dict):
            raise ValueError(f"scene file {file}: {where or 'top level'} must be a mapping, got {type(data).__name__}")
        self.data, self.file, self.where = data, file, where

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def err(self, key: str, msg: str) -> ValueError:
        return ValueError(f"scene file {self.file}: {self._key(key)}: {msg}")

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def sub(self, key: str, default: Any = None) -> _Reader:
        if key not in self.data or self.data[key] is None:
            if default is None:
                raise self.err(key, "missing")
            return _Reader(default, self.file, self._key(key))
        return _Reader(self.data[key], self.file, self._key(key))

    def get(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.err(key, "missing")
            return default
        return self.data[key]

    def num(self, key: str, default: Any = ..., lo: float | None = None, hi: float | None = None) -> float:
        v = self.get(key, default)
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise self.err(key, f"must be a number, got {v!r}") from None
        if not np.isfinite(f) or (lo is not None and f < lo) or (hi is not None and f > hi):
            raise self.err(key, f"must be a finite number in [{lo}, {hi}], got {v!r}")
        return f

    def vec(self, key: str, n: int, default: Any = ..., positive: bool = False) -> tuple[float, ...]:
        v = self.get(key, default)
        try:
            arr = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.err(key, f"must be a list of {n} numbers, got {v!r}") from None
        if arr.shape != (n,) or not np.all(np.isfinite(arr)):
            raise self.err(key, f"must be a list of {n} finite numbers, got {v!r}")
        if positive and np.any(arr <= 0):
            raise self.err(key, f"must be > 0, got {v!r}")
        return tuple(float(x) for x in arr)

    def color(self, key: str, default: Any = ...) -> tuple[float, float, float]:
        c = self.vec(key, 3, default)
        if any(x < 0 or x > 1 for x in c):
            raise self.err(key, f"colour components must be in [0, 1], got {list(c)}")
        return c  # type: ignore[return-value]


def _camera(r: _Reader) -> CameraSpec:
    return CameraSpec(
        eye=r.vec("eye", 3),  # type: ignore[arg-type]
        target=r.vec("target", 3),  # type: ignore[arg-type]
        up=r.vec("up", 3, (0, 0, 1)),  # type: ignore[arg-type]
        fov=r.num("fov", 50.0, 5, 170),
        near=r.num("near", 0.02, 1e-4, 10),
        far=r.num("far", 4.0, 0.1, 100),
    )


def _textures(t: _Reader, path: Path) -> tuple[Path | None, ...]:
    raw = t.get("textures", [None])
    if not isinstance(raw, list) or not raw:
        raise t.err("textures", f"must be a non-empty list of image paths (or null = plain), got {raw!r}")
    out: list[Path | None] = []
    for entry in raw:
        if entry is None:
            out.append(None)
            continue
        f = Path(str(entry))
        if not f.is_absolute():  # next to the scene file, else among the shipped scene assets
            f = path.parent / f if (path.parent / f).is_file() else scenes_dir() / f
        if not f.is_file():
            raise t.err("textures", f"texture file not found: {f}")
        out.append(f)
    return tuple(out)


def load_scene(name_or_path: str | Path = "factory") -> SceneConfig:
    """Load and validate a scene file; FileNotFoundError / ValueError name the file on any problem."""
    path = resolve_scene_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"scene file {path}: not valid YAML: {e}") from e
    r = _Reader(raw if raw is not None else {}, path)

    phys = r.sub("physics", {})
    robot = r.sub("robot", {})
    floor = r.sub("floor", {})
    t = r.sub("table")
    table = TableSpec(
        center=t.vec("center", 2),  # type: ignore[arg-type]
        half_extents=t.vec("half_extents", 3, positive=True),  # type: ignore[arg-type]
        height=t.num("height", 0.0),
        color=t.color("color", (0.55, 0.5, 0.45)),
        friction=t.num("friction", 0.8, 0, 5),
        textures=_textures(t, path),
    )

    parts_r = r.sub("parts")
    colors_r = parts_r.sub("colors")
    colors = {str(k): colors_r.color(k) for k in colors_r.data}
    if len(colors) < 1:
        raise parts_r.err("colors", "needs at least one colour")
    shapes_r = parts_r.sub("shapes")
    shapes: dict[str, ShapeSpec] = {}
    for sname in shapes_r.data:
        s = shapes_r.sub(sname)
        typ = s.get("type")
        if typ not in SHAPE_TYPES:
            raise s.err("type", f"must be one of {SHAPE_TYPES}, got {typ!r}")
        if typ == "box":
            he = s.vec("half_extents", 3, positive=True)
            shapes[str(sname)] = ShapeSpec(str(sname), typ, he, 0.0, 2 * he[2], s.num("mass", 0.08, 1e-3, 10))  # type: ignore[arg-type]
        else:
            rad, h = s.num("radius", lo=1e-3, hi=1), s.num("height", lo=1e-3, hi=1)
            shapes[str(sname)] = ShapeSpec(str(sname), typ, (rad, rad, h / 2), rad, h, s.num("mass", 0.08, 1e-3, 10))
        if min(shapes[str(sname)].size[:2]) > 0.075:
            raise s.err("size", "a part must fit the gripper (narrow side <= 0.075 m)")
    if not shapes:
        raise parts_r.err("shapes", "needs at least one shape")
    spawn = parts_r.sub("spawn_region")
    slots_raw = parts_r.get("slots", [])
    try:
        slots = tuple((float(a), float(b)) for a, b in slots_raw)
    except (TypeError, ValueError):
        raise parts_r.err("slots", f"must be a list of [x, y] pairs, got {slots_raw!r}") from None
    dmin, dmax = parts_r.vec("distractors", 2, (1, 3))
    if dmin < 0 or dmax < dmin:
        raise parts_r.err("distractors", f"must be [min, max] with 0 <= min <= max, got {[dmin, dmax]}")
    low, high = spawn.vec("low", 2), spawn.vec("high", 2)
    if low[0] > high[0] or low[1] > high[1]:
        raise spawn.err("low", "must be <= high")
    parts = PartsSpec(
        colors=colors,
        shapes=shapes,
        friction=parts_r.num("friction", 1.0, 0, 5),
        spawn_low=low,  # type: ignore[arg-type]
        spawn_high=high,  # type: ignore[arg-type]
        min_separation=parts_r.num("min_separation", 0.07, 0, 1),
        slots=slots,
        distractors=(int(dmin), int(dmax)),
        rolling_friction=parts_r.num("rolling_friction", 0.002, 0, 0.1),
        spinning_friction=parts_r.num("spinning_friction", 0.002, 0, 0.1),
    )

    bins = []
    bins_raw = r.get("bins", [])
    if not isinstance(bins_raw, list):
        raise r.err("bins", "must be a list")
    for i, b in enumerate(bins_raw):
        br = _Reader(b, path, f"bins[{i}]")
        color = str(br.get("color"))
        if color not in colors:
            raise br.err("color", f"{color!r} is not a part colour ({', '.join(colors)})")
        bins.append(
            BinSpec(
                name=str(br.get("name", color)),
                color=color,
                position=br.vec("position", 2),  # type: ignore[arg-type]
                inner_half_extents=br.vec("inner_half_extents", 2, (0.065, 0.065), positive=True),  # type: ignore[arg-type]
                wall_height=br.num("wall_height", 0.05, 0.005, 0.5),
                wall_thickness=br.num("wall_thickness", 0.01, 0.002, 0.1),
            )
        )
    if len({b.name for b in bins}) != len(bins):
        raise r.err("bins", "bin names must be unique")

    conveyor = None
    if r.has("conveyor"):
        c = r.sub("conveyor")
        start, end = c.vec("start", 2), c.vec("end", 2)
        if np.hypot(end[0] - start[0], end[1] - start[1]) < 0.1:
            raise c.err("end", "the belt must be at least 0.1 m long")
        conveyor = ConveyorSpec(
            start=start,  # type: ignore[arg-type]
            end=end,  # type: ignore[arg-type]
            width=c.num("width", 0.12, 0.02, 2),
            surface_height=c.num("surface_height", 0.03, 0.005, 1),
            speed=c.num("speed", 0.05, -2, 2),
            friction=c.num("friction", 0.8, 0, 5),
            end_stop=bool(c.get("end_stop", True)),
            color=c.color("color", (0.15, 0.15, 0.17)),
        )

    cams = r.sub("cameras")
    w = cams.sub("wrist")
    wrist = WristCameraSpec(
        link=str(w.get("link", "panda_hand")),
        offset=w.vec("offset", 3, (0.05, 0.0, 0.0)),  # type: ignore[arg-type]
        look=w.vec("look", 3, (0.0, 0.0, 1.0)),  # type: ignore[arg-type]
        up=w.vec("up", 3, (1.0, 0.0, 0.0)),  # type: ignore[arg-type]
        fov=w.num("fov", 70.0, 5, 170),
        near=w.num("near", 0.01, 1e-4, 10),
        far=w.num("far", 2.0, 0.1, 100),
    )
    light = r.sub("lighting", {})
    rnd = r.sub("randomization", {})
    fr = rnd.vec("friction", 2, (0.8, 1.2), positive=True)
    randomization = RandomizationSpec(
        shade=rnd.num("shade", 0.1, 0, 0.5),
        light_direction=rnd.num("light_direction", 0.4, 0, 5),
        camera_position=rnd.num("camera_position", 0.03, 0, 0.5),
        camera_target=rnd.num("camera_target", 0.02, 0, 0.5),
        table_color=rnd.num("table_color", 0.08, 0, 0.5),
        friction=fr,  # type: ignore[arg-type]
        yaw=rnd.num("yaw", float(np.pi), 0, float(np.pi)),
    )
    robot_visual = str(robot.get("visual", "collision"))
    if robot_visual not in ("collision", "full"):
        raise robot.err("visual", f"must be 'collision' or 'full', got {robot_visual!r}")
    known = {"name", "description", "physics", "robot", "floor", "table", "parts", "bins", "conveyor",
             "cameras", "lighting", "randomization"}
    return SceneConfig(
        name=str(r.get("name", path.stem)),
        path=path,
        sim_hz=phys.num("sim_hz", 240.0, 240.0, 2000.0),
        gravity=phys.num("gravity", -9.81, -20, 0),
        solver_iterations=int(phys.num("solver_iterations", 50, 1, 1000)),
        robot=str(robot.get("config", "panda")),
        robot_visual=robot_visual,
        pedestal_half_extents=robot.vec("pedestal_half_extents", 2, (0.12, 0.12), positive=True),  # type: ignore[arg-type]
        pedestal_color=robot.color("pedestal_color", (0.25, 0.25, 0.28)),
        floor_z=floor.num("z", -0.75, -5, 0),
        floor_visible=bool(floor.get("visible", False)),
        floor_color=floor.color("color", (0.35, 0.36, 0.38)),
        table=table,
        bins=tuple(bins),
        conveyor=conveyor,
        parts=parts,
        scene_camera=_camera(cams.sub("scene")),
        wrist_camera=wrist,
        lighting=LightingSpec(
            direction=light.vec("direction", 3, (0.4, -0.3, 1.0)),  # type: ignore[arg-type]
            color=light.color("color", (1.0, 1.0, 1.0)),
            ambient=light.num("ambient", 0.6, 0, 1),
            diffuse=light.num("diffuse", 0.5, 0, 1),
            specular=light.num("specular", 0.1, 0, 1),
        ),
        randomization=randomization,
        extra={k: v for k, v in r.data.items() if k not in known},
    )
