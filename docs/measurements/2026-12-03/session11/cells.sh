#!/usr/bin/env bash
# PickPlace success of one policy on the given seed sets x en/ja, 100 episodes a cell, eval's
# default runtime execution, two cells (en and ja of one seed set) at a time (the 2-core box).
# usage: cells.sh POLICY OUTDIR TAG SEED [SEED ...]
set -euo pipefail
policy=$1 out=$2 tag=$3
shift 3
mkdir -p "$out"
run() { .venv/bin/jafm-robot eval --policy "$policy" --task PickPlace --episodes 100 --seed "$1" --lang "$2" \
          --json "$out/eval_${tag}_$2_$1.json" > "$out/eval_${tag}_$2_$1.log" 2>&1; }
for seed in "$@"; do
  run "$seed" en & run "$seed" ja & wait
  for lang in en ja; do
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[1], d['successes'], '/', d['episodes'])" \
      "$out/eval_${tag}_${lang}_${seed}.json"
  done
done
