#!/usr/bin/env bash
# The PickPlace policy pipeline, end to end and stage by stage:
#   record -> train the student (actions + pick/place + keypoint supervision) -> export -> eval en/ja
#   on held-out seeds into the model card. Every rollout stage spreads its episodes over WORKERS
#   processes through Ray (--workers); set RAY_ADDR to run them on a Ray cluster (--ray-address).
#
#   bash scripts/train_pick_place.sh record   # EPISODES demonstrations in one dataset, DATA/demos
#   bash scripts/train_pick_place.sh layouts  # LAYOUTS perception frames in one file
#   bash scripts/train_pick_place.sh train    # STEPS optimiser steps (re-run continues: --resume)
#   bash scripts/train_pick_place.sh dagger   # DAgger with the expert as teacher (optional: it did not help on 2x40 episodes)
#   bash scripts/train_pick_place.sh export   # models/$NAME.onnx + card
#   bash scripts/train_pick_place.sh eval     # 100 + 100 held-out episodes -> card
#   bash scripts/train_pick_place.sh bench    # ONNX Runtime vs torch eager latency -> card
#   bash scripts/train_pick_place.sh all      # record, layouts, train, export, eval, bench
#
# Every stage is a plain jafm-robot command, so the card's commands reproduce it. Seeds: training
# 0..EPISODES-1, evaluation from 10000 (never recorded). Knobs via the environment:
set -euo pipefail
cd "$(dirname "$0")/.."
JR=${JR:-.venv/bin/jafm-robot}
DATA=${DATA:-data/pick_place}
RUN=${RUN:-runs/pick_place}
NAME=${NAME:-pick_place_v0}
EPISODES=${EPISODES:-600}
WORKERS=${WORKERS:-$(nproc)}
RAY_ADDR=${RAY_ADDR:-}
STEPS=${STEPS:-20000}
BATCH=${BATCH:-32}
LR=${LR:-5e-4}
DEVICE=${DEVICE:-auto}
EVAL_EPISODES=${EVAL_EPISODES:-100}
LAYOUTS=${LAYOUTS:-24000}
DAGGER_ITERS=${DAGGER_ITERS:-2}
DAGGER_EPISODES=${DAGGER_EPISODES:-40}
DAGGER_STEPS=${DAGGER_STEPS:-1500}
INIT_CKPT=${INIT_CKPT:-$RUN/checkpoints/last.pt}

DEMOS=$DATA/demos
LAYOUT_FILE=$DATA/layouts-200000.npz
# --workers N (and --ray-address ADDR) for every command that rolls out episodes
rollout_opts() { printf -- '--workers\n%s\n' "$WORKERS"; [[ -n "$RAY_ADDR" ]] && printf -- '--ray-address\n%s\n' "$RAY_ADDR"; true; }

record() {
  # seeds 0..EPISODES-1 in seed order; an interrupted run keeps what it finished and a re-run
  # records only what is missing
  mkdir -p "$DATA"
  "$JR" record --task PickPlace --episodes "$EPISODES" --out "$DEMOS" --lang en,ja --seed 0 \
    --json "$DEMOS.json" $(rollout_opts)
}

layouts() {
  "$JR" layouts --task PickPlace --count "$LAYOUTS" --seed 200000 --out "$LAYOUT_FILE" --poses-from "$DEMOS" \
    --json "$DATA/layouts-200000.json" $(rollout_opts)
}

train() {
  local resume=()
  [[ -f "$RUN/checkpoints/last.pt" ]] && resume=(--resume)
  "$JR" train --dataset "$DEMOS" --config student --steps "$STEPS" --batch-size "$BATCH" \
    --lr "$LR" --device "$DEVICE" --shift-pad 0 --kp-weight 0.5 --layouts "$LAYOUT_FILE" --out "$RUN" --save-every 2000 \
    --json "$RUN.json" "${resume[@]}"
}

dagger() {
  "$JR" distill --teacher expert --student-config student --tasks PickPlace --lang en,ja --student-init "$INIT_CKPT" \
    --dataset-init "$DEMOS" --holdout-phrasings 0 --iterations "$DAGGER_ITERS" \
    --episodes-per-iter "$DAGGER_EPISODES" --steps-per-iter "$DAGGER_STEPS" --beta0 0 --eval-episodes 0 --no-eval-teacher $(rollout_opts) \
    --batch-size "$BATCH" --lr 1e-4 --shift-pad 0 --seed 20000 --no-export --device "${DEVICE/auto/cpu}" --out "$RUN-dagger"
}

export_model() {
  local ck="$RUN/checkpoints/last.pt"
  [[ -f "$RUN-dagger/checkpoints/last.pt" ]] && ck="$RUN-dagger/checkpoints/last.pt"
  "$JR" export --checkpoint "$ck" --out "models/$NAME.onnx"
}

evaluate() {
  for lang in en ja; do
    "$JR" eval --policy "models/$NAME.onnx" --task PickPlace --episodes "$EVAL_EPISODES" --seed 10000 \
      --lang "$lang" --json "$RUN/eval_$lang.json" --card $(rollout_opts)
  done
}

bench() {
  local ck="$RUN/checkpoints/last.pt"
  [[ -f "$RUN-dagger/checkpoints/last.pt" ]] && ck="$RUN-dagger/checkpoints/last.pt"
  "$JR" bench latency --policy "models/$NAME.onnx" --checkpoint "$ck" --json "$RUN/latency.json" --card
}

case "${1:-all}" in
  record) record ;;
  layouts) layouts ;;
  train) train ;;
  dagger) dagger ;;
  export) export_model ;;
  eval) evaluate ;;
  bench) bench ;;
  all) record; layouts; train; export_model; evaluate; bench ;;
  *) echo "usage: $0 record|layouts|train|dagger|export|eval|bench|all" >&2; exit 2 ;;
esac
