"""Where a PickPlace checkpoint goes wrong (the numbers in the session notes came from this).

  .venv/bin/python scripts/diagnose_pick_place.py grounding RUN/checkpoints/last.pt data/pick_place
      auxiliary pick-point and keypoint-0 errors against their FK/projection targets, on the first
      frame of 64 episodes and on 64 random frames (training data: underfitting shows here)
  .venv/bin/python scripts/diagnose_pick_place.py trace RUN/checkpoints/last.pt 10001
      the expert and then the policy on one seed: end-effector vs target part every 5 steps
      (REPLAN=k: action points between inferences; eval and the runtime use chunk_len//2 = 5)
  .venv/bin/python scripts/diagnose_pick_place.py layouts RUN/checkpoints/last.pt LAYOUTS.npz
      keypoint 0 against the named part on `jafm-robot layouts` frames: mean pixel error and the
      share whose arg-max lies within 8 px, per camera. Seeds of the training episodes
      (`layouts --seed 0 --count 300`) against new ones (`--seed 100000`) show memorisation.
  .venv/bin/python scripts/diagnose_pick_place.py outcomes POLICY 10000:10040
      what each episode's end looks like, from privileged state: success, placed but still
      touching the hand, never lifted, lifted a wrong part, still held at the end, lifted then
      dropped outside / in the wrong bin (LANG_=en|ja, REPLAN=k as for trace)
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def grounding(ckpt: str, dataset: str) -> None:
    from jafm_robot.datasets.concat import open_dataset
    from jafm_robot.training.checkpoint import policy_from_checkpoint
    from jafm_robot.training.data import ChunkSamples

    pol, _ = policy_from_checkpoint(ckpt)
    pol.eval()
    ds = open_dataset(dataset)
    s = ChunkSamples(ds, list(pol.cfg.cameras), pol.cfg.chunk_len)
    mean, std = s.add_auxiliary()
    s.add_keypoint_targets((ds.info.get("jafm_scene") or {}).get("name", "factory"))
    rng = np.random.default_rng(0)
    starts = np.flatnonzero(np.r_[True, np.diff(ds.episode_index) != 0])
    for name, idx in (("first frames", rng.choice(starts, 64, replace=False)), ("random frames", rng.integers(0, len(s), 64))):
        b = s.batch(idx)
        with torch.no_grad():
            _, ex = pol.predict_normalized({c: torch.from_numpy(v) for c, v in b.images.items()}, torch.from_numpy(b.state),
                                           torch.from_numpy(b.instruction), return_aux=True)
        pred, tgt = ex["aux"].numpy() * std + mean, b.aux * std + mean
        print(f"{name}: pick xy error {np.abs(pred - tgt)[:, :2].mean(0).round(4)} m, place xy error "
              f"{np.abs(pred - tgt)[:, 3:5].mean(0).round(4)} m (predicting the mean: {np.abs(tgt[:, :2] - mean[:2]).mean(0).round(4)})")
        if "kp_logits" in ex:
            grid = pol.cameras[pol.cfg.cameras[0]].keypoints.grid
            xy = (ex["kp_logits"].softmax(-1) @ grid).numpy()
            for j, c in enumerate(pol.cfg.cameras):
                v = b.kp_valid[:, j, 0] > 0
                err = np.abs(xy[:, j, 0] - b.kp[:, j, 0])[v].mean(0) * pol.cfg.image_size / 2
                print(f"  {c}: keypoint 0 error {err.round(1)} px (x, y; {v.sum()} in view)")


def trace(ckpt: str, seed: int) -> None:
    import pybullet as p

    from jafm_robot.datasets.recording import make_env
    from jafm_robot.experts import make_expert
    from jafm_robot.policies.inference import ChunkExecutor, load_policy

    pol = load_policy(ckpt, verify=False)
    env = make_env("PickPlace", pol.meta.image_size)
    for label, actor in (("expert", make_expert(env).act), ("policy", ChunkExecutor(pol, int(__import__("os").environ.get("REPLAN", "1"))))):
        obs, info = env.reset(seed=seed, options={"language": "en"})
        if hasattr(actor, "reset"):
            actor.reset()
        u = env.unwrapped
        print(label, info.get("instruction_text"))
        for t in range(u.max_episode_steps):
            a = actor(obs)
            obs, _, term, trunc, info = env.step(a)
            if t % 5 == 0:
                ee, _ = u.robot.ee_pose()
                part = np.array(p.getBasePositionAndOrientation(u.world.part(u.task.goal["part"]).body_id, physicsClientId=u.client)[0])
                print(f"{t:4d} ee {np.round(ee, 3)} part {np.round(part, 3)} xy distance {np.linalg.norm(ee[:2] - part[:2]):.3f} "
                      f"gripper {obs['state'][7]:.3f}")
            if term or trunc:
                break
        print(label, "success", info.get("is_success"))
    env.close()


def outcomes(policy: str, seeds: str) -> None:
    import collections
    import os

    import pybullet as p

    from jafm_robot.datasets.recording import make_env
    from jafm_robot.experts import make_expert
    from jafm_robot.policies.inference import ChunkExecutor, load_policy
    from jafm_robot.training.auxiliary import CLOSE_BELOW

    pol = load_policy(policy, verify=False)
    env = make_env("PickPlace", pol.meta.image_size, action_interpolation="linear")  # as eval's runtime execution
    lo, hi = (int(v) for v in seeds.split(":"))
    ex = ChunkExecutor(pol, int(os.environ.get("REPLAN", "0")) or None)
    counts: collections.Counter[str] = collections.Counter()
    by_shape: dict[str, collections.Counter[bool]] = collections.defaultdict(collections.Counter)
    for seed in range(lo, hi):
        obs, info = env.reset(seed=seed, options={"language": os.environ.get("LANG_", "en")})
        ex.reset()
        u = env.unwrapped
        w = u.world
        target = w.part(u.task.goal["part"])
        closed_at = ""
        expert = make_expert(env)
        ee_prev = u.robot.ee_pose()[0]
        for _ in range(u.max_episode_steps):
            a = ex(obs)
            ee_now = u.robot.ee_pose()[0]
            speed, ee_prev = np.linalg.norm(ee_now - ee_prev) / pol.action_dt, ee_now
            if not closed_at and a[7] < CLOSE_BELOW:
                # where the hand is, in the finger frame, when the policy first closes
                expert.reset()
                yaw = expert.ee_yaw_unwrapped()
                ee, _ = u.robot.ee_pose()
                pos, orn = w.part_pose(target)
                d = pos - ee
                fa = np.array([np.sin(yaw), -np.cos(yaw)])  # finger axis (hand y)
                pyaw = p.getEulerFromQuaternion(list(orn))[2]
                px, py = np.array([np.cos(pyaw), np.sin(pyaw)]), np.array([-np.sin(pyaw), np.cos(pyaw)])
                width = (target.size[0] if target.shape == "cylinder"
                         else target.size[0] * abs(fa @ px) + target.size[1] * abs(fa @ py))
                closed_at = (f"close: offset along/across the fingers {100 * (d[:2] @ fa):+.1f}/"
                             f"{100 * (d[:2] @ np.array([fa[1], -fa[0]])):+.1f} cm, dz {100 * d[2]:+.1f} cm, "
                             f"part {100 * width:.1f} cm across the fingers ({target.shape}, fingers open "
                             f"{100 * obs['state'][7]:.1f} cm), hand moving {100 * speed:.1f} cm/s")
            obs, _, term, trunc, info = env.step(a)
            if term or trunc:
                break
        what = info["outcome"]  # the env's own account (task.failure_mode)
        counts[what] += 1
        by_shape[target.shape][what == "success"] += 1
        print(seed, what, "|", closed_at or "never closed", "|", info.get("instruction_text"), flush=True)
    print(dict(counts))
    print("success by shape:", {k: f"{v[True]}/{v[True] + v[False]}" for k, v in sorted(by_shape.items())})
    env.close()


def layouts(ckpt: str, path: str) -> None:
    from jafm_robot.training.checkpoint import policy_from_checkpoint

    pol, _ = policy_from_checkpoint(ckpt)
    z = np.load(path)
    cams = list(pol.cfg.cameras)
    idx = {"image": 0, "wrist_image": 1}
    with torch.no_grad():
        imgs = {c: torch.from_numpy(z[c]) for c in cams}
        _, ex = pol.predict_normalized(imgs, torch.from_numpy(z["state"]), torch.from_numpy(z["instruction"]), return_aux=True)
    grid = pol.cameras[cams[0]].keypoints.grid
    lg = ex["kp_logits"][:, :, 0]  # [N, C, h*w]
    xy = (lg.softmax(-1) @ grid).numpy()
    am = grid[lg.argmax(-1)].numpy()
    size = pol.cfg.image_size
    for j, c in enumerate(cams):
        ok = z["kp_valid"][:, idx[c], 0] > 0
        uv = z["kp"][ok, idx[c], 0]
        err = np.abs(xy[ok, j] - uv).mean() * size / 2
        hit = (np.abs(am[ok, j] - uv).max(-1) * size / 2 < 8).mean()
        print(f"{c}: {ok.sum()} frames, kp0 mean error {err:.2f} px, arg-max within 8 px {hit:.0%}")
    if "aux_valid" in z.files and pol.cfg.aux_dim == z["aux"].shape[1]:
        st = torch.load(ckpt, map_location="cpu", weights_only=False).get("aux_stats")
        mean, std = (np.asarray(st["mean"]), np.asarray(st["std"])) if st else aux_stats("data/pick_place_v2")
        from jafm_robot.datasets.layouts import aux_targets

        aux_layouts(ex["aux"].numpy() * std + mean, aux_targets(z["aux"], z["aux_valid"], z["state"]), z["aux_valid"])


def aux_stats(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """The trainer's z-scoring of the auxiliary targets (ChunkSamples.add_auxiliary), without images:
    for checkpoints from before the trainer stored it (``aux_stats``)."""
    from jafm_robot.datasets.concat import open_dataset
    from jafm_robot.training.auxiliary import (
        grasp_place_targets,
        masked_zscore_stats,
        replay_recorded_episodes,
    )

    ds = open_dataset(dataset)
    rep = replay_recorded_episodes(ds.episodes, (ds.info.get("jafm_scene") or {}).get("name", "factory"))
    return masked_zscore_stats(*grasp_place_targets(ds.state, ds.action, ds.episode_index,
                                                    None if rep is None else rep.part_yaw))


def aux_layouts(pred: np.ndarray, target: np.ndarray, valid: np.ndarray) -> None:
    """Auxiliary pick-xy and grasp-yaw errors on layout frames (``pred`` in metres / features)."""
    xy = np.linalg.norm(pred[:, :2] - target[:, :2], axis=1)
    print(f"aux pick xy: mean error {100 * xy.mean():.1f} cm, within 1 cm {(xy < 0.01).mean():.0%}, "
          f"within 2 cm {(xy < 0.02).mean():.0%}")
    for sym, cols, name in ((2, (6, 7), "oblong (2y)"), (4, (8, 9), "square (4y)")):
        rows = (valid[:, 6] > 0) if sym == 2 else ((valid[:, 8] > 0) & (valid[:, 6] == 0))
        if not rows.any():
            continue
        a_pred = np.arctan2(pred[rows, cols[1]], pred[rows, cols[0]])
        a_true = np.arctan2(target[rows, cols[1]], target[rows, cols[0]])
        err = np.degrees(np.abs((a_pred - a_true + np.pi) % (2 * np.pi) - np.pi) / sym)
        print(f"aux grasp yaw, {name}: {rows.sum()} frames, mean error {err.mean():.1f} deg, "
              f"within 15 deg {(err < 15).mean():.0%}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) != 4 or sys.argv[1] not in ("grounding", "trace", "layouts", "outcomes"):
        sys.exit(__doc__)
    mode, ckpt, arg = sys.argv[1:]
    if mode == "grounding":
        grounding(ckpt, arg)
    elif mode == "layouts":
        layouts(ckpt, arg)
    elif mode == "outcomes":
        outcomes(ckpt, arg)
    else:
        trace(ckpt, int(arg))
