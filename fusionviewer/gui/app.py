"""Start the desktop app: ``run_app(args)`` for ``fusionviewer``, ``--demo``, ``view`` and
``--screenshot`` (render once fusion and metrics are done, save a PNG, exit)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError


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


def write_screenshot(pixmap, path: str | Path) -> Path:
    """Save ``pixmap`` as a PNG at ``path`` through the output guard's atomic write (InputError
    naming the path, nothing left behind, on failure)."""
    from ..io.guard import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        if pixmap.isNull() or not pixmap.save(str(tmp), "PNG"):
            raise InputError(f"could not write the PNG (Qt failed to save {pixmap.width()}x"
                             f"{pixmap.height()} pixels)", str(path))
    return path


def _load_with_series(window, paths: list[str], uids: list[str | None],
                      on_done: Any = None) -> None:
    """Load source k into slot k with its series UID (None: the window asks if it must).

    One after the other, so that the same folder given twice (once per series) cannot swap
    slots; the fusion starts after the last one, as with ``load_paths``.
    """
    controller = window.controller
    ask = controller.choose_series
    queue = list(enumerate(zip(paths, uids)))
    state = {"uid": None}

    def choose(path: str, series: list) -> str | None:
        uid = state["uid"]
        if uid is None:
            return ask(path, series)
        return uid if uid in {s.uid for s in series} else None

    def next_source() -> None:
        if not queue:
            controller.loadFinished.disconnect(next_source)
            controller.choose_series = ask
            controller.auto_run = auto_run  # the controller starts the fusion right after this
            if on_done is not None:
                on_done()
            return
        slot, (path, uid) = queue.pop(0)
        state["uid"] = uid
        controller.load_paths([path], slot)

    auto_run = controller.auto_run
    controller.auto_run = False
    controller.choose_series = choose
    controller.loadFinished.connect(next_source)
    next_source()


def run_app(args: Any) -> int:
    """Open the main window (optionally with sources, the demo, or a one-shot screenshot)."""
    screenshot = getattr(args, "screenshot", None)
    if not _has_display():
        if screenshot:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
        else:
            print("fusionviewer: no display found. Without one, run the headless demo "
                  "(`fusionviewer demo --out DIR`), fuse from the command line (`fusionviewer "
                  "fuse`), or render the app offscreen: `fusionviewer --demo --screenshot "
                  "shot.png`.", file=sys.stderr)
            return 1
    paths = [str(p) for p in (getattr(args, "sources_to_view", None) or [])]
    if getattr(args, "demo", False) and not paths:
        from ..pipeline import demo_pair

        paths = [str(p) for p in demo_pair(getattr(args, "demo_task", None))[0]]
    if screenshot and not getattr(args, "screenshot_checked", False):
        from ..cli.view import check_screenshot_target  # --demo --screenshot: may replace

        check_screenshot_target(screenshot, paths, force=getattr(args, "force", True))
    from .platform_check import check_platform, tell_desktop

    problem = check_platform()  # before Qt: a missing xcb library aborts the process
    if problem:
        print(f"fusionviewer: {problem}", file=sys.stderr)
        tell_desktop(problem)
        return 2
    app = _application()
    from PySide6.QtCore import QTimer

    window = create_window()
    window.doc.set_display(layout=getattr(args, "layout", None) or "side-by-side")
    app.setWindowIcon(window.windowIcon())
    status = {"code": 0}
    uids = getattr(args, "series_uids", None)
    in_order = bool(paths and uids and any(uids))
    on_loaded = None  # screenshot: fail when fewer than two sources could be loaded
    if screenshot:
        window.quiet = True  # no modal dialogs: errors go to stderr and the exit code
        window.resize(*SCREENSHOT_SIZE)

        def fail(title: str, message: str) -> None:
            if status.get("failed"):
                return
            status["failed"] = True
            print(f"fusionviewer: error: {message}", file=sys.stderr)
            status["code"] = 2
            app.exit(2)

        def no_dialog(path: str, series: list) -> None:  # nobody could answer it
            from ..cli.view import series_help

            fail("Choose a series", series_help(path, series))

        def loaded() -> None:
            if paths and len(window.doc.loaded()) < 2:  # loadFinished: every load is done
                QTimer.singleShot(0, lambda: fail(
                    "Cannot fuse", "nothing to fuse: fewer than two sources could be loaded"))

        def shoot(*_args) -> None:
            waited = status.setdefault("waited", 0)
            if not window.device_text and waited < 60:  # let the device probe finish too
                status["waited"] = waited + 1
                QTimer.singleShot(500, shoot)
                return
            if window.doc.roi is None and window.doc.layers():
                window.viewer.place_default_roi()  # so the ROI zoom panel shows something
            app.processEvents()
            try:
                write_screenshot(window.grab(), screenshot)
            except InputError as exc:
                print(f"fusionviewer: error: {exc}", file=sys.stderr)
                status["code"] = 2
            else:
                print(f"screenshot written to {screenshot}")
            app.exit(status["code"])

        window.controller.error.connect(fail)
        window.controller.choose_series = no_dialog
        if paths:
            window.controller.metricsFinished.connect(lambda _m: QTimer.singleShot(300, shoot))
            on_loaded = loaded
            if not in_order:
                window.controller.loadFinished.connect(loaded)
        else:
            QTimer.singleShot(500, shoot)
        QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, lambda: fail("timeout", "screenshot timed out"))
    if sys.platform == "darwin":  # Finder/Dock hand files over as QFileOpenEvents
        from .file_open import FileOpenFilter

        opener = FileOpenFilter(app)
        app.installEventFilter(opener)
        opener.files_opened.connect(window.open_paths)
    window.show()
    if in_order:
        _load_with_series(window, paths, list(uids), on_done=on_loaded)
    elif paths:
        window.load_paths(paths, None)
    code = app.exec()
    window.save_layout()
    window.controller.shutdown()
    return int(code or status["code"])
