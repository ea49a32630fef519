#!/usr/bin/env bash
# Installs what the JavaScript-side tests and the web demo need: Debian's
# chromium (driven by Playwright through executable_path; Playwright's own
# browser download is never used) and the npm projects' locked dependencies.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v chromium >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
# export/web: the sketch-rnn-tf package's dependencies, @tensorflow/tfjs and
# @tensorflow/tfjs-backend-wasm 4.22 (page, Node tests, benchmark), and its devDependency
# @magenta/sketch 0.2.0 (benchmark); tests/export/test_web_library.py packs the package and
# links these in, so it needs no network. tests/js_magenta: @magenta/sketch 0.2.0 for the
# .gen.json comparison.
for project in export/web tests/js_magenta; do
  npm ci --silent --no-audit --no-fund --prefix "$root/$project"
done
