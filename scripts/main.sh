#!/usr/bin/env bash
# The main job on a fresh machine: install, fetch Quick, Draw! cats through the
# TFDS builder (or take a local .npz), train the quickstart model (~10 minutes
# on 2 CPU cores), evaluate it, draw samples and export it (SavedModel for TF
# Serving + TF.js graphs for the web page).
#   scripts/main.sh                                   # quickdraw_sketch_rnn/cat via TFDS
#   scripts/main.sh --data=PATH.npz                   # offline, a local sketch file
#   options: --tfds=NAME  --out=DIR (default runs/main)  --steps=N  --preset=NAME
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SKETCH_RNN_VENV:-$root/.venv}
out=$root/runs/main
source_flag=--tfds=quickdraw_sketch_rnn/cat
steps=3000
preset=quickstart
for arg in "$@"; do
  case "$arg" in
    --data=*|--tfds=*) source_flag=$arg ;;
    --out=*) out=${arg#--out=} ;;
    --steps=*) steps=${arg#--steps=} ;;
    --preset=*) preset=${arg#--preset=} ;;
    *) echo "unknown argument: $arg (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
bash "$root/scripts/setup_env.sh" tfjs
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
case "$source_flag" in
  --data=*) info_args=(${source_flag#--data=}) ;;
  --tfds=*) info_args=("$source_flag") ;;
esac
"$venv/bin/sketch-rnn-data" info "${info_args[@]}"
"$venv/bin/sketch-rnn-data" render "${info_args[@]}" --out="$out/data.svg" --num=25
"$venv/bin/sketch-rnn-train" "$source_flag" --preset="$preset" --steps="$steps" \
    --log_dir="$out/model" --eval_every=$(( steps / 4 > 0 ? steps / 4 : 1 )) \
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
