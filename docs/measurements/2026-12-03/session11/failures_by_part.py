# Session 11: failed episodes by part kind over every eval JSON of a tag; usage: TAG [TAG ...]
import json, glob, collections, sys, re
for tag in sys.argv[1:]:
    c = collections.Counter(); f = collections.Counter()
    for p in sorted(glob.glob(f"runs/v1*/eval_{tag}_*_*.json")):
        d = json.load(open(p))
        for e in d["per_episode"]:
            ins = e["instruction"]
            kind = "cube" if ("cube" in ins or "キューブ" in ins) else "cyl" if ("cylinder" in ins or "円柱" in ins) else "block" if ("block" in ins or "ブロック" in ins) else "?"
            c[kind] += 1; f[kind] += (not e["success"])
    print(tag, {k: f"{f[k]}/{c[k]} fail" for k in c})
