# Session 11: a uniform weight average ("model soup") of fine-tunes that share one initialisation.
# usage: soup.py OUT.pt CKPT_OR_ONNX [CKPT_OR_ONNX ...]   (the first .pt argument's metadata is kept)
import sys, torch
from jafm_robot.training.checkpoint import read_checkpoint, save_checkpoint
out, srcs = sys.argv[1], sys.argv[2:]
ckpts = [read_checkpoint(s) for s in srcs]
base = next(c for s, c in zip(srcs, ckpts) if s.endswith(".pt"))
soup = {}
for k, v in base["model"].items():
    vals = [c["model"][k] for c in ckpts if k in c["model"] and c["model"][k].shape == v.shape]
    soup[k] = torch.stack([x.float() for x in vals]).mean(0).to(v.dtype) if v.is_floating_point() else v
    if len(vals) != len(ckpts):
        print("not in every source:", k)
payload = {k: v for k, v in base.items() if k not in ("optimizer", "scheduler")}
payload["model"] = soup
payload["soup_of"] = srcs
save_checkpoint(out, payload)
print("wrote", out, "from", srcs)
