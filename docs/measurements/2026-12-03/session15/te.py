"""Experiment: ACT-style temporal ensembling of overlapping chunks in eval's executor.

Every `k` steps the policy predicts a chunk; the chunk handed to the blender averages, for each
future action point, every stored chunk's prediction for that same step, weighted exp(-m * age_rank)
(ACT: the oldest prediction weighted most when m > 0; m < 0 favours the newest).
usage: te.py POLICY SEED LANG OUT K M [N]
"""
import json
import sys

import numpy as np

from jafm_robot.datasets.recording import make_env
from jafm_robot.experts.rollout import rollout, summarize
from jafm_robot.policies.inference import ChunkExecutor, load_policy
from jafm_robot.runtime.chunks import ActionChunk


class TEExecutor(ChunkExecutor):
    def __init__(self, policy, k, m):
        super().__init__(policy, k)
        self.m = m
        self.hist = []

    def reset(self, state=None):
        super().reset(state)
        self.hist = []

    def act(self, obs):
        if self._q is None:
            self.reset(np.asarray(obs["state"], np.float64))
        t = self.step_i * self.dt
        if self.step_i % self.k == 0:
            raw = self.policy.predict(obs)
            self.n_infer += 1
            K = len(raw)
            self.hist.append((self.step_i, raw))
            self.hist = [(s, c) for s, c in self.hist if s + K > self.step_i]
            pts = []
            for j in range(K):
                due = self.step_i + j + 1
                preds = [c[due - s - 1] for s, c in self.hist if 0 <= due - s - 1 < K]
                w = np.exp(-self.m * np.arange(len(preds)))  # preds ordered oldest first
                pts.append(np.sum(w[:, None] * np.asarray(preds), 0) / w.sum())
            chunk = np.asarray(pts, np.float32)
            ref = self.blender.sample(t)
            q_now, v_now = ref
            self.blender.add(ActionChunk(stamp=t, dt=self.dt, points=chunk), t, q_now, v_now)
        ref = self.blender.sample(t + self.dt)
        self.step_i += 1
        action = np.asarray(ref[0], dtype=np.float32)
        self._q = action.astype(np.float64)
        return action


policy_path, seed, lang, out, k, m = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
n = int(sys.argv[7]) if len(sys.argv) > 7 else 100
pol = load_policy(policy_path)
env = make_env("PickPlace", pol.meta.image_size, action_interpolation="linear")
ex = TEExecutor(pol, k, m)
res = [rollout(env, ex, seed + i, lang) for i in range(n)]
env.close()
r = summarize(res, task="PickPlace", seed=seed, wall_s=0.0, language=lang, replan_every=k, te_m=m,
              per_episode=[x.to_dict() for x in res])
r["policy"] = policy_path
json.dump(r, open(out, "w"), indent=1)
print(out, r["successes"], "/", r["episodes"], r.get("outcomes"))
