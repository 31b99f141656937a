# ORT kernel time by op type over 200 runs (2 threads). usage: ort_profile.py MODEL.onnx
import json, time, collections, numpy as np, onnxruntime as ort, sys
path = sys.argv[1]
so = ort.SessionOptions(); so.enable_profiling = True; so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
so.profile_file_prefix = "/tmp/ort_profile"
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
feeds = {}
for i in s.get_inputs():
    shp = [1 if not isinstance(d, int) else d for d in i.shape]
    feeds[i.name] = (np.random.randint(0, 255, shp).astype(np.uint8) if "uint8" in i.type else np.random.rand(*shp).astype(np.float32))
    print(i.name, i.type, shp)
for _ in range(200): s.run(None, feeds)
prof = s.end_profiling()
ev = json.load(open(prof))
agg = collections.Counter(); cnt = collections.Counter()
for e in ev:
    if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
        agg[e["args"]["op_name"]] += e["dur"]; cnt[e["args"]["op_name"]] += 1
tot = sum(agg.values())
for k, v in agg.most_common(25): print(f"{k:30s} {v/200/1000:.3f} ms/run {100*v/tot:5.1f}%  nodes/run {cnt[k]/200:.0f}")
print("total kernel ms/run", tot/200/1000)
