#!/usr/bin/env bash
# The main job on a fresh machine: install, fetch Quick, Draw! cats through the
# TFDS builder (or take a local .npz), train the quickstart model (~6-12 minutes
# on 2 CPU cores), evaluate it, draw samples and export it (SavedModel for TF
# Serving + TF.js graphs for the web page). Everything lands in --out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SKETCH_RNN_VENV:-$root/.venv}
out=$root/runs/main
source_flag=--tfds=quickdraw_sketch_rnn/cat
manual_flag=()
steps=3000
preset=quickstart
usage() {
  cat <<EOF
usage: bash scripts/main.sh [options]
  --data=FILE.npz     train on a local sketch file (offline), e.g. ../shared/data/aaron_sheep.npz
  --tfds=NAME         a TFDS dataset (default: quickdraw_sketch_rnn/cat, downloaded)
  --manual_dir=DIR    build the TFDS dataset from local <category>.npz files (offline)
  --steps=N           training steps (default: $steps)
  --preset=NAME       hparams preset: quickstart (default), tiny, magenta, paper
  --out=DIR           where everything goes (default: runs/main)
  --help              this text
EOF
}
for arg in "$@"; do
  case "$arg" in
    --data=*|--tfds=*) source_flag=$arg ;;
    --manual_dir=*) manual_flag=("$arg") ;;
    --out=*) out=${arg#--out=} ;;
    --steps=*) steps=${arg#--steps=} ;;
    --preset=*) preset=${arg#--preset=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done
bash "$root/scripts/setup_env.sh" tfjs
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
case "$source_flag" in
  --data=*) info_args=(${source_flag#--data=}) ;;
  --tfds=*) info_args=("$source_flag" "${manual_flag[@]}") ;;
esac
"$venv/bin/sketch-rnn-data" info "${info_args[@]}"
"$venv/bin/sketch-rnn-data" render "${info_args[@]}" --out="$out/data.svg" --num=25
"$venv/bin/sketch-rnn-train" "$source_flag" "${manual_flag[@]}" --preset="$preset" --steps="$steps" \
    --model_dir="$out/model" --eval_every=$(( steps / 4 > 0 ? steps / 4 : 1 )) \
    --save_every=$(( steps / 4 > 0 ? steps / 4 : 1 )) --log_every=50 --eval_batches=3
"$venv/bin/sketch-rnn-eval" --model_dir="$out/model"
"$venv/bin/sketch-rnn-sample" --model_dir="$out/model" --mode=generate --num=8 \
    --temperature=0.2,0.5,0.8 --out="$out/generate.png"
rm -rf "$out/export"
"$venv/bin/sketch-rnn-export" --model_dir="$out/model" --out="$out/export" --tfjs
last=$(ls "$out/model/samples/"*.png | sort | tail -n 1)
echo
echo "data grid:         $out/data.svg"
echo "samples:           ${last%.png}.svg and $last (top: inputs, middle: reconstructions, bottom: free samples)"
echo "checkpoints:       $out/model/ckpt (best: $out/model/best)"
echo "TensorBoard:       $venv/bin/tensorboard --logdir $out/model"
echo "more samples:      $out/generate.png (rows: temperature 0.2, 0.5, 0.8); sketch-rnn-sample --help"
echo "SavedModel:        $out/export/sketch_rnn/1 (TF Serving layout; see BUILD.md)"
echo "web page:          (cd export/web && npm ci) && $venv/bin/python export/web/serve.py --tfjs_dir=$out/export/tfjs/sketch_rnn/1"
