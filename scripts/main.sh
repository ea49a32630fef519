#!/usr/bin/env bash
# The main job on a fresh machine: install, then take a sketch collection from
# a local .npz or from Quick, Draw! through the TFDS builder, report on it,
# draw a grid of its sketches and time the input pipeline.
#   scripts/main.sh --data=PATH.npz [--out=DIR]
#   scripts/main.sh --tfds=quickdraw_sketch_rnn/cat [--out=DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SKETCH_RNN_VENV:-$root/.venv}
out=$root/runs/main
source_flag=
for arg in "$@"; do
  case "$arg" in
    --data=*|--tfds=*) source_flag=$arg ;;
    --out=*) out=${arg#--out=} ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if [ -z "$source_flag" ]; then
  echo "usage: $0 --data=PATH.npz | --tfds=quickdraw_sketch_rnn/CATEGORY [--out=DIR]" >&2
  exit 2
fi
bash "$root/scripts/setup_env.sh"
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
case "$source_flag" in
  --data=*) src=(${source_flag#--data=}) ;;
  --tfds=*) src=("$source_flag") ;;
esac
"$venv/bin/sketch-rnn-data" info "${src[@]}"
"$venv/bin/sketch-rnn-data" render "${src[@]}" --out="$out/sketches.svg" --num=25
if [ "${source_flag%%=*}" = --data ]; then
  "$venv/bin/python" "$root/benchmarks/pipeline_throughput.py" --data="${source_flag#--data=}" --epochs=1
fi
echo "outputs in $out"
