"""Where a policy's first close lands in its failed episodes: the nearest part and its distance,
against the named part. usage: first_close.py POLICY EVAL.json"""
import json
import sys

import numpy as np

from jafm_robot.datasets.recording import make_env
from jafm_robot.policies.inference import load_policy
from jafm_robot.training.evaluate import ChunkExecutor, _TimedPolicy

pol, ev = sys.argv[1:3]
policy = load_policy(pol)
env = make_env("PickPlace", policy.meta.image_size, action_interpolation="linear")
u = env.unwrapped
ex = ChunkExecutor(_TimedPolicy(policy), None)
for e in json.load(open(ev))["per_episode"]:
    if e["success"]:
        continue
    obs, info = env.reset(seed=e["seed"], options={"language": e["language"]})
    ex.reset()
    goal = u.task.goal["part"]
    for t in range(150):
        a = ex(obs)
        if a[7] < 0.03:
            ee = np.asarray(u.robot.ee_pose()[0])
            d = {q.name: float(np.linalg.norm(np.asarray(u.world.part_position(q))[:2] - ee[:2])) for q in u.world.parts}
            near = min(d, key=d.get)
            print(f"{e['seed']} {e['language']} named {goal:16s} {d[goal] * 100:5.1f} cm | nearest {near:16s} {d[near] * 100:5.1f} cm"
                  f" | parts {len(d)} step {t}")
            break
        obs, r, term, trunc, info = env.step(a)
        if term or trunc:
            print(e["seed"], "never closed")
            break
