"""``RobotTaskEnv``: a gymnasium env composed of a robot, a work cell (scene YAML) and a task.

Contract (docs/architecture.md): observation ``Dict`` of ``image`` and ``wrist_image`` uint8[H,W,3],
``state`` float32[8] (7 joints + gripper width), ``instruction`` uint8[128]; action = one action
point float32[8] of absolute joint targets + gripper width target. One ``step`` is ``action_dt``
(0.1 s) of physics: exactly ``command(action)`` + ``step_physics(substeps)`` + observation, so a
host with its own clock (the real-time runtime, the ROS sim node) can drive the same world with
``command`` and ``step_physics`` at any rate.

Determinism: every ``reset`` calls ``resetSimulation`` and rebuilds the cell and the task from a
generator derived from the seed, so ``reset(seed=s)`` always gives the same scene, goal and
instruction and the same actions give the same trajectory (``check_env`` step determinism).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pybullet as p
from gymnasium import spaces

from jafm_robot.contract import (
    ACTION_DIM,
    DEFAULT_ACTION_DT,
    DEFAULT_IMAGE_SIZE,
    INSTRUCTION_LEN,
    STATE_DIM,
    encode_instruction,
)
from jafm_robot.envs.instructions import check_language, make_instruction, phrasings
from jafm_robot.envs.tasks import TASK_CLASSES, Task
from jafm_robot.robots.bullet_robot import BulletRobot
from jafm_robot.robots.config import RobotConfig, load_robot_config
from jafm_robot.sim import camera
from jafm_robot.sim.scene import SceneConfig, load_scene
from jafm_robot.sim.world import WorkCell


class RobotTaskEnv(gym.Env):
    """Robot + work cell + task.

    Args:
        task: a task name (``"PickPlace"`` ...) or a :class:`Task` subclass.
        image_size: side of the square camera images in the observation.
        scene: scene name under ``sim/scenes/`` or a YAML path; ``None`` = the task's default.
        randomize: seeded domain randomisation (part poses, shades, light, camera jitter, table
            colour, friction, distractor count); ``False`` = nominal scene, fixed slots.
        render_mode: ``None`` or ``"rgb_array"`` (``render()`` = scene camera at ``render_size``).
        max_episode_steps: internal time limit (``truncated``); ``None`` = the task's default.
        internal_time_limit: ``False`` turns the internal limit off; registered envs use this,
            because ``gymnasium.make`` applies its own ``TimeLimit`` (see ``registration``).
        robot: robot config name or path (``sim/robots/<robot>.yaml``); ``None`` = the scene's.
        language: default instruction language when ``reset`` gets no ``language`` option.
        robot_visual: ``"collision"`` (low-poly arm, fast) or ``"full"`` (the URDF's detailed
            meshes, ~9x slower to render: nicer demo videos); ``None`` = the scene's choice.

    Actions: out-of-range values are clipped to the joint / gripper limits; an action holding any
    NaN or Inf is ignored as a whole and the previous target is held (a corrupt action point must
    not move the arm); a wrong shape raises ``ValueError``. ``info["action_held"]`` and
    ``info["action_clipped"]`` say which happened.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": round(1 / DEFAULT_ACTION_DT)}

    def __init__(
        self,
        task: str | type[Task] = "PickPlace",
        image_size: int = DEFAULT_IMAGE_SIZE,
        scene: str | None = None,
        randomize: bool = True,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
        robot: str | None = None,
        language: str = "en",
        render_size: int = 256,
        action_dt: float = DEFAULT_ACTION_DT,
        internal_time_limit: bool = True,
        robot_visual: str | None = None,
        action_interpolation: str = "hold",
    ) -> None:
        super().__init__()
        if isinstance(task, str):
            if task not in TASK_CLASSES:
                raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASK_CLASSES)}")
            task_cls = TASK_CLASSES[task]
        elif isinstance(task, type) and issubclass(task, Task):
            task_cls = task
        else:
            raise TypeError(f"task must be a task name or a Task subclass, got {task!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if int(image_size) < 16 or int(render_size) < 16:
            raise ValueError(f"image_size and render_size must be >= 16, got {image_size}, {render_size}")
        self.task: Task = task_cls()
        self.scene_config: SceneConfig = load_scene(scene or task_cls.default_scene)
        self.robot_config: RobotConfig = load_robot_config(robot or self.scene_config.robot)
        self.robot_visual = self.scene_config.robot_visual if robot_visual is None else robot_visual
        if self.robot_visual not in ("collision", "full"):
            raise ValueError(f"robot_visual must be 'collision' or 'full', got {robot_visual!r}")
        if action_interpolation not in ("hold", "linear"):
            raise ValueError(f"action_interpolation must be 'hold' or 'linear', got {action_interpolation!r}")
        # "hold": each action is the motor target for the whole step (the target jumps every 0.1 s);
        # "linear": the target moves from the previous action to this one over the step's substeps,
        # as a real-time controller interpolating between action points does (``jafm-robot eval``)
        self.action_interpolation = action_interpolation
        self.image_size = int(image_size)
        self.render_size = int(render_size)
        self.randomize = bool(randomize)
        self.render_mode = render_mode
        self.default_language = check_language(language)
        self.max_episode_steps = task_cls.max_episode_steps if max_episode_steps is None else int(max_episode_steps)
        if self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self.internal_time_limit = bool(internal_time_limit)
        self.sim_dt = 1.0 / self.scene_config.sim_hz
        self.substeps = round(action_dt / self.sim_dt)
        if self.substeps < 1 or abs(self.substeps * self.sim_dt - action_dt) > 1e-9:
            raise ValueError(f"action_dt {action_dt} must be a whole number of physics steps of {self.sim_dt}")
        self.action_dt = float(action_dt)

        low, high = self.robot_config.action_low, self.robot_config.action_high
        self.action_space = spaces.Box(low=low, high=high, shape=(ACTION_DIM,), dtype=np.float32)
        s = self.image_size
        margin = np.float32(0.5)  # joints can overshoot the (datasheet) limits by a little under load
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (s, s, 3), np.uint8),
                "wrist_image": spaces.Box(0, 255, (s, s, 3), np.uint8),
                "state": spaces.Box(np.append(low[:7] - margin, -0.01).astype(np.float32),
                                    np.append(high[:7] + margin, high[7] + 0.01).astype(np.float32),
                                    (STATE_DIM,), np.float32),
                "instruction": spaces.Box(0, 255, (INSTRUCTION_LEN,), np.uint8),
            }
        )
        self.client: int = p.connect(p.DIRECT)
        self.world: WorkCell | None = None
        self.robot: BulletRobot | None = None
        self._target = self.robot_config.home8.astype(np.float64)
        self._elapsed = 0
        self._last_flags = {"action_held": False, "action_clipped": False}
        self._scene_view: list[float] | None = None
        self._scene_proj: list[float] | None = None
        self._wrist_proj: list[float] | None = None
        self._wrist_link = -1
        self._closed = False

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if self._closed:
            raise RuntimeError("this env is closed (its PyBullet client is gone); make a new one")
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"language", "instruction"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; known: language, instruction")
        language = check_language(options.get("language", self.default_language))
        override = options.get("instruction")
        if override is not None and not isinstance(override, str):
            raise TypeError(f"options['instruction'] must be a str, got {type(override).__name__}")

        episode_seed = int(self.np_random.integers(2**63 - 1))
        scene_rng = np.random.default_rng([episode_seed, 0])
        text_rng = np.random.default_rng([episode_seed, 1])
        self._build(scene_rng)
        self.task.start_tracking()
        self.task.language = language
        n = len(phrasings(self.task.name, language))
        self.task.template_index = int(text_rng.integers(n))
        if override is not None:
            self.task.instruction_text = override
        else:
            self.task.instruction_text = make_instruction(
                self.task.name, language, self.task.template_index, **self.task.slots(language)
            )
        self._instruction = encode_instruction(self.task.instruction_text)
        self._elapsed = 0
        self._last_flags = {"action_held": False, "action_clipped": False}
        return self.get_obs(), self._info()

    def step(self, action: np.ndarray):
        if self.robot is None:
            raise RuntimeError("call reset() before step()")
        start = self._target.copy()
        goal = self.command(action)
        if self.action_interpolation == "linear":
            n = self.substeps
            for k in range(1, n + 1):
                self.robot.command(start + (goal - start) * (k / n))
                self.step_physics(1)
        else:
            self.step_physics(self.substeps)
        self._elapsed += 1
        self.task.track_step()
        obs = self.get_obs()
        success = self.task.is_success()
        truncated = self.internal_time_limit and self._elapsed >= self.max_episode_steps and not success
        return obs, float(success), bool(success), bool(truncated), self._info(success)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self.world is None:
            return None
        return self._render_scene(self.render_size)

    def close(self) -> None:
        if not self._closed:
            try:
                p.disconnect(self.client)
            except p.error:  # already gone (e.g. the process is shutting down)
                pass
            self._closed = True

    # -- host API (hosts with their own clock) -------------------------------------------------
    def command(self, target8: np.ndarray) -> np.ndarray:
        """Set the motor targets without stepping physics; returns the target actually applied.

        Out-of-range values are clipped; an action with NaN/Inf holds the previous target.
        """
        if self.robot is None:
            raise RuntimeError("call reset() before command()")
        a = np.asarray(target8, dtype=np.float64)
        if a.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {a.shape}")
        held = not np.all(np.isfinite(a))
        clipped = False
        if held:
            a = self._target.copy()
        else:
            lo, hi = self.action_space.low.astype(np.float64), self.action_space.high.astype(np.float64)
            c = np.clip(a, lo, hi)
            clipped = bool(np.any(c != a))
            a = c
        self._target = a
        self._last_flags = {"action_held": held, "action_clipped": clipped}
        self.robot.command(a)
        return a.copy()

    def step_physics(self, n: int = 1) -> None:
        """Advance physics ``n`` substeps of ``sim_dt`` (conveyor drive applied every substep)."""
        if self.world is None:
            raise RuntimeError("call reset() before step_physics()")
        world, dt, c = self.world, self.sim_dt, self.client
        has_conveyor = world.conveyor is not None
        for _ in range(int(n)):
            if has_conveyor:
                world.before_substep(dt)
            p.stepSimulation(physicsClientId=c)

    def get_state(self) -> np.ndarray:
        assert self.robot is not None
        return self.robot.state()

    def render_cameras(self, size: int | None = None) -> dict[str, np.ndarray]:
        s = self.image_size if size is None else int(size)
        return {"image": self._render_scene(s), "wrist_image": self._render_wrist(s)}

    def get_obs(self) -> dict[str, np.ndarray]:
        cams = self.render_cameras()
        state = np.clip(self.get_state(), self.observation_space["state"].low, self.observation_space["state"].high)
        return {"image": cams["image"], "wrist_image": cams["wrist_image"], "state": state.astype(np.float32),
                "instruction": self._instruction.copy()}

    def is_success(self) -> bool:
        return bool(self.task.is_success())

    @property
    def elapsed_steps(self) -> int:
        return self._elapsed

    @property
    def target(self) -> np.ndarray:
        """The last applied (clipped / held) 8-vector target."""
        return self._target.copy()

    # -- internals ---------------------------------------------------------------------------
    def _build(self, rng: np.random.Generator) -> None:
        c, sc = self.client, self.scene_config
        p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, sc.gravity, physicsClientId=c)
        p.setTimeStep(self.sim_dt, physicsClientId=c)
        p.setPhysicsEngineParameter(numSolverIterations=sc.solver_iterations, deterministicOverlappingPairs=1,
                                    physicsClientId=c)
        self.robot = BulletRobot(c, self.robot_config, visual=self.robot_visual)
        self.world = WorkCell(c, sc, rng, self.randomize)
        self.task.bind(self.world, self.robot)
        self.task.build(rng, self.randomize)
        self._target = self.robot_config.home8.astype(np.float64)
        self.robot.reset_joints(self._target)
        # let the parts settle onto the table / belt before the first observation
        for _ in range(int(0.05 / self.sim_dt)):
            p.stepSimulation(physicsClientId=c)
        cam = self.world.scene_camera()
        self._scene_view = camera.scene_view(cam)
        self._scene_proj = camera.projection(cam.fov, cam.near, cam.far)
        w = sc.wrist_camera
        self._wrist_proj = camera.projection(w.fov, w.near, w.far)
        if w.link not in self.robot.link_indices:
            raise ValueError(f"scene {sc.path}: wrist camera link {w.link!r} is not a link of {self.robot_config.name}")
        self._wrist_link = self.robot.link_indices[w.link]

    def _light(self) -> dict[str, Any]:
        assert self.world is not None
        a, lt = self.world.appearance, self.scene_config.lighting
        return {"light_direction": a.light_direction, "light_color": a.light_color, "ambient": lt.ambient,
                "diffuse": lt.diffuse, "specular": lt.specular}

    def camera_matrices(self) -> dict[str, tuple[list[float], list[float]]]:
        """(view, projection) of each camera as it stands now (the wrist camera moves with the hand),
        keyed like the observation; what renders the frames and what projects points into them."""
        assert self.robot is not None and self._scene_view is not None and self._scene_proj is not None
        assert self._wrist_proj is not None
        wrist = camera.wrist_view(self.client, self.robot.body_id, self._wrist_link, self.scene_config.wrist_camera)
        return {"image": (self._scene_view, self._scene_proj), "wrist_image": (wrist, self._wrist_proj)}

    def _render_scene(self, size: int) -> np.ndarray:
        assert self._scene_view is not None and self._scene_proj is not None
        return camera.render(self.client, size, size, self._scene_view, self._scene_proj, **self._light())

    def _render_wrist(self, size: int) -> np.ndarray:
        view, proj = self.camera_matrices()["wrist_image"]
        return camera.render(self.client, size, size, view, proj, **self._light())

    def _info(self, success: bool | None = None) -> dict[str, Any]:
        return {
            "instruction_text": self.task.instruction_text,
            "language": self.task.language,
            "is_success": bool(self.task.is_success() if success is None else success),
            "outcome": self.task.outcome(success),
            "task": self.task.name,
            "template_index": self.task.template_index,
            "elapsed_steps": self._elapsed,
            **self._last_flags,
        }

    def __del__(self) -> None:  # a leaked env must not leave a PyBullet client behind
        try:
            self.close()
        except Exception:  # interpreter shutdown: pybullet may already be gone
            pass
