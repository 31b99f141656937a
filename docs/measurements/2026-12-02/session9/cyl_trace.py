import json, sys, numpy as np
from jafm_robot.datasets.recording import make_env
from jafm_robot.experts.rollout import rollout
from jafm_robot.policies.inference import load_policy
from jafm_robot.training.evaluate import ChunkExecutor, _TimedPolicy
pol, ev = sys.argv[1:3]
d = json.load(open(ev))
policy = load_policy(pol)
env = make_env("PickPlace", policy.meta.image_size, action_interpolation="linear")
u = env.unwrapped
ex = ChunkExecutor(_TimedPolicy(policy), None)
n = 0
for e in d["per_episode"]:
    if e["success"]: continue
    env.reset(seed=e["seed"], options={"language": e["language"]})
    tgt = [q for q in u.world.parts if q.name == u.task.goal["part"]][0]
    if tgt.shape != "cylinder": continue
    rec = {}
    def act(obs):
        a = ex(obs)
        if "close" not in rec and a[7] < 0.03:
            ee = np.asarray(u.robot.ee_pose()[0]); pp = np.asarray(u.world.part_position(tgt))
            rec["close"] = (round(float(np.linalg.norm(ee[:2]-pp[:2]))*100,1), round(float(ee[2]-pp[2])*100,1))
        return a
    act.reset = ex.reset
    r = rollout(env, act, e["seed"], e["language"])
    pp = np.asarray(u.world.part_position(tgt))
    print(e["seed"], "close (xy cm, dz cm):", rec.get("close"), "part z end %.3f" % pp[2], "steps", r.steps if hasattr(r,'steps') else '')
    n += 1
    if n >= 6: break
