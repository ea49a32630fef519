#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment and installs the
# package with the extras given as arguments, e.g. `scripts/setup_env.sh dev,beam`.
# The venv lives in $SKETCH_RNN_VENV (default: .venv at the repository root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SKETCH_RNN_VENV:-$root/.venv}
extras=${1:-}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
spec="$root"
[ -n "$extras" ] && spec="$root[$extras]"
"$venv/bin/pip" install -q --disable-pip-version-check -e "$spec"
# The fused CPU step kernels, compiled for this machine now rather than at the first
# training run (without a C++ compiler training runs on TensorFlow's ops; the path line says so).
"$venv/bin/python" -m sketch_rnn_tf.layers.kernels || echo "note: fused kernels not built; training uses TensorFlow's ops" >&2
