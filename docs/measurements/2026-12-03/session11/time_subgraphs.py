# Session 11: one camera encoder of the shipped model, and its convs alone, in torch eager and ONNX Runtime (batch 1, 2 threads)
import time, numpy as np, torch, onnxruntime as ort, warnings
warnings.simplefilter("ignore")
from jafm_robot.training.checkpoint import policy_from_checkpoint
model, _ = policy_from_checkpoint("models/pick_place_v0.onnx"); model.eval()
torch.set_num_threads(2)
cam = model.cameras["image"]
img = torch.randint(0, 255, (1, 128, 128, 3), dtype=torch.uint8); cond = torch.randn(1, 96)
class C(torch.nn.Module):
    def __init__(s, cam): super().__init__(); s.cam = cam
    def forward(s, img, cond): return s.cam(img, cond)
class Convs(torch.nn.Module):
    def __init__(s, cam): super().__init__(); s.cam = cam
    def forward(s, img):
        x = img.permute(0, 3, 1, 2).float()
        for i, blk in enumerate(s.cam.blocks):
            x = blk[0](x); x = torch.relu(x)
            for r in s.cam.res[i]: x = x + torch.relu(r.conv(x))
        return x
from p50 import tm  # noqa: E402  (this folder is on sys.path when the script runs)
def ortt(mod, args, names):
    torch.onnx.export(mod, args, "/tmp/sub.onnx", input_names=names, opset_version=17, dynamo=False)
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    s = ort.InferenceSession("/tmp/sub.onnx", so, providers=["CPUExecutionProvider"])
    f = {n: a.numpy() for n, a in zip(names, args)}
    return tm(lambda: s.run(None, f))
with torch.inference_mode():
    print("camera enc: torch", tm(lambda: cam(img, cond)))
    print("convs only (no GN/film): torch", tm(lambda: Convs(cam)(img)))
print("camera enc: ort", ortt(C(cam), (img, cond), ["img", "cond"]))
print("convs only: ort", ortt(Convs(cam), (img,), ["img"]))
