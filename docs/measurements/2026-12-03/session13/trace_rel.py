import sys
import numpy as np
from jafm_robot.datasets.recording import make_env
from jafm_robot.policies.inference import load_policy, ChunkExecutor
pol = load_policy(sys.argv[1]); env = make_env("PickPlace", pol.meta.image_size, action_interpolation="linear")
import os
T0, T1 = int(os.environ.get("T0", 40)), int(os.environ.get("T1", 150))
for seed in map(int, sys.argv[2].split(",")):
    obs, info = env.reset(seed=seed, options={"language": "en"}); u = env.unwrapped; w = u.world
    ex = ChunkExecutor(pol, None); ex.reset()
    part = w.part(u.task.goal["part"]); print("seed", seed, info.get("instruction_text"))
    for t in range(150):
        a = ex(obs)
        obs, r, term, trunc, info = env.step(a)
        if T0 <= t <= T1 or term or trunc:
            ee = u.robot.ee_pose()[0]
            print(f"t{t:3d} cmdw {a[7]*100:4.1f} w {obs['state'][7]*100:4.1f} ee {np.round(ee,3)} part {np.round(w.part_position(part),3)} inbin {w.in_bin(part,u.task.goal['bin'])} touch {w.touching(part,u.robot.body_id)} rest {w.is_resting(part,u.task.rest_speed)}")
        if term or trunc: break
