"""Quick experiment: evaluate the mean of several ONNX policies' chunks (output ensemble)."""
import json, sys
import numpy as np
from jafm_robot.policies.inference import LoadedPolicy, OnnxPolicy
from jafm_robot.training.evaluate import evaluate

class Ens(LoadedPolicy):
    kind = "onnx"
    def __init__(self, paths):
        self.members = [OnnxPolicy(p) for p in paths]
        self.meta = self.members[0].meta
    def predict(self, obs):
        return np.mean([m.predict(obs) for m in self.members], axis=0).astype(np.float32)

paths = sys.argv[1].split(",")
seed = int(sys.argv[2]); lang = sys.argv[3]; out = sys.argv[4]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 100
r = evaluate(Ens(paths), "PickPlace", n, seed, lang, progress=False)
r["policy"] = paths
json.dump(r, open(out, "w"), indent=1)
print(out, r["successes"], r["episodes"])
