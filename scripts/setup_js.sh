#!/usr/bin/env bash
# Installs what the JavaScript-side tests need: the npm projects' locked
# dependencies (no network at test time afterwards).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for project in tests/js_magenta; do
  if [ -f "$root/$project/package-lock.json" ]; then
    npm ci --silent --no-audit --no-fund --prefix "$root/$project"
  fi
done
