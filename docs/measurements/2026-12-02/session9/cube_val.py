"""cube_val.py POLICY LANG N OUT.json: eval on the first N seeds >= 60000 whose target is a cube."""
import json, sys
from jafm_robot.datasets.recording import make_env
from jafm_robot.experts.rollout import rollout
from jafm_robot.policies.inference import load_policy
from jafm_robot.training.evaluate import ChunkExecutor, _TimedPolicy
pol, lang, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
policy = load_policy(pol)
env = make_env("PickPlace", policy.meta.image_size, action_interpolation="linear")
seeds, s = [], 60000
while len(seeds) < n:
    env.reset(seed=s, options={"language": lang}); u = env.unwrapped
    if [q for q in u.world.parts if q.name == u.task.goal["part"]][0].shape == "cube":
        seeds.append(s)
    s += 1
ex = ChunkExecutor(_TimedPolicy(policy), None)
res = [rollout(env, ex, sd, lang).to_dict() for sd in seeds]
ok = sum(r["success"] for r in res)
print(f"{pol} {lang}: {ok}/{len(res)} cube scenes")
json.dump({"policy": pol, "language": lang, "seeds": seeds, "successes": ok, "per_episode": res}, open(out, "w"))
