#!/usr/bin/env bash
# Set up .venv (if needed) and run the app on bundled demo data (headless demo without a display).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt -e .
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = "Darwin" ]; then
  # Can Qt open a window? (missing X libraries: prints the apt-get line instead of aborting)
  if .venv/bin/python -m fusionviewer.gui.platform_check >/dev/null; then
    exec .venv/bin/fusionviewer --demo "$@"
  fi
  echo "Cannot open the app's window (see above): running the headless demo instead (writes into ./fusion-demo, replacing an earlier demo run)."
else
  echo "No display found: running the headless demo instead (writes into ./fusion-demo, replacing an earlier demo run)."
fi
exec .venv/bin/fusionviewer demo --out fusion-demo --force "$@"
