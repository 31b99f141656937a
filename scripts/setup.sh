#!/usr/bin/env bash
# Set up jafm_robot on a fresh machine: a virtual environment at .venv with everything the demo,
# the tests and training need. Idempotent: re-running it only installs what is missing.
#   bash scripts/setup.sh   # runtime + training + ROS 2 (PyPI wheels) + test tools + bench baselines
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: 2.13.0 is the CPU build this machine provides; an unpinned torch would
# pull gigabytes of CUDA wheels.
python -m pip install -q "torch==2.13.0"
# bench = panda-gym, the baseline that `jafm-robot bench sim` measures against in the same run;
# rollouts = Ray, which spreads episodes over --workers processes (and over a cluster with --ray-address)
python -m pip install -q -e ".[train,ros,dev,bench,rollouts]"
echo "jafm_robot set up in .venv ($(python --version)); run: .venv/bin/jafm-robot --help"
