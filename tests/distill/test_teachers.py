"""Teacher adapters on real parts: the scripted expert on a real PyBullet env, a tiny torch VLA, the
same network exported to ONNX and run by the runtime's PolicyEngine, user callables by spec."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from jafm_robot.distill.teachers import (
    CallableTeacher,
    ExpertTeacher,
    OnnxTeacher,
    TorchTeacher,
    fit_chunk,
    load_teacher,
)
from tests.distill import teacher_fixtures as tf
from tests.distill.conftest import IMG


def _sim_snapshot(env) -> np.ndarray:
    """Every body's base pose and the robot's joint positions/velocities (privileged state)."""
    u = env.unwrapped
    out = []
    for b in range(p.getNumBodies(physicsClientId=u.client)):
        bid = p.getBodyUniqueId(b, physicsClientId=u.client)
        pos, orn = p.getBasePositionAndOrientation(bid, physicsClientId=u.client)
        out += [*pos, *orn]
    rid = u.robot.body_id
    for j in range(p.getNumJoints(rid, physicsClientId=u.client)):
        s = p.getJointState(rid, j, physicsClientId=u.client)
        out += [s[0], s[1]]
    return np.asarray(out)


# -- fit_chunk ------------------------------------------------------------------------------------
def test_fit_chunk_pads_cuts_and_squeezes():
    a = np.arange(3 * 8, dtype=np.float32).reshape(3, 8)
    padded = fit_chunk(a, 5)
    assert padded.shape == (5, 8)
    np.testing.assert_array_equal(padded[:3], a)
    np.testing.assert_array_equal(padded[3], a[2])  # hold the plan's last point
    np.testing.assert_array_equal(fit_chunk(a[None], 2), a[:2])
    assert fit_chunk(a[0], 4).shape == (4, 8)


@pytest.mark.parametrize("bad", [np.zeros((4, 7)), np.zeros((2, 3, 8)), np.full((4, 8), np.nan), "text", np.zeros((0, 8))])
def test_fit_chunk_rejects_bad_output(bad):
    with pytest.raises(ValueError):
        fit_chunk(bad, 4)


# -- expert ---------------------------------------------------------------------------------------
def test_expert_teacher_labels_a_chunk_and_restores_the_sim(reach_env):
    env = reach_env
    obs, _ = env.reset(seed=3)
    before = _sim_snapshot(env)
    target_before = env.unwrapped.target
    teacher = ExpertTeacher(chunk_len=10)
    chunk = teacher.label(obs, env)
    assert chunk.shape == (10, 8) and chunk.dtype == np.float32
    assert np.all(np.isfinite(chunk))
    lo, hi = env.action_space.low, env.action_space.high
    assert np.all(chunk >= lo - 1e-6) and np.all(chunk <= hi + 1e-6)
    # the look-ahead ran on the real sim and was undone: bodies, joints and motor target are back
    np.testing.assert_allclose(_sim_snapshot(env), before, atol=1e-9)
    np.testing.assert_array_equal(env.unwrapped.target, target_before)
    # a plan, not a hold: the arm moves over the chunk, and labelling is repeatable from the same state
    assert np.abs(chunk[-1, :7] - obs["state"][:7]).max() > 1e-2
    np.testing.assert_allclose(teacher.label(obs, env), chunk, atol=1e-6)
    # following the chunk brings the hand to the expert's own goal region (privileged success check)
    u = env.unwrapped
    d0 = np.linalg.norm(u.robot.ee_pose()[0] - u.task.target_position())
    for a in chunk:
        env.step(a)
    d1 = np.linalg.norm(u.robot.ee_pose()[0] - u.task.target_position())
    assert d1 < d0


def test_expert_teacher_needs_the_env():
    with pytest.raises(ValueError, match="privileged"):
        ExpertTeacher().label({"state": np.zeros(8, np.float32)})


# -- torch / onnx ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    """A tiny VLA with non-trivial weights, saved as a train-format checkpoint and exported to ONNX."""
    import torch

    from jafm_robot.policies.checkpoint import save_checkpoint
    from jafm_robot.policies.export import export_onnx
    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy
    from jafm_robot.training.trainer import policy_stats

    torch.manual_seed(0)
    cfg = get_config("tiny", image_size=IMG)
    model = VLAPolicy(cfg)
    with torch.no_grad():  # the head starts at zero ("hold"); give it an output that depends on the input
        model.head.weight.normal_(0, 0.1)
    model.eval()
    root = tmp_path_factory.mktemp("teacher")
    pt = root / "teacher.pt"
    save_checkpoint(pt, {"step": 1, "model": model.state_dict(), "vla_config": cfg.to_dict(), "stats": policy_stats(model),
                         "dataset": {"action_dt": 0.1, "env_tasks": ["Reach"], "languages": ["en", "ja"]}, "argv": ["test"]})
    onnx_path = root / "teacher.onnx"
    export_onnx(pt, onnx_path)
    return model, pt, onnx_path


def test_torch_teacher_module_and_checkpoint(reach_env, tiny_teacher):
    model, pt, _ = tiny_teacher
    obs, _ = reach_env.reset(seed=1)
    from_module = TorchTeacher(model)
    chunk = from_module.label(obs)
    assert chunk.shape == (10, 8) and np.all(np.isfinite(chunk))
    assert from_module.parameters == model.num_parameters()
    from_file = load_teacher(str(pt))
    assert isinstance(from_file, TorchTeacher) and from_file.action_dt == pytest.approx(0.1)
    np.testing.assert_allclose(from_file.label(obs), chunk, atol=1e-5)
    # the chunk depends on the observation (a real forward pass, not a constant)
    obs2, _ = reach_env.reset(seed=2)
    assert np.abs(from_module.label(obs2) - chunk).max() > 1e-4
    # fitted to the student's chunk length
    assert load_teacher(str(pt), chunk_len=4).label(obs).shape == (4, 8)


def test_torch_teacher_without_cfg_needs_cameras():
    import torch

    with pytest.raises(ValueError, match="cameras"):
        TorchTeacher(torch.nn.Linear(2, 2))


def test_onnx_teacher_matches_torch_and_resizes(reach_env, tiny_teacher):
    _, pt, onnx_path = tiny_teacher
    obs, _ = reach_env.reset(seed=1)
    t = load_teacher(str(onnx_path))
    assert isinstance(t, OnnxTeacher) and t.image_size == IMG and t.chunk_len == 10
    np.testing.assert_allclose(t.label(obs), TorchTeacher(pt).label(obs), atol=1e-4)
    # an env rendering at another size: frames are resized to what the teacher was trained on
    from jafm_robot.envs.make import make_env

    env48 = make_env("Reach", 48)
    try:
        big, _ = env48.reset(seed=1)
        out = t.label(big)
    finally:
        env48.close()
    assert out.shape == (10, 8) and np.all(np.isfinite(out))


# -- callables by spec ----------------------------------------------------------------------------
def test_callable_teachers_by_spec(reach_env):
    obs, _ = reach_env.reset(seed=0)
    t = load_teacher("tests.distill.teacher_fixtures:constant_chunk")
    assert isinstance(t, CallableTeacher)
    np.testing.assert_array_equal(t.label(obs), tf.CONSTANT)
    # a two-argument callable receives the env; its 3-point chunk is padded to chunk_len by holding
    t2 = load_teacher("tests.distill.teacher_fixtures:state_plus_env", chunk_len=6)
    out = t2.label(obs, reach_env)
    assert out.shape == (6, 8)
    np.testing.assert_allclose(out, np.repeat(obs["state"][None], 6, 0))
    # a class with a label method
    t3 = load_teacher("tests.distill.teacher_fixtures:LabelObject")
    np.testing.assert_array_equal(t3.label(obs)[:4], tf.CONSTANT[:4])
    assert t3.label(obs).shape == (10, 8)


def test_callable_teacher_with_bad_output_is_a_clear_error():
    obs = {"state": np.zeros(8, np.float32)}
    with pytest.raises(ValueError, match="shape"):
        load_teacher("tests.distill.teacher_fixtures:wrong_shape").label(obs)
    with pytest.raises(ValueError, match="NaN"):
        load_teacher("tests.distill.teacher_fixtures:returns_nan").label(obs)
    with pytest.raises(ValueError, match="callable"):
        CallableTeacher(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "err", "match"),
    [
        ("", ValueError, "empty"),
        ("teacher please", ValueError, "unknown teacher spec"),
        ("no/such/file.pt", FileNotFoundError, "not found"),
        ("no/such/file.onnx", FileNotFoundError, "not found"),
        ("no_such_module_xyz:fn", ValueError, "cannot import"),
        ("tests.distill.teacher_fixtures:missing", ValueError, "no attribute"),
        ("tests.distill.teacher_fixtures:NOT_CALLABLE", ValueError, "not a callable"),
    ],
)
def test_bad_specs(spec, err, match):
    with pytest.raises(err, match=match):
        load_teacher(spec)


def test_existing_file_with_wrong_suffix(tmp_path):
    f = tmp_path / "teacher.bin"
    f.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.pt or \.onnx"):
        load_teacher(str(f))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    f = tmp_path / "broken.pt"
    f.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="checkpoint"):
        load_teacher(str(f))
