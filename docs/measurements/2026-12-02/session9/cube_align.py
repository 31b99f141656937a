"""cube_align.py POLICY CUBEVAL.json OUT.json: yaw error hand vs cube (mod 90) at start and at the first close command."""
import json, sys, numpy as np
from jafm_robot.datasets.recording import make_env
from jafm_robot.experts.rollout import rollout
from jafm_robot.experts.base import part_yaw
from jafm_robot.policies.inference import load_policy
from jafm_robot.training.evaluate import ChunkExecutor, _TimedPolicy
pol, cv, out = sys.argv[1:4]
seeds = json.load(open(cv))["seeds"][:30]
policy = load_policy(pol)
env = make_env("PickPlace", policy.meta.image_size, action_interpolation="linear")
u = env.unwrapped
ex = ChunkExecutor(_TimedPolicy(policy), None)
def rel():
    tgt = [q for q in u.world.parts if q.name == u.task.goal["part"]][0]
    _, eq = u.robot.ee_pose(); _, po = u.world.part_pose(tgt)
    return float(np.degrees((part_yaw(po) - part_yaw(eq) + np.pi / 4) % (np.pi / 2) - np.pi / 4))
rows = []
for sd in seeds:
    rec = {}
    def act(obs):
        a = ex(obs)
        if "start" not in rec: rec["start"] = rel()
        if "close" not in rec and a[7] < 0.03: rec["close"] = rel()
        return a
    act.reset = ex.reset
    r = rollout(env, act, sd, "en")
    rows.append((sd, r.success, rec.get("start"), rec.get("close")))
a = np.array([(abs(s), abs(c)) for _, _, s, c in rows if c is not None])
print(pol, "mean |rel| start %.1f close %.1f; close>15deg: %d/%d" % (a[:,0].mean(), a[:,1].mean(), (a[:,1]>15).sum(), len(a)))
json.dump(rows, open(out, "w"))
