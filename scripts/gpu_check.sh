#!/usr/bin/env bash
# GPU readiness in one run, on a fresh machine: set up, swap onnxruntime for onnxruntime-gpu where
# there is a GPU, then `jafm-robot bench gpu` (the measuring is all in jafm_robot/bench/gpu.py).
#
#   bash scripts/gpu_check.sh [JSON]    # JSON: default $OUT/gpu_check.json if $OUT is set, else /tmp/gpu_check.json
#
# Where `nvidia-smi` exists: after scripts/setup.sh, the CPU onnxruntime is uninstalled and the
# setup.py extras `gpu` (onnxruntime-gpu + CUDA 13/cuDNN 9 wheels) and `tensorrt` are installed
# (never both onnxruntime builds in one environment: they install the same module), and torch is
# made a CUDA build if it is not one. Each step is allowed to fail: the bench then reports the
# provider each mode really ran on and why, which is the point of the run. Without a GPU nothing is
# swapped and every GPU mode is reported unavailable with the fallback it took.
# Budget on a fresh GPU machine: about 8 minutes (downloads dominate; the bench itself ~1 minute).
#
# Environment:
#   GPU_CHECK_SKIP_SETUP=1   skip scripts/setup.sh when .venv exists (the CPU test does this)
#   GPU_CHECK_CPU=1          swap nothing even where there is a GPU (the CPU test does this)
#   GPU_CHECK_TRT=0          do not install TensorRT (its PyPI package is a stub that fetches the
#                            libraries from NVIDIA's own index: where only PyPI is reachable it fails)
#   GPU_CHECK_TORCH=0        leave torch as setup.sh installed it
#   GPU_CHECK_ARGS="..."     extra arguments for `jafm-robot bench gpu` (e.g. "--iters 200")
set -euo pipefail
cd "$(dirname "$0")/.."
JSON=${1:-}
if [ -z "$JSON" ]; then
  if [ -n "${OUT:-}" ]; then JSON="$OUT/gpu_check.json"; else JSON=/tmp/gpu_check.json; fi
fi
mkdir -p "$(dirname "$JSON")"
T0=$SECONDS
phase() { echo "== [$((SECONDS - T0)) s] $*"; }

if [ "${GPU_CHECK_SKIP_SETUP:-0}" = 1 ] && [ -x .venv/bin/python ]; then
  phase "setup skipped (GPU_CHECK_SKIP_SETUP=1, .venv exists)"
else
  phase "setup: scripts/setup.sh"
  bash scripts/setup.sh
fi
PY=.venv/bin/python
pip_() { "$PY" -m pip "$@"; }

if [ "${GPU_CHECK_CPU:-0}" != 1 ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  nvidia-smi -L || true
  # --- onnxruntime -> onnxruntime-gpu (the requirements are read from the installed project's
  # metadata, so setup.py's `gpu`/`tensorrt` extras are the one place their versions live)
  extras="gpu"
  [ "${GPU_CHECK_TRT:-1}" = 0 ] || extras="gpu tensorrt"
  for extra in $extras; do
    mapfile -t reqs < <("$PY" - "$extra" <<'EOF'
import importlib.metadata as md, re, sys
for r in md.requires("jafm_robot") or []:
    if re.search(r'extra\s*==\s*"%s"' % re.escape(sys.argv[1]), r):
        print(r.split(";")[0].strip())
EOF
    )
    if [ "${#reqs[@]}" = 0 ]; then echo "no '$extra' extra in the installed jafm_robot metadata (re-run without GPU_CHECK_SKIP_SETUP)"; continue; fi
    if [ "$extra" = gpu ]; then
      if pip_ show -q onnxruntime >/dev/null 2>&1; then
        phase "swap: uninstall onnxruntime (and any half-installed onnxruntime-gpu), then ${reqs[*]}"
        pip_ uninstall -y -q onnxruntime onnxruntime-gpu || true
      else
        phase "gpu extra: ${reqs[*]}"
      fi
      if ! pip_ install -q "${reqs[@]}"; then
        phase "onnxruntime-gpu install FAILED: back to the CPU build"
        pip_ uninstall -y -q onnxruntime-gpu || true
        pip_ install -q onnxruntime
      fi
    else
      phase "tensorrt extra: ${reqs[*]} (best effort, at most 240 s)"
      timeout 240 "$PY" -m pip install -q "${reqs[@]}" || phase "TensorRT install failed or timed out: the bench will say so"
    fi
  done
  # --- torch: setup.sh pins torch==2.13.0; where a local CPU wheel (2.13.0+cpu) sits in pip's
  # find-links it wins over PyPI's CUDA wheel of the same version. Reinstall from PyPI alone then.
  if [ "${GPU_CHECK_TORCH:-1}" != 0 ] && ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    tv=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
    phase "torch $tv has no CUDA here: reinstalling torch==$tv from PyPI alone (best effort, at most 300 s)"
    ( export PIP_CONFIG_FILE=/dev/null; unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL
      timeout 300 "$PY" -m pip install -q --force-reinstall --no-deps "torch==$tv" \
        && timeout 300 "$PY" -m pip install -q "torch==$tv" ) || phase "torch CUDA install failed: the training probe runs on the CPU"
  fi
  "$PY" -m pip list 2>/dev/null | grep -iE "^(onnxruntime|torch|tensorrt|nvidia-cudnn|nvidia-cublas) " || true
else
  phase "no GPU (nvidia-smi absent or failing, or GPU_CHECK_CPU=1): onnxruntime left as installed"
fi

phase "bench: jafm-robot bench gpu --json $JSON ${GPU_CHECK_ARGS:-}"
# shellcheck disable=SC2086  # GPU_CHECK_ARGS is a list of arguments
"$PY" -m jafm_robot.cli.main bench gpu --json "$JSON" ${GPU_CHECK_ARGS:-}
phase "done: $JSON"
