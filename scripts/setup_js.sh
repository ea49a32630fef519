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
# export/web: @tensorflow/tfjs 4.22 and @magenta/sketch 0.2.0 (page, Node test, benchmark);
# tests/js_magenta: @magenta/sketch 0.2.0 for the .gen.json comparison.
for project in export/web tests/js_magenta; do
  npm ci --silent --no-audit --no-fund --prefix "$root/$project"
done
