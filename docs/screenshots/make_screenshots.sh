#!/usr/bin/env bash
# Make the README screenshots with the app's own --screenshot (offscreen), then shrink them to
# 256-colour PNGs. Run from anywhere: bash docs/screenshots/make_screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=docs/screenshots
SETTINGS=$(mktemp -d)
trap 'rm -rf "$SETTINGS"' EXIT
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen} FUSIONVIEWER_SETTINGS_DIR=$SETTINGS
S=resources/samples
"$PY" -m fusionviewer view "$S/ct-mri/ct/34014.png" "$S/ct-mri/mri/34014.png" \
    --screenshot "$OUT/ct-mri.png" --force
"$PY" -m fusionviewer view "$S/spect-mri/mri/29015.png" "$S/spect-mri/spect/29015.png" \
    --screenshot "$OUT/spect-mri.png" --force
"$PY" - "$OUT/ct-mri.png" "$OUT/spect-mri.png" <<'PYEOF'
import sys
from PIL import Image
for path in sys.argv[1:]:
    img = Image.open(path).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                 dither=Image.Dither.NONE).save(path, optimize=True)
    print(path, img.size)
PYEOF
