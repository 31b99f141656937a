"""Scripted experts: iterated IK accuracy and limits, per-task success on fixed seeds, friction-only
grasps, and the ``jafm-robot expert`` command (JSON, video, clear errors).

Everything runs on real PyBullet physics; images are rendered small (32 px) because the experts
do not look at them and the renderer dominates the cost of a step.
"""

from __future__ import annotations

import json

import gymnasium
import numpy as np
import pybullet as p
import pytest

import jafm_robot  # noqa: F401  (registers the envs)
from jafm_robot.cli.main import main as cli_main
from jafm_robot.contract import TASKS
from jafm_robot.envs.rollout import EpisodeResult, rollout, summarize
from jafm_robot.experts import make_expert
from jafm_robot.experts.ik import IKSolver, quat_angle, top_down_quat

IMG = 32


def _env(task: str, randomize: bool = True):
    return gymnasium.make(f"jafm_robot/{task}-v0", render_mode="rgb_array", image_size=IMG, randomize=randomize)


# -- IK --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def solver():
    s = IKSolver()
    yield s
    s.close()


def test_ik_reaches_random_reachable_poses_within_1mm(solver: IKSolver) -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        r, a = rng.uniform(0.33, 0.68), rng.uniform(-0.8, 0.8)
        pos = np.array([r * np.cos(a), r * np.sin(a), rng.uniform(0.01, 0.4)])
        quat = top_down_quat(rng.uniform(-1.6, 1.6))
        res = solver.solve(pos, quat, q_seed=None)
        assert res.ok, (pos, res)
        # check independently of the solver's own bookkeeping
        fp, fq = solver.fk(res.q)
        assert np.linalg.norm(fp - pos) < 1e-3
        assert quat_angle(fq, quat) < 1e-2
        assert np.all(res.q >= solver.cfg.position_lower) and np.all(res.q <= solver.cfg.position_upper)


def test_ik_never_leaves_joint_limits_even_when_unreachable(solver: IKSolver) -> None:
    rng = np.random.default_rng(3)
    for pos in ([1.4, 0.0, 0.1], [0.05, 0.0, -0.3], [0.0, 0.0, 1.5], [0.2, -0.9, 0.0]):
        seed = rng.uniform(solver.cfg.position_lower, solver.cfg.position_upper)
        res = solver.solve(np.array(pos), top_down_quat(rng.uniform(-3, 3)), q_seed=seed)
        assert not res.ok  # out of reach: best effort, flagged
        assert np.all(res.q >= solver.cfg.position_lower) and np.all(res.q <= solver.cfg.position_upper)
        assert np.all(np.isfinite(res.q))


def test_ik_rejects_non_finite_targets(solver: IKSolver) -> None:
    with pytest.raises(ValueError, match="finite"):
        solver.solve(np.array([np.nan, 0.0, 0.2]), top_down_quat(0.0))


def test_ik_seeded_solutions_are_continuous(solver: IKSolver) -> None:
    """Along a straight path each solution seeded by the previous one moves the joints a little:
    the expert's per-step joint change stays what the arm can follow."""
    q = None
    prev = None
    for t in np.linspace(0, 1, 30):
        pos = np.array([0.4 + 0.25 * t, -0.2 + 0.4 * t, 0.25 - 0.2 * t])
        res = solver.solve(pos, top_down_quat(0.3), q_seed=q)
        assert res.ok
        if prev is not None:
            assert np.max(np.abs(res.q - prev)) < 0.15
        prev = q = res.q


# -- experts ----------------------------------------------------------------------------------------
# (task, seeds): a couple of fixed seeds per task (Sort is the long one: one seed).
CASES = [("Reach", (0, 1, 2)), ("PickPlace", (0, 1)), ("ConveyorPick", (0, 1)), ("Stack", (0, 1)), ("Sort", (0,))]


@pytest.mark.parametrize(("task", "seeds"), CASES, ids=[c[0] for c in CASES])
def test_expert_succeeds_on_fixed_seeds(task: str, seeds: tuple[int, ...]) -> None:
    env = _env(task)
    try:
        expert = make_expert(env)
        limit = env.spec.max_episode_steps
        prev_action = None
        for i, seed in enumerate(seeds):
            lang = ("en", "ja")[i % 2]
            actions: list[np.ndarray] = []

            def act(obs, _a=actions):
                a = expert.act(obs)
                _a.append(a)
                return a

            act.reset = expert.reset  # type: ignore[attr-defined]
            r = rollout(env, act, seed=seed, language=lang)
            assert r.success, f"{task} seed {seed} failed in phase {expert.phase} after {r.steps} steps"
            assert r.steps <= limit
            a = np.stack(actions)
            assert a.dtype == np.float32 and a.shape[1] == 8
            low, high = env.action_space.low, env.action_space.high
            assert np.all(a >= low - 1e-6) and np.all(a <= high + 1e-6)
            # smooth: no joint target jumps more than the arm can follow in one 0.1 s step
            vmax = env.unwrapped.robot.cfg.velocity_limit * env.unwrapped.action_dt
            assert np.all(np.abs(np.diff(a[:, :7], axis=0)) <= vmax + 1e-5)
            prev_action = a
        assert prev_action is not None
    finally:
        env.close()


def test_grasp_holds_by_friction_only() -> None:
    """During the carry the part is in the air between both fingers, and no constraint of any kind
    has the part as parent or child (a finger-coupling gear inside the robot is allowed)."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        expert = make_expert(env)
        env.reset(seed=4, options={"language": "en"})
        expert.reset()
        part = u.world.part(u.task.goal["part"])
        carried = 0
        for _ in range(env.spec.max_episode_steps):
            _, _, term, trunc, _ = env.step(expert.act())
            if expert.phase == "carry":
                pos = np.asarray(p.getBasePositionAndOrientation(part.body_id, physicsClientId=u.client)[0])
                assert pos[2] > u.world.table_height + part.half_height + 0.03  # lifted off the table
                assert expert.finger_contacts(part) == 2
                for k in range(p.getNumConstraints(physicsClientId=u.client)):
                    info = p.getConstraintInfo(p.getConstraintUniqueId(k, physicsClientId=u.client),
                                               physicsClientId=u.client)
                    assert part.body_id not in (info[0], info[2])
                carried += 1
            if term or trunc:
                break
        assert carried >= 3
        assert u.task.is_success()
    finally:
        env.close()



def test_static_grasp_commands_closed_from_the_first_close_point() -> None:
    """Every action point of a static close says width 0 while the fingers are still open: a
    policy cloned from these labels that re-plans mid-close (or finds its fingers resting on a
    part's corners) keeps squeezing instead of restarting a ramp from the width it sees. The hand
    holds still meanwhile, and the fingers have reached the part before the lift starts.
    ``grasp_hold_steps`` (``record --grasp-hold``) lengthens exactly that still, closed phase."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        close_len = {}
        for hold in (0, 4):
            expert = make_expert(env)
            expert.grasp_hold_steps = hold
            env.reset(seed=7, options={"language": "en"})
            expert.reset()
            close_widths, close_arm, seen_open = [], [], []
            width_at_lift = None
            for _ in range(env.spec.max_episode_steps):
                a = expert.act()
                if expert.phase == "close":
                    close_widths.append(float(a[7]))
                    close_arm.append(a[:7].copy())
                    seen_open.append(float(u.robot.state()[7]))
                elif close_widths and width_at_lift is None:
                    width_at_lift = float(u.robot.state()[7])
                _, _, term, trunc, _ = env.step(a)
                if term or trunc:
                    break
            assert len(close_widths) >= 3
            assert max(close_widths) == 0.0
            assert np.abs(np.diff(np.asarray(close_arm), axis=0)).max() < 1e-6  # the hand holds its pose
            # the first 0 meets open fingers, which then travel >= 1 cm to the part before the lift
            assert width_at_lift is not None and width_at_lift < seen_open[0] - 0.01
            assert u.task.is_success(), f"grasp_hold_steps={hold}"
            close_len[hold] = len(close_widths)
        assert close_len[4] == close_len[0] + 4
    finally:
        env.close()


def test_cube_grasped_across_its_diagonal_is_lifted_by_its_edges() -> None:
    """``square_grasp_offset = pi/4`` (``record --cube-grasp-offset 45``): the fingers stall on a
    cube's edges at ~1.41x its side, the expert lifts it from there, and the task still succeeds;
    with no offset the fingers close to the side."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        seed = next(s for s in range(60000, 60100)
                    if env.reset(seed=s)[1] is not None and "cube" in u.task.goal["part"])
        widths = {}
        for offset in (0.0, np.pi / 4):
            expert = make_expert(env)
            expert.square_grasp_offset = offset
            obs, _ = env.reset(seed=seed, options={"language": "en"})
            expert.reset()
            side = float(u.world.part(u.task.goal["part"]).size[0])
            for _ in range(env.spec.max_episode_steps):
                obs, _, term, trunc, _ = env.step(expert.act(obs))
                if expert.phase == "lift" and offset not in widths:
                    widths[offset] = float(obs["state"][7])
                if term or trunc:
                    break
            assert u.task.is_success(), f"offset {offset}"
            assert expert.attempts == 1
        assert widths[0.0] < side + 0.004
        assert widths[np.pi / 4] > 1.3 * side
    finally:
        env.close()


def test_expert_restarts_after_an_env_reset_it_was_not_told_about() -> None:
    env = _env("Reach")
    try:
        expert = make_expert(env)
        env.reset(seed=0)
        for _ in range(5):
            env.step(expert.act())
        env.reset(seed=1)  # no expert.reset(): act() must notice the new world
        for _ in range(env.spec.max_episode_steps):
            _, _, term, trunc, _ = env.step(expert.act())
            if term or trunc:
                break
        assert env.unwrapped.task.is_success()
    finally:
        env.close()


def test_make_expert_rejects_unknown_task() -> None:
    class Fake:
        unwrapped = type("U", (), {"task": type("T", (), {"name": "Juggle"})()})()

    with pytest.raises(ValueError, match="no expert for task 'Juggle'"):
        make_expert(Fake())


# -- rollout bookkeeping ------------------------------------------------------------------------------
def test_summarize_counts_per_language_and_wilson_interval() -> None:
    rs = [EpisodeResult(seed=i, language="en" if i % 2 == 0 else "ja", instruction="x", success=i != 3,
                        steps=10 + i, wall_s=0.1) for i in range(6)]
    s = summarize(rs, task="PickPlace", seed=0, wall_s=1.0)
    assert s["episodes"] == 6 and s["successes"] == 5
    assert s["success_rate"] == pytest.approx(5 / 6)
    assert s["by_language"]["en"] == {"episodes": 3, "successes": 3, "success_rate": 1.0,
                                      "ci95": s["by_language"]["en"]["ci95"]}
    assert s["by_language"]["ja"]["successes"] == 2
    lo, hi = s["ci95"]
    assert 0.0 < lo < 5 / 6 < hi <= 1.0
    assert s["failed_seeds"] == [3]
    assert s["mean_steps"] == pytest.approx(np.mean([10 + i for i in range(6)]))


# -- CLI ----------------------------------------------------------------------------------------------
def test_cli_writes_json_and_a_decodable_video(tmp_path) -> None:
    import imageio.v3 as iio

    js, mp4 = tmp_path / "r.json", tmp_path / "r.mp4"
    rc = cli_main(["expert", "--task", "Reach", "--episodes", "2", "--seed", "5", "--lang", "en,ja",
                   "--json", str(js), "--video", str(mp4), "--image-size", "48", "--video-episodes", "1"])
    assert rc == 0
    d = json.loads(js.read_text())
    for key in ("task", "episodes", "success_rate", "ci95", "by_language", "seed", "mean_steps", "wall_s"):
        assert key in d
    assert d["task"] == "Reach" and d["episodes"] == 2 and d["seed"] == 5
    assert set(d["by_language"]) == {"en", "ja"}
    assert d["by_language"]["en"]["episodes"] == 1
    assert [e["seed"] for e in d["episodes_detail"]] == [5, 6]
    assert d["success_rate"] == 1.0
    frames = iio.imread(mp4, plugin="pyav")
    steps = d["episodes_detail"][0]["steps"]
    assert frames.shape[0] == steps + 1  # reset frame + one per step of the first episode
    assert frames.ndim == 4 and frames.shape[3] == 3 and min(frames.shape[1:3]) >= 32
    assert frames.std() > 1.0  # a real rendered scene, not a blank


@pytest.mark.parametrize(("args", "msg"), [
    (["--task", "Juggle"], "unknown task 'Juggle'"),
    (["--task", "Reach", "--lang", "fr"], "unknown language"),
    (["--task", "Reach", "--episodes", "0"], "--episodes must be >= 1"),
])
def test_cli_bad_input_is_one_clear_line_and_exit_2(args, msg, capsys) -> None:
    rc = cli_main(["expert", *args])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]


# -- long run -----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_expert_success_rate_over_50_episodes(task: str) -> None:
    env = _env(task)
    try:
        expert = make_expert(env)
        rs = [rollout(env, expert, seed=1000 + i, language=("en", "ja")[i % 2]) for i in range(50)]
    finally:
        env.close()
    s = summarize(rs, task=task)
    need = 0.92 if task == "Sort" else 0.96
    assert s["success_rate"] >= need, s["failed_seeds"]


def test_fresh_expert_started_mid_carry_finishes_the_task() -> None:
    """A DAgger teacher starts a new expert from a student's state: with the part already in the
    hand it must keep squeezing and carry on to the bin, not open and re-approach."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        first = make_expert(env)
        env.reset(seed=2)
        first.reset()
        for _ in range(env.spec.max_episode_steps):
            env.step(first.act())
            if first.phase == "carry":
                break
        assert first.phase == "carry"
        part = u.world.part(u.task.goal["part"])
        second = make_expert(env)
        second.reset()
        a = second.act()
        assert a[7] == 0.0  # still squeezing
        env.step(a)
        for _ in range(env.spec.max_episode_steps):
            _, _, term, _, _ = env.step(second.act())
            if term:
                break
            assert second.attempts == 0  # never re-grasped
        assert u.task.is_success()
        assert u.world.in_bin(part, u.task.goal["bin"])
    finally:
        env.close()


def test_approach_yaw_noise_records_the_experts_actions_while_executing_a_misaligned_hand() -> None:
    """``record --approach-yaw-noise``: the env executes the approach with a wrist-yaw offset while
    the episode records the expert's own targets, so the dataset holds misaligned hands labelled
    with targets that align them; the offset is gone by the time the fingers close."""
    from jafm_robot.datasets.recording import ApproachYawNoise, run_expert_episode

    env = _env("PickPlace")
    try:
        expert = make_expert(env)
        noise = ApproachYawNoise(30.0)
        seed = next(s for s in range(11, 60) if abs(_first_draw(noise, s)) > np.radians(15.0))
        offset = _first_draw(noise, seed)
        clean, _ = run_expert_episode(env, expert, seed, "en")
        noisy, info = run_expert_episode(env, expert, seed, "en", noise=noise)
        assert noisy.success and info["is_success"]
        # up to the first descent nothing has touched the part: the recorded plan is the clean one
        n = 8
        np.testing.assert_allclose(noisy.action[:n], clean.action[:n], atol=1e-6)
        # ... and the wrist the cameras saw turned away from it by the drawn offset
        gap = noisy.state[:n, 6] - clean.state[:n, 6]
        assert abs(gap[np.argmax(np.abs(gap))] - offset) < np.radians(5.0)
        assert noise.offset == 0.0  # faded out and reset once the hand closed
    finally:
        env.close()


def _first_draw(noise, seed: int) -> float:
    noise.reset(seed)
    a = np.zeros(8, np.float32)
    out = float(noise(a, "approach", a - 9.0, a + 9.0)[6])
    noise.reset(seed)
    return out


def test_approach_yaw_noise_schedule() -> None:
    """One offset per grasp attempt, within the bound, held while approaching, decaying while
    descending, zero otherwise; reproducible from the episode seed; bad bounds refused."""
    from jafm_robot.datasets.recording import ApproachYawNoise

    low, high = -np.full(8, 3.0, np.float32), np.full(8, 3.0, np.float32)
    a = np.zeros(8, np.float32)
    noise = ApproachYawNoise(20.0, decay=0.5)
    offsets = []
    for seed in range(20):
        noise.reset(seed)
        assert noise(a, "start", low, high)[6] == 0.0
        first = noise(a, "approach", low, high)[6]
        assert 0.0 < abs(first) <= np.radians(20.0) and noise(a, "approach", low, high)[6] == first
        assert noise(a, "descend", low, high)[6] == pytest.approx(first * 0.5)
        assert noise(a, "close", low, high)[6] == 0.0
        second = noise(a, "approach", low, high)[6]  # a retry draws again
        assert second != first and abs(second) <= np.radians(20.0)
        offsets.append(first)
        noise.reset(seed)
        noise(a, "start", low, high)
        assert noise(a, "approach", low, high)[6] == first
    assert min(offsets) < 0.0 < max(offsets)
    assert noise(np.full(8, 2.99, np.float32), "approach", low, high).max() <= 3.0  # within the action limits
    for bad in (-1.0, 120.0, float("nan")):
        with pytest.raises(ValueError, match="approach-yaw-noise"):
            ApproachYawNoise(bad)


def test_align_above_turns_the_wrist_over_the_cube_not_on_the_way() -> None:
    """``align_above_square`` (``record --align-above``): the hand keeps its yaw while it travels
    to a cube and turns to the cube's faces only once over it (hand still, wrist turning), where the
    wrist camera shows the cube; the pick still succeeds. By default the turn happens on the way."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        seen = {}
        for align in (False, True):
            expert = make_expert(env)
            expert.align_above_square = align
            env.reset(seed=7003, options={"language": "en"})  # a cube whose faces are ~35 deg off the hand
            assert expert.is_square(u.world.part(u.task.goal["part"]))
            expert.reset()
            yaw, phases, q7, ee = [], [], [], []
            for _ in range(env.spec.max_episode_steps):
                a = expert.act()
                phases.append(expert.phase)
                yaw.append(expert.ee_yaw_unwrapped())
                q7.append(float(a[6]))
                ee.append(np.asarray(u.robot.ee_pose()[0][:2]))
                _, _, term, trunc, _ = env.step(a)
                if term or trunc:
                    break
            assert u.task.is_success(), f"align_above_square={align}"
            ph = np.asarray(phases)
            approach_turn = float(np.ptp(np.unwrap(np.asarray(yaw)[ph == "approach"])))
            seen[align] = (approach_turn, ph, np.asarray(q7), np.asarray(ee))
        assert "align" not in seen[False][1] and seen[False][0] > 0.3
        turn, ph, q7, ee = seen[True]
        assert turn < 0.02  # the hand's yaw in the world holds during the approach
        aligning = ph == "align"
        assert aligning.any()
        assert abs(q7[aligning][-1] - q7[ph == "approach"][-1]) > 0.3  # the wrist turns over the cube ...
        assert np.ptp(ee[aligning], axis=0).max() < 0.005  # ... with the hand still
    finally:
        env.close()


def test_first_grasp_miss_demonstrates_a_recovery() -> None:
    """``first_grasp_miss`` (``record --miss-first-grasp``): the first grasp closes 2-3.5 cm off the
    part, the empty hand lifts, opens and grasps again, and the pick succeeds; the deliberate miss
    (approach to close) is reported as the action range not to imitate, and the same seed gives the
    same miss."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        runs = []
        for _ in range(2):
            expert = make_expert(env)
            expert.first_grasp_miss = (0.02, 0.035)
            env.reset(seed=9302, options={"language": "en"})
            part = u.world.part(u.task.goal["part"])
            expert.reset(seed=9302)
            phases, off, grip, z = [], [], [], []
            for _ in range(env.spec.max_episode_steps):
                a = expert.act()
                phases.append(expert.phase)
                grip.append(float(a[7]))
                z.append(float(u.robot.ee_pose()[0][2]))
                off.append(np.linalg.norm(np.asarray(u.robot.ee_pose()[0][:2]) - np.asarray(expert.pose(part)[0][:2])))
                _, _, term, trunc, _ = env.step(a)
                if term or trunc:
                    break
            assert u.task.is_success()
            runs.append((expert.unimitated, expert.attempts, phases, off, grip, z, expert.table_z + expert.carry_height))
        (a, b), attempts, phases, off, grip, z, carry_z = runs[0]
        assert runs[1][0] == (a, b)  # seeded: the same miss again
        assert attempts == 2  # missed once, then grasped
        assert 0 <= a < b and phases[b - 1] == "close" and phases[b] == "lift"  # the range ends with the close
        assert off[phases.index("close")] > 0.015  # the fingers started closing beside the part ...
        assert "retry" in phases[b:]  # ... and the demonstration goes on to the recovery:
        opens = next(i for i in range(b, len(grip)) if grip[i] > 0.03)
        assert phases[opens] == "retry" and z[opens] > carry_z - 0.02  # the empty hand opens only once up high
        closes = [i for i in range(b, len(phases)) if phases[i] == "close"]
        assert closes and off[closes[-1]] < 0.012  # the second grasp is on the part
    finally:
        env.close()


def test_first_grasp_turn_stalls_the_fingers_and_lifts_anyway() -> None:
    """``first_grasp_turn`` (``record --turn-first-grasp``): the first grasp of a block is turned
    20-40 deg off its grasp yaw, the fingers stall on its corners wider than the block's narrow
    side, and the expert lifts and delivers it all the same; the turned approach and close are
    the range not to imitate. A cylinder has no yaw to get wrong: its grasp stays plain."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        expert = make_expert(env)
        expert.first_grasp_turn = (np.radians(20.0), np.radians(40.0))
        env.reset(seed=21015, options={"language": "ja"})
        part = u.world.part(u.task.goal["part"])
        assert part.shape == "block"
        expert.reset(seed=21015)
        phases, width = [], []
        for _ in range(env.spec.max_episode_steps):
            a = expert.act()
            phases.append(expert.phase)
            _, _, term, trunc, _ = env.step(a)
            width.append(float(u.robot.state()[7]))
            if term or trunc:
                break
        assert u.task.is_success() and expert.unimitated is not None
        a, b = expert.unimitated
        assert phases[b - 1] == "close" and phases[b] == "lift" and expert.attempts == 1
        assert width[b - 1] > min(part.size[:2]) + 0.005  # stalled on the corners, not across the narrow side
        env.reset(seed=21002, options={"language": "en"})  # a cylinder
        assert u.world.part(u.task.goal["part"]).shape == "cylinder"
        expert.reset(seed=21002)
        for _ in range(env.spec.max_episode_steps):
            _, _, term, trunc, _ = env.step(expert.act())
            if term or trunc:
                break
        assert u.task.is_success() and expert.unimitated is None
    finally:
        env.close()


def _hand_beside_the_part(env, seed: int) -> None:
    """Bring the hand down to grasp depth 1.5-2 cm off the part across the fingers' closing line
    (a deliberate miss, stopped just before its close): where a cloned policy closes and fails."""
    u = env.unwrapped
    miss = make_expert(env)
    miss.first_grasp_miss = (0.015, 0.02)
    env.reset(seed=seed, options={"language": "en"})
    miss.reset(seed=seed)
    for _ in range(env.spec.max_episode_steps):
        a = miss.act()
        if miss.phase == "close":
            break
        env.step(a)
    assert miss.phase == "close"
    part = u.world.part(u.task.goal["part"])
    assert np.linalg.norm(np.asarray(u.robot.ee_pose()[0][:2]) - miss.pose(part)[0][:2]) > 0.012


@pytest.mark.parametrize("resume", [True, False])
def test_expert_resumed_beside_the_part_recentres_low_instead_of_backing_off(resume: bool) -> None:
    """``resume_over_part`` (``record --student``): an expert started with the open hand at grasp
    depth beside the part slides over it at that height and grasps, never rising more than a few
    centimetres; without it the expert first lifts to carry height. Both finish the task."""
    env = _env("PickPlace")
    try:
        u = env.unwrapped
        _hand_beside_the_part(env, 9302)
        part = u.world.part(u.task.goal["part"])
        top = float(p.getBasePositionAndOrientation(part.body_id, physicsClientId=u.client)[0][2]) + part.half_height
        expert = make_expert(env)
        expert.resume_over_part = resume
        expert.reset(seed=9302)
        peak, closed_at = 0.0, None
        for i in range(env.spec.max_episode_steps):
            a = expert.act()
            if closed_at is None and expert.phase == "close":
                closed_at = i
            if closed_at is None:
                peak = max(peak, float(u.robot.ee_pose()[0][2]))
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                break
        assert u.task.is_success()
        assert expert.attempts == 1 and closed_at is not None
        if resume:
            assert peak < top + 0.03 and closed_at <= 8  # slid across low and closed soon
        else:
            assert peak > expert.table_z + expert.carry_height - 0.02  # backed off to carry height first
    finally:
        env.close()
