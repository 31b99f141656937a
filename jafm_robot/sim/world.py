"""The factory work cell in one PyBullet client: pedestal, table, bins, conveyor, parts, cameras.

Built from a :class:`~jafm_robot.sim.scene.SceneConfig` (YAML data) plus a seeded generator; with
``randomize=True`` the appearance and physics are jittered within the ranges the scene file gives
(part shades within their named colour, lighting direction, scene-camera pose, table colour, part
friction). Everything is built from a few primitives (boxes, cylinders) because TinyRenderer's
cost grows with triangles and we render two cameras every step.

The conveyor is honest physics, not teleporting: the belt is a static box whose own (PyBullet)
friction is zero; every physics substep each part touching it gets a tangential force towards the
belt velocity, limited by ``mu * N`` with ``N`` the contact normal force the solver reported. A
part lifted off the belt therefore stops being carried, a part pressed down by the gripper is
dragged harder, and a stopped belt (speed 0) acts as ordinary friction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet as p

from jafm_robot.sim.scene import BinSpec, CameraSpec, ConveyorSpec, SceneConfig, ShapeSpec


@dataclass
class Part:
    """A graspable part: ``name`` is ``<color>_<shape>`` (unique in a scene)."""

    name: str
    shape: str
    color: str
    body_id: int
    size: tuple[float, float, float]  # full extents x, y, z (m)
    rgba: tuple[float, float, float, float]
    mass: float
    half_height: float


@dataclass
class Bin:
    """An open box on the table. ``position`` is the centre of its inner volume (floor top + half
    the wall height) and ``half_extents`` its inner half size, so "inside" is a box test."""

    name: str
    color: str
    position: np.ndarray  # [3]
    half_extents: np.ndarray  # [3]
    body_id: int

    pile_height: float = 0.05  # parts resting on parts already in the bin still count as inside

    def contains(self, xyz: np.ndarray, margin: float = 0.0) -> bool:
        """Centre over the inner footprint and below the rim (plus ``pile_height``)."""
        d = np.abs(np.asarray(xyz[:2]) - self.position[:2])
        top = self.position[2] + self.half_extents[2] + self.pile_height
        return bool(np.all(d <= self.half_extents[:2] - margin) and xyz[2] <= top)


@dataclass
class Conveyor:
    """A belt from ``start`` to ``end`` moving at ``speed`` m/s along ``direction``."""

    spec: ConveyorSpec
    body_id: int
    start: np.ndarray  # [3] on the belt surface
    end: np.ndarray  # [3]
    direction: np.ndarray  # unit [3], start -> end
    surface_z: float
    width: float
    length: float
    speed: float
    friction: float
    client: int
    stop_body_id: int | None = None
    carried: set[int] = field(default_factory=set)  # body ids the belt drove in the last substep

    @property
    def velocity(self) -> np.ndarray:
        return self.direction * self.speed

    def set_speed(self, speed: float) -> None:
        if not np.isfinite(speed):
            raise ValueError(f"conveyor speed must be finite, got {speed}")
        self.speed = float(speed)

    def point(self, s: float, lateral: float = 0.0) -> np.ndarray:
        """The belt-surface point ``s`` metres from the start, ``lateral`` metres to the left."""
        left = np.array([-self.direction[1], self.direction[0], 0.0])
        return self.start + self.direction * s + left * lateral

    def on_belt(self, xyz: np.ndarray) -> bool:
        rel = np.asarray(xyz) - self.start
        s = float(rel @ self.direction)
        lat = abs(float(rel[0] * -self.direction[1] + rel[1] * self.direction[0]))
        return -0.01 <= s <= self.length + 0.01 and lat <= self.width / 2

    def apply(self, dt: float, masses: dict[int, float]) -> None:
        """Drive the parts touching the belt for one substep (friction-limited force, see module doc)."""
        c = self.client
        normal: dict[int, float] = {}
        for cp in p.getContactPoints(bodyA=self.body_id, physicsClientId=c):
            b = cp[2]
            if b in masses:
                normal[b] = normal.get(b, 0.0) + max(0.0, cp[9])
        self.carried = set(normal)
        vb = self.velocity
        for b, n in normal.items():
            m = masses[b]
            n = min(n, 5.0 * m * 9.81)  # a solver spike must not fling the part
            lin, ang = p.getBaseVelocity(b, physicsClientId=c)
            rel = vb[:2] - np.asarray(lin[:2])
            f = m * rel / dt
            cap = self.friction * n
            norm = float(np.hypot(*f))
            if norm > cap:
                f = f * (cap / norm)
            pos = p.getBasePositionAndOrientation(b, physicsClientId=c)[0]
            p.applyExternalForce(b, -1, (float(f[0]), float(f[1]), 0.0), pos, p.WORLD_FRAME, physicsClientId=c)
            # Belt friction also resists spinning about the vertical (a bounded torsional torque).
            tz = -m * 1e-3 * ang[2] / dt
            tcap = self.friction * n * 0.01
            p.applyExternalTorque(b, -1, (0.0, 0.0, float(np.clip(tz, -tcap, tcap))), p.WORLD_FRAME,
                                  physicsClientId=c)


@dataclass
class Appearance:
    """The per-episode draw of everything randomisation touches (nominal when not randomised)."""

    light_direction: np.ndarray
    light_color: np.ndarray
    scene_eye: np.ndarray
    scene_target: np.ndarray
    table_color: np.ndarray
    friction_scale: float
    table_texture: Path | None = None


def _shade(rgb: tuple[float, float, float], rng: np.random.Generator | None, amount: float) -> tuple[float, ...]:
    """A shade of ``rgb`` that stays recognisably the same named colour (bounded jitter)."""
    c = np.asarray(rgb, dtype=np.float64)
    if rng is not None and amount > 0:
        c = c * rng.uniform(1 - amount, 1 + amount * 0.5) + rng.uniform(-amount / 2, amount / 2, 3)
    return (*np.clip(c, 0, 1).tolist(), 1.0)


class WorkCell:
    """Builds the static cell on construction; tasks add parts with :meth:`spawn_part`."""

    def __init__(self, client: int, scene: SceneConfig, rng: np.random.Generator, randomize: bool = True) -> None:
        self.client = client
        self.scene = scene
        self.rng = rng
        self.randomize = randomize
        self.parts: list[Part] = []
        self.bins: dict[str, Bin] = {}
        self.conveyor: Conveyor | None = None
        self.table_height = scene.table.height
        self.appearance = self._draw_appearance()
        self.static_ids: list[int] = []
        self._masses: dict[int, float] = {}
        self._build()

    # -- randomisation -----------------------------------------------------------------------
    def _draw_appearance(self) -> Appearance:
        s = self.scene
        r = s.randomization
        light = np.asarray(s.lighting.direction, dtype=np.float64)
        eye = np.asarray(s.scene_camera.eye, dtype=np.float64)
        target = np.asarray(s.scene_camera.target, dtype=np.float64)
        table = np.asarray(s.table.color, dtype=np.float64)
        fscale = 1.0
        lcolor = np.asarray(s.lighting.color, dtype=np.float64)
        texture = s.table.textures[0]
        if self.randomize:
            g = self.rng
            light = light + g.uniform(-r.light_direction, r.light_direction, 3)
            light[2] = max(light[2], 0.3)  # the light stays above the table
            lcolor = np.clip(lcolor * g.uniform(0.9, 1.0, 3), 0, 1)
            eye = eye + g.uniform(-r.camera_position, r.camera_position, 3)
            target = target + g.uniform(-r.camera_target, r.camera_target, 3)
            table = np.clip(table + g.uniform(-r.table_color, r.table_color, 3), 0, 1)
            fscale = float(g.uniform(*r.friction))
            texture = s.table.textures[int(g.integers(len(s.table.textures)))]
        return Appearance(light, lcolor, eye, target, table, fscale, texture)

    # -- building ----------------------------------------------------------------------------
    def _box(self, half: tuple[float, float, float], pos: tuple[float, float, float], rgba: tuple[float, ...],
             yaw: float = 0.0, friction: float | None = None, collide: bool = True) -> int:
        c = self.client
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c) if collide else -1
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=c)
        body = p.createMultiBody(0, col, vis, basePosition=pos,
                                 baseOrientation=p.getQuaternionFromEuler((0, 0, yaw)), physicsClientId=c)
        if friction is not None:
            p.changeDynamics(body, -1, lateralFriction=friction, physicsClientId=c)
        self.static_ids.append(body)
        return body

    def _build(self) -> None:
        s, c = self.scene, self.client
        t = s.table
        top = t.height
        self.floor_id = None
        if s.floor_visible:  # off by default: a full-frame floor costs TinyRenderer ~40% of a frame
            self.floor_id = self._box((1.5, 1.5, 0.01), (0.5, 0.0, s.floor_z - 0.01), (*s.floor_color, 1.0))
        ped_top = 0.0  # the robot base sits on the pedestal top (world frame = robot base frame)
        ph = (ped_top - s.floor_z) / 2
        self.pedestal_id = self._box((*s.pedestal_half_extents, ph), (0.0, 0.0, ped_top - ph), (*s.pedestal_color, 1.0))
        tex = self.appearance.table_texture
        # a textured top is tinted only slightly (the texture carries the colour)
        tint = np.clip(self.appearance.table_color - np.asarray(t.color) + 0.9, 0, 1) if tex else self.appearance.table_color
        self.table_id = self._box(t.half_extents, (t.center[0], t.center[1], top - t.half_extents[2]),
                                  (*tint.tolist(), 1.0), friction=t.friction)
        if tex is not None:
            tid = p.loadTexture(str(tex), physicsClientId=c)
            p.changeVisualShape(self.table_id, -1, textureUniqueId=tid, physicsClientId=c)
        for b in s.bins:
            self.bins[b.name] = self._build_bin(b)
        if s.conveyor is not None:
            self.conveyor = self._build_conveyor(s.conveyor)
        p.changeDynamics(self.table_id, -1, lateralFriction=t.friction, physicsClientId=c)

    def _build_bin(self, b: BinSpec) -> Bin:
        c = self.client
        hx, hy = b.inner_half_extents
        th, hh = b.wall_thickness, b.wall_height / 2
        floor_t = 0.005
        z0 = self.table_height
        halves = [(hx + th, hy + th, floor_t / 2), (th / 2, hy + th, hh), (th / 2, hy + th, hh),
                  (hx, th / 2, hh), (hx, th / 2, hh)]
        pos = [(0, 0, floor_t / 2), (-(hx + th / 2), 0, hh), (hx + th / 2, 0, hh),
               (0, -(hy + th / 2), hh), (0, hy + th / 2, hh)]
        rgb = self.scene.parts.colors[b.color]
        rgba = [(*(0.55 * np.asarray(rgb) + 0.1).tolist(), 1.0)] + [(*rgb, 1.0)] * 4
        col = p.createCollisionShapeArray([p.GEOM_BOX] * 5, halfExtents=halves, collisionFramePositions=pos,
                                          physicsClientId=c)
        vis = p.createVisualShapeArray([p.GEOM_BOX] * 5, halfExtents=halves, visualFramePositions=pos,
                                       rgbaColors=rgba, physicsClientId=c)
        body = p.createMultiBody(0, col, vis, basePosition=(b.position[0], b.position[1], z0), physicsClientId=c)
        p.changeDynamics(body, -1, lateralFriction=0.8, physicsClientId=c)
        self.static_ids.append(body)
        return Bin(b.name, b.color, np.array([b.position[0], b.position[1], z0 + floor_t + hh]),
                   np.array([hx, hy, hh]), body)

    def _build_conveyor(self, cs: ConveyorSpec) -> Conveyor:
        start = np.array([*cs.start, 0.0])
        end = np.array([*cs.end, 0.0])
        d = end - start
        length = float(np.linalg.norm(d))
        direction = d / length
        yaw = float(np.arctan2(direction[1], direction[0]))
        surface = self.table_height + cs.surface_height
        mid = (start + end) / 2
        belt = self._box((length / 2, cs.width / 2, cs.surface_height / 2), (mid[0], mid[1], surface - cs.surface_height / 2),
                         (*cs.color, 1.0), yaw=yaw, friction=0.0)
        # the belt's own solver friction is off: the drive model in Conveyor.apply is the friction
        p.changeDynamics(belt, -1, lateralFriction=0.0, spinningFriction=0.0, rollingFriction=0.0,
                         physicsClientId=self.client)
        # side frame (visual only) so the belt reads as a conveyor in the camera image
        left = np.array([-direction[1], direction[0], 0.0])
        for sgn in (-1, 1):
            fpos = mid + left * sgn * (cs.width / 2 + 0.01)
            self._box((length / 2, 0.01, cs.surface_height / 2 + 0.003),
                      (fpos[0], fpos[1], surface - cs.surface_height / 2 + 0.003), (0.55, 0.57, 0.6, 1.0),
                      yaw=yaw, collide=False)
        stop = None
        if cs.end_stop:
            sp = end + direction * 0.008
            stop = self._box((0.008, cs.width / 2, 0.012), (sp[0], sp[1], surface + 0.012), (0.9, 0.5, 0.1, 1.0),
                             yaw=yaw, friction=0.5)
        start[2] = end[2] = surface
        return Conveyor(cs, belt, start, end, direction, surface, cs.width, length, cs.speed, cs.friction,
                        self.client, stop)

    # -- parts -------------------------------------------------------------------------------
    def shape(self, name: str) -> ShapeSpec:
        try:
            return self.scene.parts.shapes[name]
        except KeyError:
            raise ValueError(f"scene {self.scene.name!r} has no part shape {name!r}") from None

    def spawn_part(self, color: str, shape: str, xy: tuple[float, float] | np.ndarray, yaw: float = 0.0,
                   z: float | None = None) -> Part:
        """Add a ``color`` ``shape`` part resting at ``xy`` (on the table unless ``z`` is given)."""
        if color not in self.scene.parts.colors:
            raise ValueError(f"scene {self.scene.name!r} has no colour {color!r}")
        spec = self.shape(shape)
        name = f"{color}_{shape}"
        if any(q.name == name for q in self.parts):
            raise ValueError(f"part {name!r} already in the scene (names must be unique)")
        c = self.client
        rgba = _shade(self.scene.parts.colors[color], self.rng if self.randomize else None, self.scene.randomization.shade)
        if spec.type == "box":
            col = p.createCollisionShape(p.GEOM_BOX, halfExtents=spec.half_extents, physicsClientId=c)
            vis = p.createVisualShape(p.GEOM_BOX, halfExtents=spec.half_extents, rgbaColor=rgba, physicsClientId=c)
        else:
            col = p.createCollisionShape(p.GEOM_CYLINDER, radius=spec.radius, height=spec.height, physicsClientId=c)
            vis = p.createVisualShape(p.GEOM_CYLINDER, radius=spec.radius, length=spec.height, rgbaColor=rgba,
                                      physicsClientId=c)
        zz = (self.table_height if z is None else z) + spec.half_height + 0.001
        body = p.createMultiBody(spec.mass, col, vis, basePosition=(float(xy[0]), float(xy[1]), zz),
                                 baseOrientation=p.getQuaternionFromEuler((0, 0, yaw)), physicsClientId=c)
        fr = self.scene.parts.friction * self.appearance.friction_scale
        # Rolling/spinning resistance matters: without it Bullet lets a cylinder that lands slightly
        # tilted wobble on its rim indefinitely (never "resting"); real parts settle in a moment.
        p.changeDynamics(body, -1, lateralFriction=fr, spinningFriction=self.scene.parts.spinning_friction,
                         rollingFriction=self.scene.parts.rolling_friction, linearDamping=0.04,
                         angularDamping=0.04, physicsClientId=c)
        part = Part(name, shape, color, body, spec.size, rgba, spec.mass, spec.half_height)  # type: ignore[arg-type]
        self.parts.append(part)
        self._masses[body] = spec.mass
        return part

    def sample_positions(self, n: int, low: tuple[float, float] | None = None,
                         high: tuple[float, float] | None = None) -> list[np.ndarray]:
        """``n`` xy positions in the spawn region, ``min_separation`` apart.

        Randomised: rejection sampling. Not randomised: the scene's nominal slots in a seeded order
        (the seed still decides which part goes where, the layout itself is fixed).
        """
        ps = self.scene.parts
        lo = np.asarray(low if low is not None else ps.spawn_low)
        hi = np.asarray(high if high is not None else ps.spawn_high)
        if not self.randomize and ps.slots and low is None:
            if n > len(ps.slots):
                raise ValueError(f"scene {self.scene.name!r} has {len(ps.slots)} slots, {n} parts asked")
            order = self.rng.permutation(len(ps.slots))[:n]
            return [np.asarray(ps.slots[i], dtype=np.float64) for i in order]
        out: list[np.ndarray] = []
        for _ in range(2000):
            if len(out) == n:
                break
            q = self.rng.uniform(lo, hi)
            if all(np.linalg.norm(q - o) >= ps.min_separation for o in out):
                out.append(q)
        if len(out) < n:
            raise ValueError(f"scene {self.scene.name!r}: cannot place {n} parts {ps.min_separation} m apart")
        return out

    def random_yaw(self) -> float:
        y = self.scene.randomization.yaw
        return float(self.rng.uniform(-y, y)) if self.randomize else 0.0

    def part(self, name: str) -> Part:
        for q in self.parts:
            if q.name == name:
                return q
        raise KeyError(f"no part {name!r} (parts: {[q.name for q in self.parts]})")

    # -- privileged state --------------------------------------------------------------------
    def part_pose(self, part: Part) -> tuple[np.ndarray, np.ndarray]:
        pos, orn = p.getBasePositionAndOrientation(part.body_id, physicsClientId=self.client)
        return np.asarray(pos), np.asarray(orn)

    def part_position(self, part: Part) -> np.ndarray:
        return self.part_pose(part)[0]

    def part_speed(self, part: Part) -> float:
        lin, _ = p.getBaseVelocity(part.body_id, physicsClientId=self.client)
        return float(np.linalg.norm(lin))

    def is_resting(self, part: Part, tol: float = 0.05) -> bool:
        return self.part_speed(part) < tol

    def touching(self, part: Part, body_id: int) -> bool:
        return len(p.getContactPoints(bodyA=part.body_id, bodyB=body_id, physicsClientId=self.client)) > 0

    def in_bin(self, part: Part, bin_: Bin | str) -> bool:
        b = self.bins[bin_] if isinstance(bin_, str) else bin_
        return b.contains(self.part_position(part))

    def bin_of(self, part: Part) -> Bin | None:
        pos = self.part_position(part)
        for b in self.bins.values():
            if b.contains(pos):
                return b
        return None

    # -- physics -----------------------------------------------------------------------------
    def before_substep(self, dt: float) -> None:
        """Per-substep forces (the conveyor drive)."""
        if self.conveyor is not None:
            self.conveyor.apply(dt, self._masses)

    # -- cameras -----------------------------------------------------------------------------
    def scene_camera(self) -> CameraSpec:
        a = self.appearance
        cs = self.scene.scene_camera
        return CameraSpec(tuple(a.scene_eye), tuple(a.scene_target), cs.up, cs.fov, cs.near, cs.far)  # type: ignore[arg-type]
