# ORT p50/p99 at graph optimisation levels ALL, EXTENDED, BASIC. usage: ort_levels.py MODEL.onnx
import time, numpy as np, onnxruntime as ort, sys
path = sys.argv[1]
L = ort.GraphOptimizationLevel
def sess(level, threads=2):
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = level
    so.add_free_dimension_override_by_name("B", 1)
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
feeds = {"image": rng.integers(0,255,(1,128,128,3),dtype=np.uint8), "wrist_image": rng.integers(0,255,(1,128,128,3),dtype=np.uint8),
         "state": rng.random((1,8),dtype=np.float32), "instruction": rng.integers(0,255,(1,128),dtype=np.uint8)}
ss = {"all": sess(L.ORT_ENABLE_ALL), "extended": sess(L.ORT_ENABLE_EXTENDED), "basic": sess(L.ORT_ENABLE_BASIC)}
ref = ss["all"].run(None, feeds)[0]
for rep in range(2):
    for name, s in ss.items():
        for _ in range(30): s.run(None, feeds)
        t = []
        for _ in range(300):
            t0 = time.perf_counter(); s.run(None, feeds); t.append(time.perf_counter()-t0)
        print(rep, name, "p50 %.3f ms p99 %.3f" % (np.percentile(t,50)*1e3, np.percentile(t,99)*1e3), np.abs(s.run(None, feeds)[0]-ref).max())
