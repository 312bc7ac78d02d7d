#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
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
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
