"""Pick/place auxiliary targets: read from the recorded gripper events by forward kinematics, used
by the trainer for sizes with an auxiliary head, and absent from the exported graph."""

from __future__ import annotations

import csv
import json

import numpy as np
import onnx
import pytest

from jafm_robot.datasets.auxiliary import (
    AUX_DIM,
    YAW,
    first_close,
    grasp_place_targets,
    grasp_release,
    grasp_symmetry,
    hand_yaw,
    in_hand_frame,
    moves_several_parts,
    yaw_features,
)
from jafm_robot.datasets.lerobot_v3 import LeRobotV3Writer
from jafm_robot.runtime.kinematics import panda_fk
from tests.policy.conftest import IMG, synthetic_episode

HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.08])


def _pick_place_episode(seed: int, length: int = 16, lang: str = "en"):
    """A synthetic episode whose gripper target closes at 1/3 and opens at 2/3 of the way."""
    ep = synthetic_episode(seed, length, lang, IMG)
    rng = np.random.default_rng(seed)
    ep.state = (HOME + rng.normal(0, 0.05, (length, 8)) * np.r_[np.ones(7), 0]).astype(np.float32)
    grip = np.full(length, 0.08, np.float32)
    grip[length // 3: 2 * length // 3] = 0.0
    ep.action = ep.state.copy()
    ep.action[:, 7] = grip
    return ep


def test_targets_are_the_fk_at_close_and_release():
    a, b = _pick_place_episode(0), _pick_place_episode(1, 12)
    state = np.concatenate([a.state, b.state])
    action = np.concatenate([a.action, b.action])
    ep = np.r_[np.zeros(16, int), np.ones(12, int)]
    action[16:, 7] = 0.08  # the second episode never closes: no targets for it
    aux, valid = grasp_place_targets(state, action, ep)
    assert valid[:16, :6].all() and not valid[16:].any()
    assert not valid[:, YAW].any()  # no replayed part yaw given: the yaw targets are undefined
    np.testing.assert_allclose(aux[0, :3], panda_fk(a.state[16 // 3, :7]), atol=1e-6)
    np.testing.assert_allclose(aux[0, 3:6], panda_fk(a.state[2 * 16 // 3, :7]), atol=1e-6)
    assert np.ptp(aux[:16], axis=0).max() == 0  # one pair of points per episode, on every frame
    # with the parts' yaw (episode 0: an oblong block, episode 1: a cylinder)
    aux, valid = grasp_place_targets(state, action, ep, np.array([[0.3, 2], [1.0, 0]]))
    close = 16 // 3
    assert valid[: close + 1, YAW].all() and not valid[close + 1:, YAW].any()  # up to the grasp only
    assert not valid[16:].any()
    for i in range(close + 1):  # the part's yaw relative to that frame's hand
        rel = 0.3 - hand_yaw(state[i, :7])[0]
        np.testing.assert_allclose(aux[i, YAW], yaw_features(rel, 2)[0], atol=1e-5)


def test_hand_frame_yaw_follows_joint_7():
    """Turning joint 7 turns the hand about the vertical (the hand points down), so the part's yaw
    relative to the hand changes by the same angle."""
    q = HOME[:7].copy()
    f = np.stack([yaw_features(0.4, 2)[0]] * 2)
    q2 = q.copy()
    q2[6] += 0.25
    h = hand_yaw(np.stack([q, q2]))
    assert abs(abs(h[1] - h[0]) - 0.25) < 1e-6
    rel = in_hand_frame(f, h)
    np.testing.assert_allclose(rel[0], yaw_features(0.4 - h[0], 2)[0], atol=1e-5)
    np.testing.assert_allclose(rel[1], yaw_features(0.4 - h[1], 2)[0], atol=1e-5)


def test_yaw_features_are_the_same_for_grasps_that_are_the_same():
    """A block gripped at yaw y or y + pi, a cube at y or y + pi/2, is the same grasp: the target
    must not tell them apart (else the network averages two answers), and it must change smoothly."""
    for y in np.linspace(-3, 3, 13):
        f2, v2 = yaw_features(y, 2)
        np.testing.assert_allclose(f2, yaw_features(y + np.pi, 2)[0], atol=1e-6)
        assert v2.all()
        f4, v4 = yaw_features(y, 4)
        np.testing.assert_allclose(f4, yaw_features(y + np.pi / 2, 4)[0], atol=1e-6)
        np.testing.assert_array_equal(v4, [0, 0, 1, 1])
        assert not yaw_features(y, 0)[1].any()
    # a quarter turn is a different block grasp (the long side between the fingers)
    assert np.abs(yaw_features(0.2, 2)[0] - yaw_features(0.2 + np.pi / 2, 2)[0]).max() > 1.0
    assert np.abs(yaw_features(0.0, 2)[0] - yaw_features(0.01, 2)[0]).max() < 0.05
    assert grasp_symmetry("box", (0.04, 0.04, 0.04)) == 4 and grasp_symmetry("box", (0.035, 0.07, 0.035)) == 2
    assert grasp_symmetry("cylinder", (0.04, 0.04, 0.05)) == 0


def test_an_older_checkpoints_auxiliary_head_grows_without_touching_the_actions():
    """Fine-tuning a checkpoint from before the yaw targets (6 auxiliary outputs) keeps its learned
    rows and its actions: the head is training-only."""
    import torch

    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy

    torch.manual_seed(0)
    pol = VLAPolicy(get_config("student", image_size=IMG, chunk_len=4, aux_dim=6))
    imgs = {c: torch.randint(0, 255, (2, IMG, IMG, 3), dtype=torch.uint8) for c in pol.cfg.cameras}
    state = torch.tensor(np.tile(HOME, (2, 1)), dtype=torch.float32)
    instr = torch.zeros(2, 128, dtype=torch.uint8)
    with torch.no_grad():
        a0, ex0 = pol.predict_normalized(imgs, state, instr, return_aux=True)
        pol.resize_aux_head(AUX_DIM)
        a1, ex1 = pol.predict_normalized(imgs, state, instr, return_aux=True)
    assert pol.cfg.aux_dim == AUX_DIM and ex1["aux"].shape == (2, AUX_DIM)
    torch.testing.assert_close(a0, a1)
    torch.testing.assert_close(ex0["aux"], ex1["aux"][:, :6])


def test_student_trains_with_the_auxiliary_loss_and_exports_without_it(tmp_path):
    from jafm_robot.policies.export import export_onnx
    from jafm_robot.training.trainer import TrainConfig, train

    root = tmp_path / "ds"
    w = LeRobotV3Writer(root, fps=10, image_size=IMG)
    for i in range(4):
        w.add_episode(_pick_place_episode(i, 16, "en" if i % 2 == 0 else "ja"))
    out = tmp_path / "run"
    summary = train(TrainConfig(dataset=str(root), out=str(out), config="student", steps=40, batch_size=8, lr=1e-3,
                                log_every=5, save_every=100, chunk_len=4, shift_pad=0))
    rows = list(csv.DictReader(open(out / "train_log.csv")))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])  # action + auxiliary losses went down
    for r in rows:  # each term is logged unweighted beside the total, which is their weighted sum
        parts = [float(r[k]) for k in ("action_loss", "aux_loss", "kp_loss")]
        assert float(r["loss"]) == pytest.approx(parts[0] + 1.0 * parts[1] + 0.2 * parts[2], rel=1e-4)
    import torch

    st = torch.load(summary["checkpoint"], weights_only=False)["aux_stats"]  # to read the head back in metres
    assert len(st["mean"]) == len(st["std"]) == AUX_DIM and min(st["std"]) > 0
    card = export_onnx(summary["checkpoint"], tmp_path / "student.onnx")
    assert card["parity_max_abs_diff"] <= 1e-4
    model = onnx.load(str(tmp_path / "student.onnx"))
    assert [o.name for o in model.graph.output] == ["actions"]
    dims = [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims[1:] == [4, 8]  # the contract's static chunk axis, not a symbol the tracer made up
    assert json.loads((tmp_path / "student.json").read_text())["size"] == "student"
    from jafm_robot.runtime.engine import PolicyEngine

    eng = PolicyEngine(tmp_path / "student.onnx")  # the runtime accepts it (signature, card, sha256)
    obs = {"image": np.zeros((IMG, IMG, 3), np.uint8), "wrist_image": np.zeros((IMG, IMG, 3), np.uint8),
           "state": HOME.astype(np.float32), "instruction": np.zeros(128, np.uint8)}
    assert eng.infer(obs).shape == (4, 8)


def test_auxiliary_sizes_need_grasps_in_the_data(tmp_path, synthetic_dataset):
    from jafm_robot.training.trainer import TrainConfig, train

    # the synthetic episodes close the gripper but never open it again: nothing to learn from
    with pytest.raises(ValueError, match="no episode has a grasp and a release"):
        train(TrainConfig(dataset=str(synthetic_dataset), out=str(tmp_path / "r"), config="student", steps=2, batch_size=4,
                          chunk_len=4))


def test_projection_matches_pybullet_and_lands_on_the_named_part():
    """look_at/perspective equal PyBullet's matrices; the FK wrist view equals the simulator's; and
    the projected target part is the part's colour in both rendered cameras."""
    import pybullet as p

    from jafm_robot.datasets.auxiliary import look_at, perspective, project, wrist_view_matrix
    from jafm_robot.envs.core import RobotTaskEnv
    from jafm_robot.envs.make import make_env
    from jafm_robot.sim import camera

    env = make_env("PickPlace", 128)
    try:
        obs, _ = env.reset(seed=10001, options={"language": "en"})
        u: RobotTaskEnv = env.unwrapped
        sc, wc = u.scene_config.scene_camera, u.scene_config.wrist_camera
        np.testing.assert_allclose(look_at(sc.eye, sc.target, sc.up), np.array(camera.scene_view(sc)).reshape(4, 4).T, atol=1e-6)
        np.testing.assert_allclose(perspective(sc.fov, sc.near, sc.far), np.array(camera.projection(sc.fov, sc.near, sc.far)).reshape(4, 4).T, atol=1e-6)
        wrist = wrist_view_matrix(obs["state"][:7], wc.offset, wc.look, wc.up)
        np.testing.assert_allclose(wrist, np.array(camera.wrist_view(u.client, u.robot.body_id, u._wrist_link, wc)).reshape(4, 4).T, atol=1e-5)
        part = u.world.part(u.task.goal["part"])
        pos = np.array(p.getBasePositionAndOrientation(part.body_id, physicsClientId=u.client)[0])
        rgb = np.array(u.world.scene.parts.colors[part.color]) * 255
        for img, view, proj in ((obs["image"], np.array(u._scene_view).reshape(4, 4).T, perspective(sc.fov, sc.near, sc.far)),
                                (obs["wrist_image"], wrist, perspective(wc.fov, wc.near, wc.far))):
            uv, ok = project(pos[None], view, proj)
            assert ok[0]
            x, y = ((uv[0] + 1) / 2 * img.shape[0]).astype(int)
            assert np.abs(img[y, x].astype(float) - rgb).max() < 80, (img[y, x], rgb)
    finally:
        env.close()


def test_keypoint_loss_prefers_the_target_cell():
    import torch

    from jafm_robot.training.trainer import keypoint_loss

    h = w = 8
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], -1)
    uv = torch.tensor([[[[0.43, -0.43], [-1.0, 1.0]]]])  # cell (row 2, col 5); corner
    right, wrong = torch.zeros(1, 1, 2, h * w), torch.zeros(1, 1, 2, h * w)
    right[0, 0, 0, 2 * w + 5] = right[0, 0, 1, (h - 1) * w] = 8.0
    wrong[0, 0, 0, 5 * w + 2] = wrong[0, 0, 1, 0] = 8.0
    valid = torch.ones(1, 1, 2)
    assert keypoint_loss(right, uv, valid, grid) < keypoint_loss(wrong, uv, valid, grid)
    # points out of view do not count
    valid[0, 0, 1] = 0
    assert keypoint_loss(right, uv, valid, grid) == keypoint_loss(right[:, :, :1], uv[:, :, :1], valid[:, :, :1], grid)


def test_replayed_episodes_give_the_jittered_camera_and_the_parts_yaw():
    """The per-episode scene-camera jitter and the named part's yaw are recovered from the recorded
    seed: the replayed view is the simulator's own view of that episode, not the nominal one (which
    is off by the jitter), and the yaw is the part's own."""
    import pybullet as p

    from jafm_robot.datasets.auxiliary import look_at, replay_recorded_episodes
    from jafm_robot.envs.make import make_env

    rows = [{"seed": 10001, "env_task": "PickPlace", "language": "ja"}, {"seed": 7, "env_task": "PickPlace", "language": "en"}]
    rep = replay_recorded_episodes(rows, "factory")
    assert rep is not None and rep.scene_poses.shape == (2, 2, 3) and rep.part_yaw.shape == (2, 2)
    env = make_env("PickPlace", 32)
    try:
        for r, pose, (yaw, sym) in zip(rows, rep.scene_poses, rep.part_yaw, strict=True):
            env.reset(seed=r["seed"], options={"language": r["language"]})
            u = env.unwrapped
            sim_view = np.array(u._scene_view).reshape(4, 4).T
            sc = u.scene_config.scene_camera
            np.testing.assert_allclose(look_at(pose[0], pose[1], sc.up), sim_view, atol=1e-6)
            assert np.abs(look_at(sc.eye, sc.target, sc.up) - sim_view).max() > 1e-3  # the jitter is real
            part = u.world.part(u.task.goal["part"])
            _, orn = p.getBasePositionAndOrientation(part.body_id, physicsClientId=u.client)
            assert yaw == pytest.approx(p.getEulerFromQuaternion(orn)[2], abs=1e-6)
            assert sym == {"cube": 4, "block": 2, "cylinder": 0}[part.shape]
    finally:
        env.close()
    assert replay_recorded_episodes([{"seed": -1, "env_task": "PickPlace"}], "factory") is None


def test_layout_frames_label_the_named_part_and_join_keypoint_training(tmp_path):
    """`layouts`: seeded scenes whose keypoint label sits on a saturated part colour in the image
    (not table, bin-free floor or sky); train --layouts mixes them into batches for the keypoint
    loss only, and refuses sizes without keypoints or a mismatched image size."""
    from jafm_robot.datasets.layouts import LayoutSamples, record_layouts
    from jafm_robot.training.trainer import TrainConfig, train

    f = tmp_path / "layouts.npz"
    res = record_layouts("PickPlace", 4, f, seed=10001, image_size=IMG, poses=HOME[None].astype(np.float32),
                         pose_fraction=0.5, command="jafm-robot layouts --count 4")
    assert res["count"] == 4 and res["in_view"][0] == 1.0  # the scene camera always sees the table
    z = np.load(f)
    hits = 0
    for i in range(4):
        for j, cam in enumerate(("image", "wrist_image")):
            if not z["kp_valid"][i, j, 0]:
                continue
            x, y = np.clip(((z["kp"][i, j, 0] + 1) / 2 * IMG).astype(int), 0, IMG - 1)
            px = z[cam][i, y, x].astype(int)
            hits += int(px.max() - px.min() > 60)
            assert not z["kp_valid"][i, j, 1]  # the place point is not labelled in a layout
    assert hits >= 6, hits
    # the auxiliary targets a layout defines: where the part is (its xy) and its yaw features
    assert (z["aux_valid"][:, :2] == 1).all() and not z["aux_valid"][:, 2:6].any()
    for i in range(4):
        kp_world = z["aux"][i, :2]
        assert 0.3 < kp_world[0] < 0.75 and abs(kp_world[1]) < 0.3  # on the table's spawn region
        assert z["aux_valid"][i, YAW].sum() in (0, 2, 4)
    with pytest.raises(ValueError, match="image size"):
        LayoutSamples(str(f), ["image"], IMG * 2)

    root = tmp_path / "ds"
    w = LeRobotV3Writer(root, fps=10, image_size=IMG)
    for i in range(2):
        w.add_episode(_pick_place_episode(i, 16))
    cfg = TrainConfig(dataset=str(root), out=str(tmp_path / "run"), config="student", steps=3, batch_size=4,
                      chunk_len=4, shift_pad=0, layouts=str(f), layout_fraction=0.5)
    summary = train(cfg)
    import torch

    ck = torch.load(summary["checkpoint"], weights_only=False)
    assert ck["dataset"]["layouts"]["frames"] == 4 and ck["dataset"]["layouts"]["per_batch"] == 2
    assert ck["dataset"]["layouts"]["commands"] == ["jafm-robot layouts --count 4"] and np.isfinite(ck["loss"])
    with pytest.raises(ValueError, match="keypoint"):
        train(TrainConfig(dataset=str(root), out=str(tmp_path / "run2"), config="tiny", steps=1, batch_size=4,
                          chunk_len=4, layouts=str(f)))


def test_layout_rows_do_not_count_in_the_action_loss():
    import torch

    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy
    from jafm_robot.training.trainer import _LossModule

    torch.manual_seed(0)
    pol = VLAPolicy(get_config("student", image_size=IMG, chunk_len=4))
    lm = _LossModule(pol, aux_weight=1.0, kp_weight=0.0)
    b = 4
    imgs = {c: torch.randint(0, 255, (b, IMG, IMG, 3), dtype=torch.uint8) for c in pol.cfg.cameras}
    state = torch.tensor(np.tile(HOME, (b, 1)), dtype=torch.float32)
    instr = torch.zeros(b, 128, dtype=torch.uint8)
    actions = state[:, None].repeat(1, 4, 1)
    aux, aux_valid = torch.zeros(b, AUX_DIM), torch.tensor([1.0, 1.0, 0.0, 0.0])[:, None].repeat(1, AUX_DIM)
    mask = torch.tensor([1.0, 1.0, 0.0, 0.0])
    with torch.no_grad():
        l1 = lm(imgs, state, instr, actions, aux, aux_valid, act_valid=mask)
        wild = actions.clone()
        wild[2:] += 5.0  # the masked rows' "actions" are placeholders
        l2 = lm(imgs, state, instr, wild, aux, aux_valid, act_valid=mask)
        l3 = lm(imgs, state, instr, wild, aux, aux_valid, act_valid=torch.ones(b))
    assert float(l1) == pytest.approx(float(l2), rel=1e-6) and float(l3) > float(l1) + 1.0
    no_aux = _LossModule(pol, aux_weight=0.0)  # the mask holds on the actions-only path too
    with torch.no_grad():
        assert float(no_aux(imgs, state, instr, actions, act_valid=mask)) == pytest.approx(
            float(no_aux(imgs, state, instr, wild, act_valid=mask)), rel=1e-6)


def test_keypoint_loss_does_not_depend_on_the_auxiliary_weight():
    """--aux-weight 0 switches off the pick/place/yaw term only, not the keypoint supervision."""
    import torch

    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy
    from jafm_robot.training.trainer import _LossModule

    torch.manual_seed(0)
    pol = VLAPolicy(get_config("student", image_size=IMG, chunk_len=4))
    b, nc = 2, len(pol.cfg.cameras)
    imgs = {c: torch.randint(0, 255, (b, IMG, IMG, 3), dtype=torch.uint8) for c in pol.cfg.cameras}
    state = torch.tensor(np.tile(HOME, (b, 1)), dtype=torch.float32)
    instr = torch.zeros(b, 128, dtype=torch.uint8)
    actions = state[:, None].repeat(1, 4, 1)
    aux, aux_valid = torch.zeros(b, AUX_DIM), torch.ones(b, AUX_DIM)
    kp, kp_valid = torch.zeros(b, nc, 2, 2), torch.ones(b, nc, 2)
    lm = _LossModule(pol, aux_weight=0.0, kp_weight=0.5)
    with torch.no_grad():
        total = lm(imgs, state, instr, actions, aux, aux_valid, kp, kp_valid)
    assert set(lm.terms) == {"action_loss", "kp_loss"}
    assert float(total) == pytest.approx(float(lm.terms["action_loss"] + 0.5 * lm.terms["kp_loss"]), rel=1e-5)


def test_hover_layouts_show_the_named_part_under_the_open_hand_at_known_yaws(tmp_path):
    """`layouts --hover-fraction 1`: every frame poses the open hand over the named part (the
    wrist camera sees it near the image centre), at yaws spread over half a turn, so the grasp-yaw
    targets in the hand frame vary from frame to frame instead of being those of an aligned hand."""
    from jafm_robot.datasets.layouts import aux_targets, record_layouts

    f = tmp_path / "hover.npz"
    res = record_layouts("PickPlace", 8, f, seed=10001, image_size=IMG, hover_fraction=1.0)
    assert res["hover"] >= 7 and res["in_view"][1] >= 7 / 8
    z = np.load(f)
    hand = np.array([panda_fk(s[:7]) for s in z["state"]])
    centred = np.abs(z["kp"][:, 1, 0]).max(axis=1) < 0.6  # wrist-camera keypoint, in [-1, 1] image units
    assert centred.sum() >= 7
    assert (z["state"][:, 7] > 0.07).all()  # the fingers are open
    over = np.linalg.norm(hand[:, :2] - z["aux"][:, :2], axis=1) < 0.03
    assert over.sum() >= 7
    yaw = aux_targets(z["aux"], z["aux_valid"], z["state"])[:, YAW]
    defined = z["aux_valid"][:, YAW].sum(1) > 0
    assert np.ptp(yaw[defined], axis=0).max() > 0.5  # the hand-frame yaw features differ between frames
    with pytest.raises(ValueError, match="hover-fraction"):
        record_layouts("PickPlace", 1, tmp_path / "x.npz", hover_fraction=1.5)
    with pytest.raises(ValueError, match="not posed"):  # half the frames already come from recorded poses
        record_layouts("PickPlace", 1, tmp_path / "x.npz", poses=HOME[None].astype(np.float32), hover_fraction=0.8)


def test_a_missed_grasp_does_not_move_the_pick_point():
    """An episode that closes beside the part, opens, and closes again on it (a recovery
    demonstration): the pick and place points are the last close and the release after it, and the
    part's yaw is known only until the first close."""
    ep = _pick_place_episode(3, 24)
    grip = np.full(24, 0.08, np.float32)
    grip[4:7] = 0.0  # the miss
    grip[7:9] = (0.02, 0.05)  # opening again
    grip[12:20] = 0.0  # the grasp that carries the part
    ep.action[:, 7] = grip
    assert grasp_release(grip) == (12, 20) and first_close(grip) == 4
    assert grasp_release(np.r_[grip[:12], np.zeros(4, np.float32)]) == (4, 8)  # the last pair that has a release (> OPEN_ABOVE at 8)
    aux, valid = grasp_place_targets(ep.state, ep.action, np.zeros(24, int), np.array([[0.3, 2]]))
    np.testing.assert_allclose(aux[0, :3], panda_fk(ep.state[12, :7]), atol=1e-6)
    np.testing.assert_allclose(aux[0, 3:6], panda_fk(ep.state[20, :7]), atol=1e-6)
    assert valid[:5, YAW].all() and not valid[5:, YAW].any()


def test_an_episode_that_moves_several_parts_targets_the_part_carried_next():
    """Sort carries one part after another: each frame's pick and place points are those of the
    part it is about to carry or carries, and the keypoints follow it; a one-part task keeps the
    last pair (a missed grasp before it is not a carry)."""
    from jafm_robot.datasets.auxiliary import keypoint_targets

    ep = _pick_place_episode(5, 30)
    grip = np.full(30, 0.08, np.float32)
    for c, o in ((3, 8), (12, 18), (22, 27)):
        grip[c:o] = 0.0
    ep.action[:, 7] = grip
    zeros = np.zeros(30, int)
    one, _ = grasp_place_targets(ep.state, ep.action, zeros, several=np.array([False]))
    many, valid = grasp_place_targets(ep.state, ep.action, zeros, several=np.array([True]))
    assert valid[:, :6].all()
    np.testing.assert_allclose(one[:, :3], np.tile(panda_fk(ep.state[22, :7]), (30, 1)), atol=1e-6)
    for frames, (c, o) in ((range(0, 9), (3, 8)), (range(9, 19), (12, 18)), (range(19, 30), (22, 27))):
        for i in frames:
            np.testing.assert_allclose(many[i, :3], panda_fk(ep.state[c, :7]), atol=1e-6)
            np.testing.assert_allclose(many[i, 3:6], panda_fk(ep.state[o, :7]), atol=1e-6)
    kp_one, _ = keypoint_targets(ep.state, ep.action, zeros, ["wrist_image"], several=np.array([False]))
    kp_many, _ = keypoint_targets(ep.state, ep.action, zeros, ["wrist_image"], several=np.array([True]))
    assert not np.allclose(kp_one[:19], kp_many[:19]) and np.allclose(kp_one[19:], kp_many[19:])
    assert moves_several_parts([{"env_task": "Sort"}, {"env_task": "PickPlace"}, {}]).tolist() == [True, False, False]


def test_gripper_weight_scales_only_the_gripper_error():
    """--gripper-weight G: an error in the gripper dimension alone costs G / mean(w) times more,
    an error in the joints alone (1 / mean(w)) less; G = 1 is the plain L1 of all eight."""
    import torch

    from jafm_robot.policies.vla.configuration_vla import get_config
    from jafm_robot.policies.vla.modeling_vla import VLAPolicy
    from jafm_robot.training.trainer import _LossModule

    torch.manual_seed(0)
    pol = VLAPolicy(get_config("tiny", image_size=IMG, chunk_len=4))
    b = 2
    imgs = {c: torch.randint(0, 255, (b, IMG, IMG, 3), dtype=torch.uint8) for c in pol.cfg.cameras}
    state = torch.tensor(np.tile(HOME, (b, 1)), dtype=torch.float32)
    instr = torch.zeros(b, 128, dtype=torch.uint8)
    with torch.no_grad():
        pred = pol.predict_normalized(imgs, state, instr)
        target = pol.normalize_actions(state[:, None].repeat(1, 4, 1), state)
        err = (pred - target).abs()
        plain, weighted = _LossModule(pol), _LossModule(pol, gripper_weight=4.0)
        actions = state[:, None].repeat(1, 4, 1)
        assert float(plain(imgs, state, instr, actions)) == pytest.approx(float(err.mean()), rel=1e-5)
        mean_w = (7 + 4.0) / 8
        expect = (err[..., :7].sum(-1) / mean_w + err[..., 7] * 4.0 / mean_w).mean() / 8
        assert float(weighted(imgs, state, instr, actions)) == pytest.approx(float(expect), rel=1e-5)
    with pytest.raises(ValueError, match="gripper-weight"):
        _LossModule(pol, gripper_weight=0.0)
