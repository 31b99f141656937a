#!/usr/bin/env bash
# one cell at a time (one core free): usage cells1.sh POLICY OUTDIR TAG SEED...
set -euo pipefail
policy=$1 out=$2 tag=$3; shift 3
for seed in "$@"; do for lang in en ja; do
  .venv/bin/jafm-robot eval --policy "$policy" --task PickPlace --episodes 100 --seed "$seed" --lang "$lang" \
     --json "$out/eval_${tag}_${lang}_${seed}.json" > "$out/eval_${tag}_${lang}_${seed}.log" 2>&1
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[1], d['successes'], '/', d['episodes'])" "$out/eval_${tag}_${lang}_${seed}.json"
done; done
