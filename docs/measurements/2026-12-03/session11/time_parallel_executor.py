# Session 11: ORT_SEQUENTIAL vs ORT_PARALLEL and thread counts on one ONNX file; usage: MODEL.onnx
import time, numpy as np, onnxruntime as ort, sys
from jafm_robot.training.checkpoint import policy_from_checkpoint
from jafm_robot.training.export import example_inputs
model, _ = policy_from_checkpoint("models/pick_place_v0.onnx")
feeds = example_inputs(model, batch=1)
path = sys.argv[1]
def timeit(intra, inter, par, spin="1", n=600):
    so = ort.SessionOptions(); so.intra_op_num_threads = intra; so.inter_op_num_threads = inter
    so.execution_mode = ort.ExecutionMode.ORT_PARALLEL if par else ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", spin)
    so.add_session_config_entry("session.inter_op.allow_spinning", spin)
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(50): s.run(None, feeds)
    a = []
    for _ in range(n):
        t0 = time.perf_counter(); s.run(None, feeds); a.append(time.perf_counter() - t0)
    return round(np.percentile(a, 50) * 1e3, 3), round(np.percentile(a, 99) * 1e3, 3)
for cfg in [(2,1,False),(1,2,True),(2,2,True),(1,1,False)]:
    print(cfg, timeit(*cfg))
