# Session 11: a1 exported with a dynamic or a static batch, and without FiLM (timing only)
import time, numpy as np, torch, onnxruntime as ort, warnings, sys
warnings.simplefilter("ignore")
from jafm_robot.training.checkpoint import policy_from_checkpoint
from jafm_robot.training.export import example_inputs
from jafm_robot.policies.vla.modeling_vla import OnnxVLA, onnx_input_order, fold_affine_norms
model, _ = policy_from_checkpoint("runs/v11/a1/checkpoints/step_005000.pt"); model.eval()
model = fold_affine_norms(model)
feeds = example_inputs(model, batch=1); names = onnx_input_order(model.cfg)
def ex(m, path, dyn=True):
    torch.onnx.export(OnnxVLA(m).eval(), tuple(torch.from_numpy(feeds[n]) for n in names), path, input_names=names,
        output_names=["actions"], dynamic_axes=({**{n: {0: "B"} for n in names}, "actions": {0: "B"}} if dyn else None), opset_version=17, dynamo=False)
def tm(path):
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(50): s.run(None, feeds)
    a = []
    for _ in range(600):
        t0 = time.perf_counter(); s.run(None, feeds); a.append(time.perf_counter() - t0)
    return round(np.percentile(a, 50) * 1e3, 3)
ex(model, "/tmp/v_dyn.onnx"); ex(model, "/tmp/v_static.onnx", False)
print("dyn", tm("/tmp/v_dyn.onnx"), "static", tm("/tmp/v_static.onnx"))
model.cameras["image"].films = None; model.cameras["wrist_image"].films = None
ex(model, "/tmp/v_nofilm.onnx"); print("nofilm", tm("/tmp/v_nofilm.onnx"))
