"""by_shape.py EVAL.json...: failures by the target part's shape (cube: also relative yaw)."""
import json, sys, numpy as np
from jafm_robot.datasets.recording import make_env
from jafm_robot.experts.base import part_yaw
env = make_env("PickPlace", 64)
stats = {}
fails = []
for f in sys.argv[1:]:
    for e in json.load(open(f))["per_episode"]:
        env.reset(seed=e["seed"], options={"language": e["language"]})
        u = env.unwrapped
        tgt = [q for q in u.world.parts if q.name == u.task.goal["part"]][0]
        s = stats.setdefault(tgt.shape, [0, 0])
        s[0] += 1; s[1] += int(not e["success"])
        if not e["success"]:
            _, eq = u.robot.ee_pose(); _, po = u.world.part_pose(tgt)
            rel = (part_yaw(po) - part_yaw(eq) + np.pi / 4) % (np.pi / 2) - np.pi / 4
            fails.append((e["seed"], tgt.shape, round(float(np.degrees(rel)), 1)))
print(stats); print(fails)
