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
"$PY" -m fusionviewer view "$S/nifti/ct-mri-34/ct.nii.gz" "$S/nifti/ct-mri-34/mr.nii.gz" \
    --layout mpr --screenshot "$OUT/three-planes.png" --force
# three planes of a real CT-MR pair (rigid registration, CNN) when the shared data is there
REAL=../shared/data/real3d/mridir-porcine-head
SHOTS=("$OUT"/ct-mri.png "$OUT"/spect-mri.png "$OUT"/three-planes.png "$OUT"/contribution.png)
if [ -d "$REAL/CT" ]; then
    "$PY" docs/screenshots/real3d_mpr.py "$REAL/CT" "$REAL/MR_T2" "$OUT/three-planes-real.png"
    SHOTS+=("$OUT/three-planes-real.png")
fi
# the contribution mode (PET-MRI: the grey PET in hot iron)
"$PY" - "$S/pet-mri/mri/30070.png" "$S/pet-mri/pet/30070.png" "$OUT/contribution.png" <<'PYEOF'
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from fusionviewer.gui.app import SCREENSHOT_SIZE, create_window
win = create_window()
win.quiet = True
win.resize(*SCREENSHOT_SIZE)
win.show()

def shoot():
    win.doc.set_display(mode="contribution")
    def wait():
        if "Contribution" not in win.viewer.fused_view().title.text():
            QTimer.singleShot(200, wait)
            return
        app.processEvents()
        win.save_screenshot(sys.argv[3])
        app.exit(0)
    wait()

win.controller.metricsFinished.connect(lambda _m: QTimer.singleShot(300, shoot))
win.load_paths(sys.argv[1:3])
QTimer.singleShot(600_000, lambda: app.exit(1))
sys.exit(app.exec())
PYEOF
"$PY" - "${SHOTS[@]}" <<'PYEOF'
import sys
from PIL import Image
for path in sys.argv[1:]:
    img = Image.open(path).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                 dither=Image.Dither.NONE).save(path, optimize=True)
    print(path, img.size)
PYEOF
