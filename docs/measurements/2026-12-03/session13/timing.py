import sys, json
import numpy as np
from jafm_robot.datasets.recording import make_env
from jafm_robot.policies.inference import load_policy, ChunkExecutor
pol = load_policy(sys.argv[1]); env = make_env("PickPlace", pol.meta.image_size, action_interpolation="linear")
ev = json.load(open(sys.argv[2])); lang = ev.get("language", "en")
seeds = ev["failed_seeds"] if len(sys.argv) < 4 else list(map(int, sys.argv[3].split(",")))
for seed in seeds:
    obs, info = env.reset(seed=seed, options={"language": lang}); u = env.unwrapped; w = u.world
    ex = ChunkExecutor(pol, None); ex.reset()
    part = w.part(u.task.goal["part"]); z0 = w.part_position(part)[2]
    ev_ = {}
    closes = 0; prev_closed = False
    for t in range(150):
        a = ex(obs)
        closed = a[7] < 0.03
        if closed and not prev_closed:
            closes += 1; ev_.setdefault("close", t)
        if not closed and prev_closed and "lift" in ev_: ev_.setdefault("open_after_lift", t)
        prev_closed = closed
        obs, r, term, trunc, info = env.step(a)
        pz = w.part_position(part)[2]
        if pz > z0 + 0.03: ev_.setdefault("lift", t)
        if w.in_bin(part, u.task.goal["bin"]): ev_.setdefault("inbin", t)
        if term or trunc: break
    print(seed, f"closes {closes}", ev_, "end", t, "success", u.task.is_success(), flush=True)
