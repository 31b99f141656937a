# Session 12: fill the shipped card's measured entries from this session's eval and bench JSONs
# (what `eval --card` / `bench latency --card` store, written once here so that parallel evals do
# not race on the card), plus the notes.
# usage (repository root): .venv/bin/python docs/measurements/2026-12-03/session12/card.py
import json
import statistics
import subprocess
from pathlib import Path

from jafm_robot.cli.common import wilson_interval
from jafm_robot.training.export import update_card_entries

MODEL = "models/pick_place_v0.onnx"
HERE = Path(__file__).parent
SELECTION = (10000, 30000, 50000, 70000)  # the 800 episodes the shipping bar was set on
CONFIRMATION = (110000, 130000, 150000, 170000)  # measured after the choice, never used to choose
entries = []
pooled = {}
for lang in ("en", "ja"):
    k = n = 0
    for seed in SELECTION + CONFIRMATION:
        f = HERE / f"eval_soup_{lang}_{seed}.json"  # 150000/170000 were run on models/pick_place_v0.onnx itself
        res = json.loads(f.read_text())
        k, n = k + res["successes"], n + res["episodes"]
        summary = {key: res[key] for key in ("episodes", "successes", "success_rate", "ci95", "seed", "replan_every", "execution")}
        cmd = f"jafm-robot eval --policy {MODEL} --task PickPlace --episodes 100 --seed {seed} --lang {lang} --json {f.name}"
        if seed == 10000:
            summary["by_language"] = res["by_language"]
            entries += [("success", f"PickPlace/{lang}", summary), ("commands", f"eval PickPlace/{lang}", cmd)]
        else:
            if seed in CONFIRMATION:
                summary["note"] = "measured after this model was chosen; never used to choose"
            entries += [("success_more_seeds", f"PickPlace/{lang} seeds {seed}", summary),
                        ("commands", f"eval PickPlace/{lang} seeds {seed}", cmd)]
    pooled[f"PickPlace/{lang}"] = {"episodes": n, "successes": k, "success_rate": k / n, "ci95": list(wilson_interval(k, n)),
                                   "seeds": ", ".join(f"{s}-{s + 99}" for s in SELECTION + CONFIRMATION)}
entries.append(("success_pooled", None, pooled))

runs = [json.loads((HERE / f"bench_soup_{i}.json").read_text()) for i in range(1, 7)]
speedups = [r["speedup_p50"] for r in runs]
median = sorted(runs, key=lambda r: r["speedup_p50"])[len(runs) // 2 - 1]  # the lower of the two middle runs
latency = {k: median[k] for k in ("results", "speedup_p50", "threads")}
latency["repeats_speedup_p50"] = [round(s, 3) for s in speedups]
latency["repeats_median_speedup_p50"] = round(statistics.median(speedups), 3)
latency["note"] = ("six runs of `jafm-robot bench latency --policy FILE` on this model's graph (runs/v12/soup.onnx, the "
                   "same weights and nodes), in two groups of three, one run after the other, nothing else running, on "
                   "the 2-core development box (2026-12-03, session 12); this entry is the lower middle run. The "
                   "previous GroupNorm model, timed between the two groups: 1.91x, 1.80x, 1.91x.")
entries += [("latency", None, latency), ("commands", "bench latency", "jafm-robot bench latency --policy models/pick_place_v0.onnx --card")]

# the recordings behind the earlier runs of the chain (s1 ... s11), as the previous card listed them
prev = json.loads(subprocess.run(["git", "show", "265d698:models/pick_place_v0.json"], check=True, capture_output=True,
                                 text=True).stdout)
entries.append(("commands", "record_chain", prev["commands"]["record_chain"]))
entries.append(("notes", None, [
    "This model is the uniform weight average (`jafm-robot average`, commands.average) of two fine-tunes, b1 and b2 "
    "(commands.train and commands.average_sources; seeds 1 and 2), of one start: runs/v11/avg_s18_s11.pt, the model "
    "shipped in session 11 (sha256 202ba6b2136d..., in git at commit 265d698), converted to affine encoder norms "
    "(`train --norm affine`, training.vision_norm). The export folds those norms into the convs, so the graph has "
    "no normalisation node, which makes ONNX Runtime about 15 % faster than with the GroupNorm it replaces.",
    "Held out: seeds 10000, 30000, 50000, 70000 (100 episodes per seed block and language, none used in training) "
    "are the 800 episodes the shipping bar was set on before any result (docs/measurements/2026-12-03/session12/"
    "README.md): at least 718/800 and 360/400 per language, and a median bench speedup of at least 2.0. It scored "
    "729/800 (en 363, ja 366), the previous model 722. Seeds 110000, 130000, 150000 and 170000 were measured after "
    "the choice: en 91, 82, 89, 88 and ja 92, 89, 92, 83 (the previous model there: en 92, 90, 88, 89 and ja 92, 89, "
    "89, 86).",
    "Over all 1,600 episodes this model and the previous one succeed equally often (1,435 and 1,437). English "
    "is below 90 % in five of eight seed blocks: issue 3's 90 % per language is met on the card's 'success' seeds "
    "and in the pooled Japanese figure (90.25 %), not in the pooled English one (89.1 %).",
    "Success is measured with eval's default --execution runtime, re-planning every 5 action points.",
    "The graph was evaluated as runs/v12/soup.onnx, exported from the same checkpoint before "
    "runs/v11/avg_s18_s11.pt's provenance was patched (session12/patch_provenance.py): the two files have "
    "identical weights and nodes and differ only in the card metadata (training.init_chain).",
    "The auxiliary head is training-only: none of it is in this ONNX graph.",
]))
assert update_card_entries(MODEL, entries)
print("card updated:", {k: f"{v['successes']}/{v['episodes']}" for k, v in pooled.items()}, "speedups", speedups,
      "entry", latency["speedup_p50"])
