# ORT p50/p99 with and without the batch dimension fixed to 1. usage: ort_batch_override.py MODEL.onnx
import time, numpy as np, onnxruntime as ort, sys
path = sys.argv[1]
def sess(override):
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if override: so.add_free_dimension_override_by_name("B", 1)
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
feeds = {"image": rng.integers(0,255,(1,128,128,3),dtype=np.uint8), "wrist_image": rng.integers(0,255,(1,128,128,3),dtype=np.uint8),
         "state": rng.random((1,8),dtype=np.float32), "instruction": rng.integers(0,255,(1,128),dtype=np.uint8)}
a, b = sess(False), sess(True)
print("max diff", np.abs(a.run(None, feeds)[0]-b.run(None, feeds)[0]).max())
for rep in range(3):
    for name, s in (("dynamic", a), ("B=1", b)):
        for _ in range(30): s.run(None, feeds)
        t = []
        for _ in range(300):
            t0 = time.perf_counter(); s.run(None, feeds); t.append(time.perf_counter()-t0)
        print(rep, name, "p50 %.3f ms p99 %.3f" % (np.percentile(t,50)*1e3, np.percentile(t,99)*1e3))
