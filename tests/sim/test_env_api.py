"""RobotTaskEnv against the contract: check_env in full, spaces, seeding, errors, action handling."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from jafm_robot.contract import ENV_IDS, INSTRUCTION_LEN, TASKS, decode_instruction, encode_instruction
from jafm_robot.envs.core import RobotTaskEnv
from jafm_robot.envs.registration import MAX_EPISODE_STEPS, register_envs
from jafm_robot.envs.tasks import TASK_CLASSES


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_in_full(env_id: str) -> None:
    """gymnasium's checker, step determinism included, on the unwrapped env; no checker warnings
    other than the (contract-mandated) non-normalised action Box."""
    env = gym.make(env_id, image_size=32, render_mode="rgb_array")
    try:
        assert not env.spec.nondeterministic
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)
        msgs = [str(w.message) for w in caught if "symmetric and normalized" not in str(w.message)]
        assert not [m for m in msgs if "WARN" in m or "determinis" in m], msgs
    finally:
        env.close()


def test_registration_is_idempotent_and_matches_tasks() -> None:
    register_envs()
    register_envs()
    for task, eid in zip(TASKS, ENV_IDS, strict=True):
        spec = gym.spec(eid)
        assert spec.max_episode_steps == MAX_EPISODE_STEPS[task] == TASK_CLASSES[task].max_episode_steps
        assert spec.kwargs["task"] == task


def test_observation_and_info_follow_the_contract(make_env) -> None:
    env = make_env("PickPlace", image_size=48, render_mode="rgb_array")
    obs, info = env.reset(seed=5)
    assert env.observation_space.contains(obs)
    assert obs["image"].shape == obs["wrist_image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
    assert obs["state"].shape == (8,) and obs["state"].dtype == np.float32
    assert obs["instruction"].shape == (INSTRUCTION_LEN,) and obs["instruction"].dtype == np.uint8
    assert decode_instruction(obs["instruction"]) == info["instruction_text"]
    assert np.array_equal(obs["instruction"], encode_instruction(info["instruction_text"]))
    assert info["language"] == "en" and info["is_success"] is False
    u = env.unwrapped
    assert np.allclose(obs["state"], u.robot_config.home8, atol=2e-3)  # starts at home, settled
    assert obs["image"].std() > 5 and obs["wrist_image"].std() > 5  # real pictures, not blank frames
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    assert env.action_space.shape == (8,)
    assert np.allclose(env.action_space.low, u.robot_config.action_low)
    assert np.allclose(env.action_space.high, u.robot_config.action_high)
    assert u.substeps * u.sim_dt == pytest.approx(u.action_dt) and u.sim_dt <= 1 / 240


def test_same_seed_same_scene_and_instruction_different_seed_differs(make_env) -> None:
    env = make_env("PickPlace")
    u = env.unwrapped

    def snapshot(seed: int, lang: str = "en"):
        obs, info = env.reset(seed=seed, options={"language": lang})
        poses = {q.name: u.world.part_position(q).round(6).tolist() for q in u.world.parts}
        return obs, info, poses, dict(u.task.goal)

    o1, i1, p1, g1 = snapshot(11)
    o2, i2, p2, g2 = snapshot(11)
    assert i1["instruction_text"] == i2["instruction_text"] and p1 == p2
    assert np.array_equal(o1["image"], o2["image"]) and np.array_equal(o1["wrist_image"], o2["wrist_image"])
    assert g1["part"] == g2["part"] and g1["bin"] == g2["bin"]
    others = [snapshot(s) for s in (12, 13, 14)]
    assert any(p != p1 for _, _, p, _ in others)
    assert any(not np.array_equal(o["image"], o1["image"]) for o, _, _, _ in others)
    assert len({i["instruction_text"] for _, i, _, _ in [*others, (o1, i1, p1, g1)]}) > 1
    # the language changes the words, never the scene
    _, ij, pj, gj = snapshot(11, "ja")
    assert pj == p1 and gj["part"] == g1["part"] and ij["instruction_text"] != i1["instruction_text"]


def test_step_is_command_plus_step_physics_plus_observation(make_env) -> None:
    """Hosts with their own clock drive the world with command + step_physics: same trajectory."""
    a_env, b_env = make_env("ConveyorPick"), make_env("ConveyorPick")
    a_env.reset(seed=3)
    b_env.reset(seed=3)
    a, b = a_env.unwrapped, b_env.unwrapped
    target = a.robot_config.home8.copy()
    target[0] += 0.3
    target[7] = 0.02
    for _ in range(3):
        obs_a, *_ = a_env.step(target)
        b.command(target)
        b.step_physics(b.substeps)
        obs_b = b.get_obs()
        for k in obs_a:
            assert np.array_equal(obs_a[k], obs_b[k]), k
    assert abs(float(obs_a["state"][0]) - float(target[0])) < 0.05  # the arm really moved there


def test_linear_action_interpolation_moves_the_target_through_the_step(make_env) -> None:
    """``action_interpolation="linear"`` (what eval uses): the motor target walks from the previous
    action to the new one over the step's substeps, as the runtime's control loop moves it, instead
    of jumping there at the start of the step. The arm then trails a step's target more than under
    "hold"; both end at the target and apply the same (clipped) action."""
    moved = {}
    for mode in ("hold", "linear"):
        env = make_env("Reach", action_interpolation=mode)
        env.reset(seed=0)
        u = env.unwrapped
        goal = u.robot_config.home8.copy()
        goal[0] += 0.1
        obs, *_ = env.step(goal)
        assert np.allclose(u.target, goal) and np.allclose(u.robot.target, goal)
        moved[mode] = float(obs["state"][0] - u.robot_config.home8[0])
        for _ in range(3):
            obs, *_ = env.step(goal)
        assert abs(float(obs["state"][0]) - goal[0]) < 2e-3
    assert 0.09 < moved["hold"] <= 0.101  # a jumping target: there within the step
    assert 0.05 < moved["linear"] < moved["hold"] - 0.005  # a moving target: the arm trails it (~15 ms)
    with pytest.raises(ValueError, match="action_interpolation"):
        make_env("Reach", action_interpolation="cubic")


def test_nan_action_holds_previous_target_and_out_of_range_is_clipped(make_env) -> None:
    env = make_env("Reach")
    env.reset(seed=0)
    u = env.unwrapped
    good = u.robot_config.home8.copy()
    good[0] = 0.4
    _, _, _, _, info = env.step(good)
    assert not info["action_held"] and not info["action_clipped"]
    for bad in (np.full(8, np.nan), np.r_[good[:3], np.inf, good[4:]], np.r_[good[:7], -np.inf]):
        _, _, _, _, info = env.step(bad.astype(np.float32))
        assert info["action_held"] and np.allclose(u.target, good)
    far = u.robot_config.action_high + 1.0
    _, _, _, _, info = env.step(far.astype(np.float32))
    assert info["action_clipped"] and np.allclose(u.target, u.robot_config.action_high)
    for _ in range(25):
        obs, *_ = env.step(far.astype(np.float32))
    assert np.all(np.isfinite(obs["state"]))
    assert np.all(obs["state"][:7] <= u.robot_config.position_upper + 0.02)  # never driven past a limit
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(7, dtype=np.float32))


def test_arm_tracks_targets_with_limited_velocity(make_env) -> None:
    env = make_env("Reach")
    env.reset(seed=0)
    u = env.unwrapped
    t = u.robot_config.home8.copy()
    t[0] += 1.0  # 1 rad away: at 2.175 rad/s the move needs ~0.46 s, not one step
    obs, *_ = env.step(t)
    moved = float(obs["state"][0] - u.robot_config.home8[0])
    assert 0.05 < moved <= u.robot_config.velocity_limit[0] * u.action_dt + 0.02
    for _ in range(8):
        obs, *_ = env.step(t)
    assert abs(float(obs["state"][0]) - t[0]) < 5e-3


def test_unknown_ids_languages_options_give_clear_errors(make_env) -> None:
    with pytest.raises(gym.error.Error):
        gym.make("jafm_robot/Juggle-v0")
    with pytest.raises(ValueError, match="unknown task 'Juggle'"):
        RobotTaskEnv("Juggle")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yaml"):
        RobotTaskEnv("PickPlace", scene="nowhere")
    with pytest.raises(ValueError, match="render_mode"):
        RobotTaskEnv("PickPlace", render_mode="human")
    env = make_env("PickPlace")
    with pytest.raises(ValueError, match="unknown language 'de'"):
        env.reset(seed=0, options={"language": "de"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=0, options={"lang": "ja"})
    closed = RobotTaskEnv("Reach", image_size=32)
    closed.close()
    with pytest.raises(RuntimeError, match="closed"):
        closed.reset(seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        RobotTaskEnv("Reach", image_size=32).step(np.zeros(8, dtype=np.float32))
    with pytest.raises(ValueError, match="conveyor"):  # ConveyorPick in a scene without a belt
        e = RobotTaskEnv("ConveyorPick", scene="factory", image_size=32)
        try:
            e.reset(seed=0)
        finally:
            e.close()


def test_instruction_override_and_language_option(make_env) -> None:
    env = make_env("Stack")
    obs, info = env.reset(seed=2, options={"instruction": "赤いキューブを青いブロックの上に積んで", "language": "ja"})
    assert info["instruction_text"] == "赤いキューブを青いブロックの上に積んで" and info["language"] == "ja"
    assert decode_instruction(obs["instruction"]) == info["instruction_text"]
    direct = RobotTaskEnv("Stack", image_size=32, language="ja")
    try:
        _, info = direct.reset(seed=2)
        assert info["language"] == "ja"
    finally:
        direct.close()


def test_time_limits(make_env) -> None:
    env = make_env("Reach", max_episode_steps=3)  # gymnasium's TimeLimit
    env.reset(seed=0)
    hold = env.unwrapped.robot_config.home8
    flags = [env.step(hold)[3] for _ in range(3)]
    assert flags == [False, False, True]
    direct = RobotTaskEnv("Reach", image_size=32, max_episode_steps=2)  # the env's own limit
    try:
        direct.reset(seed=0)
        assert [direct.step(hold)[3] for _ in range(2)] == [False, True]
    finally:
        direct.close()


def test_async_vector_env_steps(make_env) -> None:
    venv = gym.make_vec("jafm_robot/Reach-v0", num_envs=2, vectorization_mode="async", image_size=32)
    try:
        obs, _info = venv.reset(seed=[1, 2])
        assert obs["image"].shape == (2, 32, 32, 3)
        from jafm_robot.robots.config import load_robot_config

        home = load_robot_config("panda").home8
        obs, rew, *_ = venv.step(np.stack([home, home]))
        assert obs["state"].shape == (2, 8) and rew.shape == (2,)
    finally:
        venv.close()


_TRACE = """
import hashlib, sys, gymnasium as gym, jafm_robot
env = gym.make("jafm_robot/ConveyorPick-v0", image_size=32)
if len(sys.argv) > 1:  # an unrelated episode first: reset must rebuild the world from scratch
    env.reset(seed=99)
    for _ in range(3):
        env.step(env.action_space.sample())
obs, info = env.reset(seed=3)
h = hashlib.sha256(info["instruction_text"].encode())
a = env.unwrapped.robot_config.home8.copy()
a[0] += 0.2
for _ in range(4):
    obs, *_ = env.step(a)
    for k in sorted(obs):
        h.update(obs[k].tobytes())
print(h.hexdigest())
"""


def test_same_seed_same_trajectory_across_processes_and_histories() -> None:
    """Datasets and evaluations are reproducible: a fresh process, or an env that ran another
    episode first, produce bit-identical observations for the same seed and actions."""
    import contextlib
    import io
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-c", _TRACE], capture_output=True, text=True, check=True).stdout.strip()
    out = io.StringIO()
    argv = sys.argv
    try:
        sys.argv = ["trace", "dirty"]
        with contextlib.redirect_stdout(out):
            exec(_TRACE, {"__name__": "trace"})
    finally:
        sys.argv = argv
    assert len(fresh) == 64 and out.getvalue().strip() == fresh
