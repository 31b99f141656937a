"""cube_yaw.py EVAL.json...: for cube targets, relative yaw (part vs home hand, mod 90) and success."""
import json, sys, numpy as np
from jafm_robot.datasets.recording import make_env
from jafm_robot.experts.base import part_yaw
env = make_env("PickPlace", 64)
rows = []
for f in sys.argv[1:]:
    d = json.load(open(f))
    for e in d["per_episode"]:
        obs, info = env.reset(seed=e["seed"], options={"language": e["language"]})
        u = env.unwrapped
        tgt = [q for q in u.world.parts if q.name == u.task.goal["part"]][0]
        if tgt.shape != "cube":
            continue
        _, eq = u.robot.ee_pose()
        _, po = u.world.part_pose(tgt)
        rel = (part_yaw(po) - part_yaw(eq) + np.pi / 4) % (np.pi / 2) - np.pi / 4
        rows.append((np.degrees(rel), e["success"]))
r = np.array(rows, dtype=float)
bins = [0, 10, 20, 30, 35, 40, 45.1]
a = np.abs(r[:, 0])
for lo, hi in zip(bins[:-1], bins[1:]):
    m = (a >= lo) & (a < hi)
    print(f"|rel yaw| {lo:>4}-{hi:<4}: {int(m.sum()):3d} cubes, {int((r[m,1]==0).sum()):3d} failed")
