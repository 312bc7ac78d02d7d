#!/usr/bin/env bash
# Set up .venv (if needed) and run the app on bundled demo data (headless demo without a display).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt -e .
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = "Darwin" ]; then
  exec .venv/bin/fusionviewer --demo "$@"
else
  echo "No display found: running the headless demo instead (writes into ./fusion-demo, replacing an earlier demo run)."
  exec .venv/bin/fusionviewer demo --out fusion-demo --force "$@"
fi
