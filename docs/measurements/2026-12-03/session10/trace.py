"""Per step of one policy episode: phase-like facts (gripper target, hand-to-part distance, part
height). usage: trace.py POLICY SEED LANG [EVERY]"""
import sys

import numpy as np

from jafm_robot.datasets.recording import make_env
from jafm_robot.policies.inference import load_policy
from jafm_robot.training.evaluate import ChunkExecutor, _TimedPolicy

pol, seed, lang = sys.argv[1], int(sys.argv[2]), sys.argv[3]
every = int(sys.argv[4]) if len(sys.argv) > 4 else 3
policy = load_policy(pol)
env = make_env("PickPlace", policy.meta.image_size, action_interpolation="linear")
u = env.unwrapped
ex = ChunkExecutor(_TimedPolicy(policy), None)
obs, info = env.reset(seed=seed, options={"language": lang})
ex.reset()
tgt = [q for q in u.world.parts if q.name == u.task.goal["part"]][0]
print(seed, info.get("instruction_text"), tgt.shape, tgt.size)
for t in range(150):
    a = ex(obs)
    ee = np.asarray(u.robot.ee_pose()[0])
    pp = np.asarray(u.world.part_position(tgt))
    if t % every == 0:
        print(f"{t:3d} grip_tgt {a[7]:.3f} width {obs['state'][7]:.3f} hand-part xy {np.linalg.norm(ee[:2] - pp[:2]) * 100:5.1f} cm"
              f" dz {(ee[2] - pp[2]) * 100:5.1f} cm part z {pp[2]:.3f}")
    obs, r, term, trunc, info = env.step(a)
    if term or trunc:
        print("end", t, info.get("is_success"))
        break
