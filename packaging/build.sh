#!/usr/bin/env bash
# Build the one-folder Linux bundle dist/FusionViewer/ from a fresh clone, in one command:
#     bash packaging/build.sh            (PYTHON=python3.11 by default; CLEAN=1 rebuilds from scratch)
# Creates its own build virtualenv (packaging/.buildenv, git-ignored), installs the project
# (non-editable) and PyInstaller with constraints.txt, runs PyInstaller, then smoke-tests the
# bundle (--version, --selftest) from another working directory with no Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}
ENV=$ROOT/packaging/.buildenv
PYI_VERSION=${PYI_VERSION:-"pyinstaller>=6.10,<7"}

echo "== build environment: $ENV"
[ -x "$ENV/bin/python" ] || "$PY" -m venv "$ENV"
"$ENV/bin/python" -m pip install -q -c constraints.txt . "$PYI_VERSION"
# A re-run must bundle the current source even though the version number did not change.
"$ENV/bin/python" -m pip install -q --no-deps --force-reinstall .

echo "== X libraries for Qt's xcb plugin (the bundle carries them: XCB_LIBS in the spec)"
"$ENV/bin/python" -m fusionviewer.gui.platform_check --libs-only || {
  echo "build.sh: install the packages above on the build machine first: the bundle copies" \
       "them, and without them it cannot open a window where they are missing" >&2
  exit 1
}

echo "== PyInstaller"
PYI_ARGS=(--noconfirm --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller")
[ "${CLEAN:-0}" = 1 ] && PYI_ARGS+=(--clean)
start=$(date +%s)
(cd "$ROOT/packaging" && "$ENV/bin/python" -m PyInstaller "${PYI_ARGS[@]}" fusionviewer.spec)
echo "PyInstaller took $(( $(date +%s) - start )) s"

APP=$ROOT/dist/FusionViewer/FusionViewer
[ -x "$APP" ] || { echo "build.sh: $APP was not produced" >&2; exit 1; }

echo "== smoke test from another working directory, no Python environment"
SMOKE=$(mktemp -d)
trap 'rm -rf "$SMOKE"' EXIT
clean_env=(env -i "HOME=$SMOKE" "PATH=/usr/bin:/bin" "TMPDIR=${TMPDIR:-/tmp}" "QT_QPA_PLATFORM=offscreen")
(cd "$SMOKE" && "${clean_env[@]}" "$APP" --version)
(cd "$SMOKE" && "${clean_env[@]}" "$APP" --selftest)
missing=$("$ENV/bin/python" - "$ROOT/packaging/fusionviewer.spec" "$ROOT/dist/FusionViewer/_internal" <<'PY'
import ast, sys
from pathlib import Path
tree = ast.parse(Path(sys.argv[1]).read_text())
libs = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
            and getattr(n.targets[0], "id", "") == "XCB_LIBS")
print(" ".join(n for n in libs if not (Path(sys.argv[2]) / n).exists()))
PY
)
[ -z "$missing" ] || { echo "build.sh: the bundle lacks X libraries: $missing" >&2; exit 1; }
(cd "$SMOKE" && "${clean_env[@]}" FUSIONVIEWER_PLATFORM_CHECK=libs "$APP")

echo "== bundle size"
du -sh "$ROOT/dist/FusionViewer"
echo "build.sh: OK, bundle in dist/FusionViewer (executable dist/FusionViewer/FusionViewer)"
