# Session 13: fill the shipped card's measured entries from this session's eval and bench JSONs
# (written once here so that parallel evals do not race on the card), plus the notes.
# usage (repository root): .venv/bin/python docs/measurements/2026-12-03/session13/card.py
import json
import statistics
import subprocess
from pathlib import Path

from jafm_robot.cli.common import wilson_interval
from jafm_robot.training.export import update_card_entries

MODEL = "models/pick_place_v0.onnx"
HERE = Path(__file__).parent
TAG = "c1"
BAR = (10000, 30000, 50000, 70000, 110000, 130000, 150000, 170000)  # the 1,600 episodes of the shipping bar
FRESH = (190000,)  # measured after the choice, never used to choose
entries = []
pooled = {}
outcomes: dict[str, dict[str, int]] = {}
for lang in ("en", "ja"):
    k = n = 0
    counts: dict[str, int] = {}
    for seed in BAR + FRESH:
        f = HERE / f"eval_{TAG}_{lang}_{seed}.json"
        res = json.loads(f.read_text())
        k, n = k + res["successes"], n + res["episodes"]
        for o, c in res.get("outcomes", {}).items():
            counts[o] = counts.get(o, 0) + c
        summary = {key: res[key] for key in ("episodes", "successes", "success_rate", "ci95", "seed", "replan_every",
                                             "execution", "outcomes")}
        cmd = f"jafm-robot eval --policy {MODEL} --task PickPlace --episodes 100 --seed {seed} --lang {lang} --json {f.name}"
        if seed == 10000:
            summary["by_language"] = res["by_language"]
            entries += [("success", f"PickPlace/{lang}", summary), ("commands", f"eval PickPlace/{lang}", cmd)]
        else:
            if seed in FRESH:
                summary["note"] = "measured after this model was chosen; never used to choose"
            entries += [("success_more_seeds", f"PickPlace/{lang} seeds {seed}", summary),
                        ("commands", f"eval PickPlace/{lang} seeds {seed}", cmd)]
    pooled[f"PickPlace/{lang}"] = {"episodes": n, "successes": k, "success_rate": k / n, "ci95": list(wilson_interval(k, n)),
                                   "seeds": ", ".join(f"{s}-{s + 99}" for s in BAR + FRESH),
                                   "outcomes": dict(sorted(counts.items(), key=lambda kv: -kv[1]))}
entries.append(("success_pooled", None, pooled))

runs = [json.loads((HERE / f"bench_{TAG}_{i}.json").read_text()) for i in range(1, 4)]
speedups = [r["speedup_p50"] for r in runs]
median = sorted(runs, key=lambda r: r["speedup_p50"])[len(runs) // 2]
latency = {k: median[k] for k in ("results", "speedup_p50", "threads")}
latency["repeats_speedup_p50"] = [round(s, 3) for s in speedups]
latency["repeats_median_speedup_p50"] = round(statistics.median(speedups), 3)
latency["note"] = ("three runs of `jafm-robot bench latency --policy FILE` on this model, one after the other, nothing "
                   "else running, on the 2-core development box (2026-12-03, session 13); this entry is the middle run.")
entries += [("latency", None, latency), ("commands", "bench latency", "jafm-robot bench latency --policy models/pick_place_v0.onnx --card")]

prev = json.loads(subprocess.run(["git", "show", "265d698:models/pick_place_v0.json"], check=True, capture_output=True,
                                 text=True).stdout)
entries.append(("commands", "record_chain", prev["commands"]["record_chain"]))
NOTES = json.loads((HERE / "card_notes.json").read_text())
entries.append(("notes", None, NOTES))
assert update_card_entries(MODEL, entries)
print("card updated:", {k: f"{v['successes']}/{v['episodes']}" for k, v in pooled.items()}, "speedups", speedups)
