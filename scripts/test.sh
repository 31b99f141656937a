#!/usr/bin/env bash
# The test command of the README (and of .ci/run): set up, lint, then the default pytest run.
# Long tests are marked `slow` and left out here; run them with: .venv/bin/python -m pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check .
lint-imports  # layers point down, no cycles: the contracts in pyproject.toml
python -m pytest -q -m "not slow" "$@"
