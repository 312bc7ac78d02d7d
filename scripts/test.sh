#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test,cluster]'
# PACS tests (tests/pacs) run a real archive: Debian's Orthanc + DICOMweb plugin, installed
# here when missing and we are root (as in CI); without them those tests fail, never skip.
if { ! command -v Orthanc >/dev/null && [ ! -x /usr/sbin/Orthanc ]; } \
    || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        orthanc orthanc-dicomweb; } >/dev/null 2>&1 \
      || echo "test.sh: could not install orthanc orthanc-dicomweb (PACS tests will fail)" >&2
  else
    echo "test.sh: Orthanc missing; as root: apt-get install orthanc orthanc-dicomweb" >&2
  fi
fi
# The real-window tests (tests/gui/test_real_window.py) run the app on Xvfb with Qt's xcb plugin
# and find its window with xdotool; they need these (Debian names; the README lists the same
# libraries), installed here when missing and we are root; without them those tests fail.
X_PKGS="xvfb xdotool libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 \
libegl1 libgl1 libfontconfig1 libdbus-1-3"
if command -v dpkg-query >/dev/null; then
  x_missing=$(for p in $X_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
  done | xargs)
  if [ -n "$x_missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          $x_missing; } >/dev/null 2>&1 \
        || echo "test.sh: could not install $x_missing (real-window tests will fail)" >&2
    else
      echo "test.sh: missing $x_missing; as root: apt-get install $x_missing" >&2
    fi
  fi
fi
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
