"""Start the desktop app: ``run_app(args)`` for ``fusionviewer``, ``--demo``, ``view`` and
``--screenshot`` (render once fusion and metrics are done, save a PNG, exit)."""

from __future__ import annotations

import os
import sys
from typing import Any


SCREENSHOT_SIZE = (1600, 980)
SCREENSHOT_TIMEOUT_MS = 15 * 60 * 1000


def _application():
    from PySide6.QtWidgets import QApplication

    from .settings import APPLICATION, ORGANIZATION

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("FusionViewer")
    return app


def create_window(settings: Any = None):
    """The main window with the app's settings (tests pass their own)."""
    from .main_window import MainWindow
    from .settings import app_settings

    return MainWindow(app_settings() if settings is None else settings)


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_app(args: Any) -> int:
    """Open the main window (optionally with sources, the demo, or a one-shot screenshot)."""
    if not _has_display():
        if getattr(args, "screenshot", None):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
        else:
            print("fusionviewer: no display found. Without one, run the headless demo "
                  "(`fusionviewer demo --out DIR`), fuse from the command line (`fusionviewer "
                  "fuse`), or render the app offscreen: `fusionviewer --demo --screenshot "
                  "shot.png`.", file=sys.stderr)
            return 1
    app = _application()
    from PySide6.QtCore import QTimer

    window = create_window()
    window.doc.set_display(layout=getattr(args, "layout", None) or "side-by-side")
    app.setWindowIcon(window.windowIcon())
    paths = [str(p) for p in (getattr(args, "sources_to_view", None) or [])]
    if getattr(args, "demo", False) and not paths:
        from ..pipeline import demo_pair

        paths = [str(p) for p in demo_pair(getattr(args, "demo_task", None))[0]]
    screenshot = getattr(args, "screenshot", None)
    status = {"code": 0}
    if screenshot:
        window.quiet = True  # no modal dialogs: errors go to stderr and the exit code
        window.resize(*SCREENSHOT_SIZE)

        def fail(title: str, message: str) -> None:
            print(f"fusionviewer: error: {message}", file=sys.stderr)
            status["code"] = 2
            app.exit(2)

        def shoot(*_args) -> None:
            waited = status.setdefault("waited", 0)
            if not window.device_text and waited < 60:  # let the device probe finish too
                status["waited"] = waited + 1
                QTimer.singleShot(500, shoot)
                return
            if window.doc.roi is None and window.doc.layers():
                window.viewer.place_default_roi()  # so the ROI zoom panel shows something
            app.processEvents()
            if not window.save_screenshot(screenshot):
                status["code"] = 1
            else:
                print(f"screenshot written to {screenshot}")
            app.exit(status["code"])

        window.controller.error.connect(fail)
        if paths:
            window.controller.metricsFinished.connect(lambda _m: QTimer.singleShot(300, shoot))
        else:
            QTimer.singleShot(500, shoot)
        QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, lambda: fail("timeout", "screenshot timed out"))
    if sys.platform == "darwin":  # Finder/Dock hand files over as QFileOpenEvents
        from .file_open import FileOpenFilter

        opener = FileOpenFilter(app)
        app.installEventFilter(opener)
        opener.files_opened.connect(window.open_paths)
    window.show()
    if paths:
        window.load_paths(paths, None)
    code = app.exec()
    window.save_layout()
    window.controller.shutdown()
    return int(code or status["code"])
