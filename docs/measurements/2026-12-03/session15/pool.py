"""Pool eval cells: successes per language with 95 % Wilson intervals, and the failures by outcome.
usage: pool.py TAG DIR SEED [SEED ...]   (files DIR/eval_TAG_LANG_SEED.json)"""
import collections
import json
import sys

from jafm_robot.cli.common import wilson_interval

tag, d, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
for lang in ("en", "ja"):
    k = n = 0
    outs: collections.Counter = collections.Counter()
    cells = []
    for s in seeds:
        r = json.load(open(f"{d}/eval_{tag}_{lang}_{s}.json"))
        k += r["successes"]
        n += r["episodes"]
        cells.append(r["successes"])
        outs.update({o: c for o, c in r.get("outcomes", {}).items() if o != "success"})
    lo, hi = wilson_interval(k, n)
    print(f"{lang}: {k}/{n} = {k / n:.1%} (95% CI {lo:.1%}-{hi:.1%}); cells {cells}; failures {dict(outs.most_common())}")
