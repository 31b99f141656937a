# Session 11: one camera encoder with GroupNorm as exported (ref), merged with FiLM (b), or written out by hand (c, c2); usage: VARIANT
import time, numpy as np, torch, onnxruntime as ort, warnings, sys
import torch.nn.functional as F
warnings.simplefilter("ignore")
from jafm_robot.training.checkpoint import policy_from_checkpoint
model, _ = policy_from_checkpoint("models/pick_place_v0.onnx"); model.eval()
cam = model.cameras["image"]
img = torch.randint(0, 255, (2, 128, 128, 3), dtype=torch.uint8); cond = torch.randn(2, 96)
VAR = sys.argv[1]
def gn_film_relu(x, gn, film, cond, hw):
    C = gn.num_channels; G = gn.num_groups; N = C // G * hw
    if VAR == "b":
        xn = F.group_norm(x, G, None, None, gn.eps)
        g, b = film.lin(cond).chunk(2, dim=1)
        a = gn.weight * (1 + g); bb = gn.bias * (1 + g) + b
        return F.relu(xn * a[:, :, None, None] + bb[:, :, None, None])
    xg = x.reshape(-1, G, N)
    mean = xg.mean(-1, keepdim=True)
    if VAR == "c2":
        var = (xg * xg).mean(-1, keepdim=True) - mean * mean
    else:
        d = xg - mean; var = (d * d).mean(-1, keepdim=True)
    rstd = torch.rsqrt(var + gn.eps)
    ones = torch.ones(1, G, C // G)
    rstd_c = (rstd * ones).reshape(-1, C); mean_c = (mean * ones).reshape(-1, C)
    g, b = film.lin(cond).chunk(2, dim=1)
    a = gn.weight * (1 + g) * rstd_c
    bb = (gn.bias - mean_c * a / (1 + g)) * (1 + g) + b if False else (gn.bias * (1 + g) + b) - mean_c * a
    return F.relu(x * a[:, :, None, None] + bb[:, :, None, None])
def fwd(image_u8, cond):
    x = image_u8.permute(0, 3, 1, 2).float() * (1.0 / 255.0)
    x = (x - 0.5) * 4.0
    hw = 64 * 64
    for i, blk in enumerate(cam.blocks):
        x = gn_film_relu(blk[0](x), blk[1], cam.films[i], cond, hw)
        for r in cam.res[i]:
            y = r.conv(x)
            yn = F.relu(r.norm(y)) if VAR == "b" else None
            if VAR != "b":
                # no film in resconv: affine only
                C = r.norm.num_channels; G = r.norm.num_groups; N = C // G * hw
                yg = y.reshape(-1, G, N); m = yg.mean(-1, keepdim=True); d = yg - m
                v = (d * d).mean(-1, keepdim=True); rs = torch.rsqrt(v + r.norm.eps)
                ones = torch.ones(1, G, C // G)
                a = r.norm.weight * (rs * ones).reshape(-1, C); bb = r.norm.bias - (m * ones).reshape(-1, C) * a
                yn = F.relu(y * a[:, :, None, None] + bb[:, :, None, None])
            x = x + yn
        hw //= 4
    feats = x
    x = F.avg_pool2d(x, 8, 8)
    toks = cam.proj(x).flatten(2).transpose(1, 2)
    xy = cam.keypoints(feats)
    toks = torch.cat([toks, cam.kp_proj(xy)], 1)
    return toks + cam.pos
class C(torch.nn.Module):
    def __init__(s, f): super().__init__(); s.f = f; s.cam = cam
    def forward(s, img, cond): return s.f(img, cond)
from p50 import tm  # noqa: E402  (this folder is on sys.path when the script runs)
with torch.no_grad():
    ref = cam(img, cond).numpy(); out = fwd(img, cond).numpy()
print(VAR, "torch diff", np.abs(ref - out).max())
mod = C(fwd) if VAR != "ref" else C(lambda i, c: cam(i, c))
torch.onnx.export(mod, (img, cond), "/tmp/sub.onnx", input_names=["img", "cond"], dynamic_axes={"img": {0: "B"}, "cond": {0: "B"}}, opset_version=17, dynamo=False)
so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
s = ort.InferenceSession("/tmp/sub.onnx", so, providers=["CPUExecutionProvider"])
f = {"img": img.numpy(), "cond": cond.numpy()}
print("ort diff", np.abs(s.run(None, f)[0] - ref).max())
f1 = {"img": img.numpy()[:1], "cond": cond.numpy()[:1]}
print(VAR, "ort ms", tm(lambda: s.run(None, f1)))
