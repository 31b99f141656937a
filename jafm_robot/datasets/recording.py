"""Record scripted-expert demonstrations into a LeRobot v3.0 dataset, one committed episode at a time.

Frame t of an episode pairs the observation at step t (both cameras, state) with the expert's action
point for that step (the absolute target the arm should reach by t + action_dt); the final
observation after the last action has no action and is not stored. Episodes where the expert fails
are left out by default: cloning a failure teaches failure.

Seeds: attempts use ``seed``, ``seed + 1``, ... skipping seeds already in the dataset, and the seed
``seed + i`` is recorded in language ``languages[i % len(languages)]``. ``--episodes N`` is what the
folder holds when the command ends, so re-running an interrupted (or finished) command appends only
what is missing, never a duplicate.

Workers (:mod:`jafm_robot.workers`, Ray): each builds its env and expert once and records whole
episodes; the dataset is written in seed order whatever order they finish in, so a recording made
with any number of workers holds the episodes of a serial one. An episode a worker finishes ahead
of its turn is kept on disk (``<out>/.pending/``) until its turn comes, so an interrupted recording
loses no finished episode: the next run writes it instead of recording it again.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from jafm_robot.datasets.lerobot_v3 import CAMERAS, Episode, LeRobotV3Writer
from jafm_robot.envs.make import env_action_dt, make_env


def scene_identity(scene_config: Any) -> dict[str, str]:
    """Name and sha256 of the scene file an env was built from (dataset and model provenance)."""
    from jafm_robot.runtime.metadata import sha256_file

    return {"name": scene_config.name, "sha256": sha256_file(scene_config.path)}


@dataclass
class ApproachYawNoise:
    """Noise injection in the style of DART (Laskey et al., 2017) on the hand's yaw at a grasp.

    Cloned policies close on cubes 20-45 degrees off their faces: the expert turns the wrist once,
    on its way to the part, so its demonstrations never show a hand that is misaligned above a part
    and turns to fix it, and "keep the wrist where it is" predicts the recorded targets well. Here
    each grasp attempt draws an offset in +-``yaw_deg`` that is added to the *executed* joint-7
    target while the hand approaches the part and fades out (x ``decay`` per step) while it descends;
    the *recorded* action stays the expert's own. The dataset then holds misaligned hands labelled
    with the targets that align them. The expert plans from its own commanded joints, so the noise
    does not change its plan; the fingers close with the offset gone (episodes the expert still
    fails are dropped as usual)."""

    yaw_deg: float
    decay: float = 0.6

    def __post_init__(self) -> None:
        if not np.isfinite(self.yaw_deg) or not 0.0 <= self.yaw_deg <= 90.0:
            raise ValueError(f"--approach-yaw-noise must be within 0..90 degrees, got {self.yaw_deg}")
        self.reset(0)  # run_expert_episode resets again with each episode's seed

    def reset(self, seed: int) -> None:
        """A new episode: its own reproducible draws (``seed`` is the episode's env seed)."""
        self._rng = np.random.default_rng([int(seed), 0x5A3D])
        self.offset, self._phase = 0.0, ""

    def __call__(self, action: np.ndarray, phase: str, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """The action to execute for the expert's ``action`` in ``phase`` (within ``low``..``high``)."""
        if phase == "approach":
            if self._phase != "approach":  # a new grasp attempt
                self.offset = float(self._rng.uniform(-1.0, 1.0) * np.radians(self.yaw_deg))
        elif phase == "descend":
            self.offset *= self.decay
        else:
            self.offset = 0.0
        self._phase = phase
        out = np.array(action, dtype=np.float32)
        out[6] += self.offset
        return np.clip(out, low, high).astype(np.float32)


@dataclass
class StudentTakeover:
    """DAgger-style data without a per-frame teacher chunk: a trained policy drives the start of
    each episode exactly as it is deployed (:class:`~jafm_robot.policies.inference.ChunkExecutor`,
    motor targets interpolated within each step as eval and the control loop move them), and the
    scripted expert takes over from the state the policy reached and finishes the episode.

    Behaviour cloning only ever shows the policy the expert's own states; the shipped PickPlace
    model's failures start where its hand hovers 1.5-11 cm off the named part and closes there.
    Handing over at a random step in ``steps`` (MIN, MAX), or earlier at the moment the policy
    first commands the fingers to close (below ``close_width``), puts the expert's correction from
    the policy's own mistakes into the dataset. The policy's actions (frames before the takeover)
    are marked as skipped actions, so training imitates only the expert's.
    """

    policy: Any  # a LoadedPolicy (policies.inference.load_policy)
    steps: tuple[int, int]
    replan_every: int | None = None
    close_width: float = 0.05

    def __post_init__(self) -> None:
        lo, hi = (int(v) for v in self.steps)
        if not 1 <= lo <= hi:
            raise ValueError(f"--takeover must be MIN,MAX steps with 1 <= MIN <= MAX, got {self.steps}")
        self.steps = (lo, hi)
        from jafm_robot.policies.inference import ChunkExecutor

        self.executor = ChunkExecutor(self.policy, self.replan_every)
        self.reset(0)

    def reset(self, seed: int) -> None:
        """A new episode: its own reproducible takeover step (``seed`` is the episode's env seed)."""
        self.at = int(np.random.default_rng([int(seed), 0x7A4E]).integers(self.steps[0], self.steps[1] + 1))
        self.executor.reset()

    def act(self, obs: dict[str, Any], step: int) -> np.ndarray | None:
        """The policy's action for ``step``, or None: the expert takes over from here."""
        if step >= self.at:
            return None
        action = np.asarray(self.executor.act(obs), dtype=np.float32)
        return None if action[7] < self.close_width else action


def _range(option: str, value: tuple[float, float] | None, unit: str, most: float) -> tuple[float, float] | None:
    """A MIN,MAX pair checked as 0 < MIN <= MAX <= ``most``, or None; ``ValueError`` naming ``option``."""
    if value is None:
        return None
    lo, hi = (float(v) for v in value)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 < lo <= hi <= most):
        raise ValueError(f"{option} must be MIN,MAX {unit} with 0 < MIN <= MAX <= {most:g}, got {value}")
    return lo, hi


def run_expert_episode(env, expert, seed: int, language: str, max_steps: int | None = None,
                       noise: ApproachYawNoise | None = None,
                       takeover: StudentTakeover | None = None) -> tuple[Episode, dict]:
    """One expert episode as an :class:`Episode` (not yet written) and the final info dict. With
    ``noise`` the env executes the noisy action while the episode records the expert's. With
    ``takeover`` a policy drives until the expert takes over (see :class:`StudentTakeover`); the
    info dict then holds ``takeover_step`` (None if the episode ended first)."""
    obs, info = env.reset(seed=seed, options={"language": language})
    u = env.unwrapped
    interpolation = u.action_interpolation
    taken_at: int | None = None
    if takeover is None:
        expert.reset(seed=seed)
    else:
        takeover.reset(seed)
        u.action_interpolation = "linear"  # the policy's steps move as eval and the runtime move them
    if noise is not None:
        noise.reset(seed)
        low, high = env.action_space.low, env.action_space.high
    frames: dict[str, list[np.ndarray]] = {c: [] for c in CAMERAS}
    states, actions = [], []
    limit = max_steps or getattr(env.spec, "max_episode_steps", None) or 10_000
    try:
        for i in range(limit):
            action = None
            if takeover is not None and taken_at is None:
                action = takeover.act(obs, i)
                if action is None:  # the expert continues from where the policy brought the arm
                    taken_at = i
                    u.action_interpolation = interpolation
                    expert.reset(seed=seed)
            if action is None:
                action = np.asarray(expert.act(obs), dtype=np.float32)
            for c in CAMERAS:
                frames[c].append(np.asarray(obs[c], dtype=np.uint8))
            states.append(np.asarray(obs["state"], dtype=np.float32))
            actions.append(action)
            executed = action if noise is None else noise(action, str(getattr(expert, "phase", "")), low, high)
            obs, _r, terminated, truncated, info = env.step(executed)
            if terminated or truncated:
                break
    finally:
        u.action_interpolation = interpolation
    skip = getattr(expert, "unimitated", None)
    if takeover is not None:  # the policy's actions are the ones not to imitate
        info = {**info, "takeover_step": taken_at}
        skip = (0, taken_at) if taken_at else None
    ep = Episode(
        images={c: np.stack(v) for c, v in frames.items()},
        state=np.stack(states),
        action=np.stack(actions),
        task=str(info.get("instruction_text", "")),
        language=str(info.get("language", language)),
        seed=int(seed),
        success=bool(info.get("is_success", False)),
        skip_actions=skip,
    )
    return ep, info


@dataclass
class RecordResult:
    root: str
    attempted: int = 0
    written: int = 0
    failed_seeds: list[int] = field(default_factory=list)
    total_episodes: int = 0
    total_frames: int = 0
    per_language: dict[str, int] = field(default_factory=dict)
    #: with a student: episodes the policy ended before the expert took over (not written)
    student_finished: list[int] = field(default_factory=list)
    #: with a student: the step at which the expert took over, per written episode
    takeover_steps: list[int] = field(default_factory=list)
    #: episodes taken from ``<out>/.pending`` (finished by an earlier, interrupted run)
    resumed: int = 0
    workers: int = 1


@dataclass(frozen=True)
class RecordSpec:
    """How each episode is recorded: what a worker needs to build its env and expert."""

    task: str
    image_size: int = 128
    cube_grasp_offset_deg: float = 0.0
    grasp_hold_steps: int = 0
    approach_yaw_noise_deg: float = 0.0
    align_above: bool = False
    miss_first_grasp_cm: tuple[float, float] | None = None
    turn_first_grasp_deg: tuple[float, float] | None = None
    student: str | None = None
    takeover_steps: tuple[int, int] = (10, 60)
    replan_every: int | None = None

    def key(self) -> str:
        """A digest of the settings: episodes kept in ``.pending`` are reused only by the same recording."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


class RecordWorker:
    """An env, its expert and (with a student) the policy, built once; one episode per call."""

    def __init__(self, spec: RecordSpec, student_policy: Any = None) -> None:
        from jafm_robot.experts import make_expert

        self.spec = spec
        self.noise = ApproachYawNoise(spec.approach_yaw_noise_deg) if spec.approach_yaw_noise_deg else None
        self.takeover = None
        if spec.student is not None:
            from jafm_robot.policies.inference import load_policy

            policy = student_policy if student_policy is not None else load_policy(spec.student, threads=1)
            self.takeover = StudentTakeover(policy, spec.takeover_steps, spec.replan_every)
        self.env = make_env(spec.task, spec.image_size)
        expert = make_expert(self.env)
        expert.square_grasp_offset = float(np.radians(spec.cube_grasp_offset_deg))
        expert.grasp_hold_steps = int(spec.grasp_hold_steps)
        expert.align_above_square = bool(spec.align_above)
        if spec.miss_first_grasp_cm is not None:
            lo, hi = spec.miss_first_grasp_cm
            expert.first_grasp_miss = (lo / 100.0, hi / 100.0)
        if spec.turn_first_grasp_deg is not None:
            lo, hi = spec.turn_first_grasp_deg
            expert.first_grasp_turn = (float(np.radians(lo)), float(np.radians(hi)))
        expert.resume_over_part = self.takeover is not None
        self.expert = expert

    def __call__(self, job: tuple[int, str]) -> tuple[Episode, dict[str, Any]]:
        seed, language = job
        ep, info = run_expert_episode(self.env, self.expert, seed, language, noise=self.noise, takeover=self.takeover)
        ep.env_task = self.spec.task
        return ep, {"takeover_step": info.get("takeover_step")}

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


def _record_worker(spec: RecordSpec) -> RecordWorker:
    return RecordWorker(spec)


class PendingEpisodes:
    """Finished episodes waiting for their turn in seed order, one file each under ``<root>/.pending``.

    A file is written atomically when a worker hands its episode over and removed once the episode
    is committed to the dataset; what a killed recording leaves here is read back by the next run
    of the same recording (same :meth:`RecordSpec.key`) and discarded by any other."""

    def __init__(self, root: str | Path, key: str) -> None:
        self.dir = Path(root) / ".pending"
        self.key = key

    def load(self) -> dict[int, tuple[Episode, dict[str, Any]]]:
        stamp = self.dir / "recording.json"
        if not stamp.is_file():
            return {}
        try:
            same = json.loads(stamp.read_text()).get("key") == self.key
        except (OSError, ValueError):
            same = False
        if not same:
            self.clear()
            return {}
        out = {}
        for f in sorted(self.dir.glob("episode-*.bin")):
            try:
                out[int(f.stem.split("-")[1])] = pickle.loads(zlib.decompress(f.read_bytes()))
            except Exception:  # a torn file from a kill: the episode is recorded again
                f.unlink(missing_ok=True)
        return out

    def save(self, seed: int, result: tuple[Episode, dict[str, Any]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        stamp = self.dir / "recording.json"
        if not stamp.is_file():
            stamp.write_text(json.dumps({"key": self.key}))
        path = self.dir / f"episode-{int(seed)}.bin"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(zlib.compress(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL), 1))
        tmp.replace(path)

    def discard(self, seed: int) -> None:
        (self.dir / f"episode-{int(seed)}.bin").unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _check_student(student: str | Path, task: str, image_size: int, languages: list[str]) -> Any:
    from jafm_robot.policies.inference import load_policy

    policy = load_policy(student)
    if policy.meta.image_size != image_size:
        raise ValueError(f"--student {student} sees {policy.meta.image_size} px frames, the recording "
                         f"--image-size is {image_size}")
    if policy.meta.tasks and task not in policy.meta.tasks:
        raise ValueError(f"--student {student} was trained on tasks {policy.meta.tasks}, not {task!r}")
    if bad := [lang for lang in languages if lang not in policy.meta.languages]:
        raise ValueError(f"--student {student} was trained on languages {policy.meta.languages}, not {bad}")
    return policy


def record(
    task: str,
    episodes: int,
    out: str | Path,
    languages: list[str],
    seed: int = 0,
    image_size: int = 128,
    keep_failures: bool = False,
    max_attempts_factor: int = 3,
    on_episode: Callable[[RecordResult], None] | None = None,
    command: str | None = None,
    cube_grasp_offset_deg: float = 0.0,
    grasp_hold_steps: int = 0,
    approach_yaw_noise_deg: float = 0.0,
    align_above: bool = False,
    miss_first_grasp_cm: tuple[float, float] | None = None,
    turn_first_grasp_deg: tuple[float, float] | None = None,
    student: str | Path | None = None,
    takeover_steps: tuple[int, int] = (10, 60),
    replan_every: int | None = None,
    cluster: Any = None,
    on_workers: Callable[[list[int]], None] | None = None,
) -> RecordResult:
    """Record expert episodes into ``out`` until it holds ``episodes`` (successful ones unless
    ``keep_failures``), at most ``episodes * max_attempts_factor`` attempts in this run.
    ``cube_grasp_offset_deg`` turns the expert's grasp on square-footprint parts (see
    ``Expert.square_grasp_offset``); ``grasp_hold_steps`` pauses the closed hand before each lift
    (``Expert.grasp_hold_steps``); ``approach_yaw_noise_deg`` > 0 executes the expert's approach
    with a wrist-yaw offset it is not told of (:class:`ApproachYawNoise`); ``align_above`` turns
    the wrist to a cube's faces only over the cube (``Expert.align_above_square``);
    ``miss_first_grasp_cm`` (min, max) aims each episode's first grasp that far off the part and
    demonstrates the recovery (``Expert.first_grasp_miss``); ``turn_first_grasp_deg`` (min, max)
    turns it that far off the part's grasp yaw, so the fingers stall on its corners and the
    expert lifts anyway (``Expert.first_grasp_turn``). ``student`` (a .pt or .onnx policy) drives
    each episode until the expert takes over at a step in ``takeover_steps`` or where the policy
    starts to close the fingers (:class:`StudentTakeover`, ``Expert.resume_over_part``).
    ``cluster`` (:class:`jafm_robot.workers.Cluster`) spreads the episodes over workers."""
    from jafm_robot.workers import Cluster, run_ordered

    cluster = cluster or Cluster()
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if grasp_hold_steps < 0:
        raise ValueError(f"--grasp-hold must be >= 0 steps, got {grasp_hold_steps}")
    if approach_yaw_noise_deg:
        ApproachYawNoise(approach_yaw_noise_deg)  # checks the range before anything is built
    spec = RecordSpec(
        task=task, image_size=image_size, cube_grasp_offset_deg=cube_grasp_offset_deg,
        grasp_hold_steps=grasp_hold_steps, approach_yaw_noise_deg=approach_yaw_noise_deg, align_above=align_above,
        miss_first_grasp_cm=_range("--miss-first-grasp", miss_first_grasp_cm, "centimetres", 10.0),
        turn_first_grasp_deg=_range("--turn-first-grasp", turn_first_grasp_deg, "degrees", 45.0),
        student=None if student is None else str(student), takeover_steps=tuple(takeover_steps),  # type: ignore[arg-type]
        replan_every=replan_every)
    policy = None
    if student is not None:
        if spec.miss_first_grasp_cm is not None or spec.turn_first_grasp_deg is not None or approach_yaw_noise_deg:
            raise ValueError("--student cannot be combined with --miss-first-grasp, --turn-first-grasp or "
                             "--approach-yaw-noise: the takeover already marks the episode's start as not imitated")
        policy = _check_student(student, task, image_size, languages)
        StudentTakeover(policy, spec.takeover_steps)  # checks --takeover before the folder is touched
    here = RecordWorker(spec, policy)  # this process records with it, and its env names the dataset's facts
    try:
        env = here.env
        fps = round(1.0 / env_action_dt(env))
        robot = getattr(env.unwrapped, "robot_config", None)
        joint_names = tuple(getattr(robot, "joint_names", ())) or tuple(f"panda_joint{i}" for i in range(1, 8))
        writer = LeRobotV3Writer(out, fps=fps, image_size=image_size, robot=getattr(robot, "name", "panda"),
                                 joint_names=joint_names, scene=scene_identity(env.unwrapped.scene_config),
                                 command=command)
        if cluster.parallel:
            here.close()
        res = RecordResult(root=str(out), workers=cluster.workers)
        res.total_episodes, res.total_frames = writer.num_episodes, int(writer.info["total_frames"])
        if writer.num_episodes >= episodes:
            return res
        used = {int(r.get("seed", -1)) for r in writer._episodes_rows}
        pending = PendingEpisodes(out, spec.key())

        def language_of(s: int) -> str:
            return languages[(s - seed) % len(languages)]

        # kept only where this run would record the same seed in the same language (--lang or
        # --seed may differ from the interrupted run's)
        known = {s: v for s, v in pending.load().items() if v[0].language == language_of(s)}

        def jobs() -> Iterator[tuple[int, tuple[int, str]]]:
            s, n = seed, 0
            while n < episodes * max_attempts_factor:
                if s not in used:
                    yield s, (s, language_of(s))
                    n += 1
                s += 1

        def student_finished(info: dict[str, Any]) -> bool:  # the policy did it all: nothing of the expert's
            return student is not None and info["takeover_step"] is None

        def keep(s: int, result: tuple[Episode, dict[str, Any]]) -> None:
            ep, info = result
            if (ep.success or keep_failures) and not student_finished(info):
                pending.save(s, result)

        factory = partial(_record_worker, spec) if cluster.parallel else (lambda: here)
        stream = run_ordered(factory, jobs(), cluster, progress=False, known=known,
                             on_done=keep if cluster.parallel else None, on_workers=on_workers)
        try:
            for s, (ep, info) in stream:
                res.attempted += 1
                res.resumed += int(s in known)
                if student_finished(info):
                    res.student_finished.append(s)
                elif ep.success or keep_failures:
                    if student is not None:
                        res.takeover_steps.append(int(info["takeover_step"]))
                    writer.add_episode(ep)
                    res.written += 1
                    res.per_language[ep.language] = res.per_language.get(ep.language, 0) + 1
                else:
                    res.failed_seeds.append(s)
                pending.discard(s)
                res.total_episodes, res.total_frames = writer.num_episodes, int(writer.info["total_frames"])
                if on_episode is not None:
                    on_episode(res)
                if writer.num_episodes >= episodes:
                    break
        finally:
            stream.close()
        pending.clear()  # finished: what workers recorded beyond the target is not this recording's
        return res
    finally:
        here.close()
