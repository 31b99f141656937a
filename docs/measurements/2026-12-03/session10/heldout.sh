#!/usr/bin/env bash
# Held-out PickPlace success of one policy: seeds 10000/30000/50000 x en/ja, 100 episodes a cell,
# eval's default runtime execution, two cells at a time (the 2-core box).
# usage: heldout.sh POLICY OUTDIR TAG
set -euo pipefail
policy=$1 out=$2 tag=$3
mkdir -p "$out"
run() { .venv/bin/jafm-robot eval --policy "$policy" --task PickPlace --episodes 100 --seed "$1" --lang "$2" \
          --json "$out/eval_${tag}_$2_$1.json" > "$out/eval_${tag}_$2_$1.log" 2>&1; }
for seed in 10000 30000 50000; do
  run "$seed" en & run "$seed" ja & wait
done
for f in "$out"/eval_"${tag}"_*_*.json; do
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[1], d['successes'], '/', d['episodes'])" "$f"
done
