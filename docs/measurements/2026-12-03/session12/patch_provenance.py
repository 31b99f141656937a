# Session 12: give runs/v11/avg_s18_s11.pt (s18's metadata, kept by the average) the facts of s18's
# --init that `train` records since this session: init_sha256 and init_card, the card of
# models/pick_place_v0.onnx as it stood when s18 started from it (s11, sha256 92c1bd54e3bf..., in git
# at commit 376db79). Without them the init chain of a run fine-tuned from the average would read
# the file now at that path (the average itself) as s18's parent.
# usage (repository root): .venv/bin/python docs/measurements/2026-12-03/session12/patch_provenance.py
import json
import subprocess

import torch

from jafm_robot.training.checkpoint import save_checkpoint

PATH = "runs/v11/avg_s18_s11.pt"
card = json.loads(subprocess.run(["git", "show", "376db79:models/pick_place_v0.json"], check=True, capture_output=True,
                                 text=True).stdout)
assert card["sha256"].startswith("92c1bd54e3bf")
ckpt = torch.load(PATH, map_location="cpu", weights_only=False)
assert ckpt["train_config"]["init"] == "models/pick_place_v0.onnx" and "init_card" not in ckpt
ckpt["init_sha256"] = card["sha256"]
ckpt["init_card"] = {"sha256": card["sha256"], "step": int(card["training"]["steps"]), "command": card["training"]["command"],
                     "init_chain": card["training"]["init_chain"]}
save_checkpoint(PATH, ckpt)
print("patched", PATH)
