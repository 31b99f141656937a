#!/usr/bin/env bash
# The five-task bilingual student (jafm_student_v1), end to end and stage by stage:
#   record (5 tasks x en/ja, the scripted experts as teacher) -> train (fine-tuned from the shipped
#   pick_place_v0.onnx) -> export -> eval (100 held-out episodes per task and language) -> bench.
#
#   bash scripts/train_student.sh record   # demonstrations per task in DATA/<Task> (re-run: only what is missing)
#   bash scripts/train_student.sh train    # STEPS optimiser steps (a re-run continues: --resume)
#   bash scripts/train_student.sh export   # models/$NAME.onnx + card
#   bash scripts/train_student.sh eval     # EVAL_EPISODES held-out episodes per task and language -> card
#   bash scripts/train_student.sh teacher  # the teacher (scripted experts) on the same seeds -> card
#   bash scripts/train_student.sh bench    # ONNX Runtime vs torch eager latency, teacher beside -> card
#   bash scripts/train_student.sh all
#
# Seeds: training 0.., evaluation from 10000 (never recorded). Knobs via the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
JR=${JR:-.venv/bin/jafm-robot}
DATA=${DATA:-data/student}
RUN=${RUN:-runs/student}
NAME=${NAME:-jafm_student_v1}
# the starting weights: the shipped PickPlace policy, or a kept student (INIT=models/candidates/$NAME.onnx)
INIT=${INIT:-models/pick_place_v0.onnx}
TASKS=${TASKS:-Reach PickPlace ConveyorPick Stack Sort}
WORKERS=${WORKERS:-$(nproc)}
RAY_ADDR=${RAY_ADDR:-}
STEPS=${STEPS:-6000}
BATCH=${BATCH:-32}
LR=${LR:-3e-4}
KP_WEIGHT=${KP_WEIGHT:-0.5}
AUX_WEIGHT=${AUX_WEIGHT:-1.0}
DEVICE=${DEVICE:-auto}
EVAL_EPISODES=${EVAL_EPISODES:-100}
# demonstrations per task: frames are what the trainer samples, so short tasks get more episodes
declare -A EPISODES=([Reach]=${EP_REACH:-400} [PickPlace]=${EP_PICKPLACE:-300} [ConveyorPick]=${EP_CONVEYORPICK:-300}
                     [Stack]=${EP_STACK:-350} [Sort]=${EP_SORT:-150})
rollout_opts() { printf -- '--workers\n%s\n' "$WORKERS"; [[ -n "$RAY_ADDR" ]] && printf -- '--ray-address\n%s\n' "$RAY_ADDR"; true; }
datasets() { local d=(); for t in $TASKS; do d+=("$DATA/$t"); done; (IFS=,; echo "${d[*]}"); }

record() {
  mkdir -p "$DATA"
  for t in $TASKS; do
    "$JR" record --task "$t" --episodes "${EPISODES[$t]}" --out "$DATA/$t" --lang en,ja --seed 0 \
      --json "$DATA/$t.json" $(rollout_opts)
  done
}

train() {
  # fine-tuned from the shipped PickPlace policy (its finding and grasping carry over), with its
  # pick/place and keypoint supervision, each task's folder in the scene it was recorded in
  local resume=() init=(--init "$INIT")
  [[ -f "$RUN/checkpoints/last.pt" ]] && { resume=(--resume); init=(); }
  "$JR" train --dataset "$(datasets)" --config student "${init[@]}" --steps "$STEPS" --batch-size "$BATCH" \
    --lr "$LR" --device "$DEVICE" --shift-pad 0 --aux-weight "$AUX_WEIGHT" --kp-weight "$KP_WEIGHT" --save-every 500 --log-every 100 \
    --out "$RUN" --json "$RUN.json" "${resume[@]}"
}

export_model() {
  "$JR" export --checkpoint "$RUN/checkpoints/last.pt" --out "models/$NAME.onnx"
}

teacher() {
  # the teacher's success on the student's held-out seeds, per task and language, into the card
  for t in $TASKS; do for lang in en ja; do
    "$JR" expert --task "$t" --episodes "$EVAL_EPISODES" --seed 10000 --lang "$lang" \
      --json "$RUN/teacher_${t}_$lang.json" --card "models/$NAME.onnx" $(rollout_opts)
  done; done
}

evaluate() {
  for t in $TASKS; do for lang in en ja; do
    "$JR" eval --policy "models/$NAME.onnx" --task "$t" --episodes "$EVAL_EPISODES" --seed 10000 --lang "$lang" \
      --json "$RUN/eval_${t}_$lang.json" --card $(rollout_opts)
  done; done
}

bench() {
  "$JR" bench latency --policy "models/$NAME.onnx" --checkpoint "$RUN/checkpoints/last.pt" --teacher expert \
    --json "$RUN/latency.json" --card
}

case "${1:-all}" in
  record) record ;;
  train) train ;;
  export) export_model ;;
  teacher) teacher ;;
  eval) evaluate ;;
  bench) bench ;;
  all) record; train; export_model; evaluate; teacher; bench ;;
  *) echo "usage: $0 record|train|export|eval|teacher|bench|all" >&2; exit 2 ;;
esac
