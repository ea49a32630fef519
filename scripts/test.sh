#!/usr/bin/env bash
# Sets up the environment and runs the whole test suite on the CPU.
# Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup_env.sh dev,beam,tfjs,web
bash scripts/setup_js.sh
venv=${SKETCH_RNN_VENV:-$root/.venv}
export CUDA_VISIBLE_DEVICES="" TF_CPP_MIN_LOG_LEVEL=2
exec "$venv/bin/python" -m pytest -n 2 -q tests tfds_quickdraw "$@"
