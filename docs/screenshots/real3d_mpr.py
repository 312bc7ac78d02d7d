"""Three-plane screenshot of a real CT-MR pair (rigid registration, CNN): real3d_mpr.py CT MR OUT."""

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication([])
from fusionviewer.gui.app import SCREENSHOT_SIZE, create_window  # noqa: E402

win = create_window()
win.quiet = True
win.resize(*SCREENSHOT_SIZE)
win.doc.set_options(register="rigid")
win.doc.set_display(layout="mpr")
win.show()


def shoot():
    app.processEvents()
    ok = win.save_screenshot(sys.argv[3])
    print("screenshot written to", sys.argv[3] if ok else "nowhere")
    app.exit(0 if ok else 1)


win.controller.error.connect(lambda t, m: (print("error:", m), app.exit(2)))
win.controller.metricsFinished.connect(lambda _m: QTimer.singleShot(500, shoot))
win.load_paths(sys.argv[1:3])
QTimer.singleShot(1_500_000, lambda: app.exit(1))
sys.exit(app.exec())
