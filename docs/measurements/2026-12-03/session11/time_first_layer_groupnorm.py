# Session 11: a2 with GroupNorm back on the first layer of each camera (timing only) against a2
import time, numpy as np, torch, onnxruntime as ort, warnings
warnings.simplefilter("ignore")
from jafm_robot.training.checkpoint import policy_from_checkpoint
from jafm_robot.training.export import example_inputs
from jafm_robot.policies.vla.modeling_vla import OnnxVLA, onnx_input_order, fold_affine_norms
torch.set_num_threads(2)
model, _ = policy_from_checkpoint("runs/v11/a2/checkpoints/step_005000.pt"); model.eval()
f = fold_affine_norms(model)
for cam in f.cameras.values():
    cam.blocks[0][1] = torch.nn.GroupNorm(4, 16)
feeds = example_inputs(model, batch=1); names = onnx_input_order(model.cfg); obs = {k: v[0] for k, v in feeds.items()}
torch.onnx.export(OnnxVLA(f).eval(), tuple(torch.from_numpy(feeds[n]) for n in names), "/tmp/mixed.onnx", input_names=names,
    output_names=["actions"], dynamic_axes={**{n: {0: "B"} for n in names}, "actions": {0: "B"}}, opset_version=17, dynamo=False)
from p50 import tm  # noqa: E402  (this folder is on sys.path when the script runs)
def tc(m):
    with torch.inference_mode():
        return m({c: torch.from_numpy(obs[c][None]) for c in m.cfg.cameras}, torch.from_numpy(obs["state"][None]), torch.from_numpy(obs["instruction"][None]))
so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
s = ort.InferenceSession("/tmp/mixed.onnx", so, providers=["CPUExecutionProvider"])
s2 = ort.InferenceSession("runs/v11/a2.onnx", so, providers=["CPUExecutionProvider"])
for r in range(2):
    o = tm(lambda: s.run(None, feeds)); o2 = tm(lambda: s2.run(None, feeds)); t = tm(lambda: tc(f)); t2 = tm(lambda: tc(model))
    print("mixed ort", o, "torch(mixed folded)", t, "ratio", round(t/o,2), "| affine ort", o2, "torch folded?", "unfolded", t2, round(t2/o2,2))
