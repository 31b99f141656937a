# Session 11: the shipped network with its GroupNorms kept (gn), swapped for BatchNorm (bn) or removed (none): timing only; usage: gn|bn|none
import time, numpy as np, torch, onnxruntime as ort, warnings, sys
warnings.simplefilter("ignore")
from jafm_robot.training.checkpoint import policy_from_checkpoint
from jafm_robot.training.export import example_inputs
from jafm_robot.policies.vla.modeling_vla import OnnxVLA, onnx_input_order
torch.set_num_threads(2)
model, _ = policy_from_checkpoint("models/pick_place_v0.onnx"); model.eval()
mode = sys.argv[1]
def swap(m):
    for name, ch in m.named_children():
        if isinstance(ch, torch.nn.GroupNorm):
            if mode == "bn":
                bn = torch.nn.BatchNorm2d(ch.num_channels); bn.running_mean.normal_(); bn.running_var.uniform_(0.5, 2)
                setattr(m, name, bn.eval())
            elif mode == "none":
                setattr(m, name, torch.nn.Identity())
        else:
            swap(ch)
swap(model)
feeds = example_inputs(model, batch=1); obs = {k: v[0] for k, v in feeds.items()}
names = onnx_input_order(model.cfg)
torch.onnx.export(OnnxVLA(model).eval(), tuple(torch.from_numpy(feeds[n]) for n in names), "/tmp/bn.onnx", input_names=names,
    output_names=["actions"], dynamic_axes={**{n: {0: "B"} for n in names}, "actions": {0: "B"}}, opset_version=17, dynamo=False)
so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
s = ort.InferenceSession("/tmp/bn.onnx", so, providers=["CPUExecutionProvider"])
from p50 import tm  # noqa: E402  (this folder is on sys.path when the script runs)
def tc():
    with torch.inference_mode():
        return model({c: torch.from_numpy(obs[c][None]) for c in model.cfg.cameras}, torch.from_numpy(obs["state"][None]), torch.from_numpy(obs["instruction"][None]))
o = tm(lambda: s.run(None, feeds)); t = tm(tc)
print(mode, "ort", o, "torch", t, "ratio", round(t / o, 2))
