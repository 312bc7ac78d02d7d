"""Files the OS hands to the running app (macOS: Finder double-click, drop on the Dock icon).

Linux and Windows pass such files as command-line arguments (``FusionViewer a.dcm b.nii``,
routed to ``view`` by the CLI); macOS sends one ``QFileOpenEvent`` per file instead, also at
launch. Install the filter on the QApplication before ``exec()``:

    opener = FileOpenFilter(app)
    app.installEventFilter(opener)
    opener.files_opened.connect(window.open_paths)
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal


class FileOpenFilter(QObject):
    """Collects QFileOpenEvent paths and emits them as one list once the burst is over."""

    files_opened = Signal(list)  # list[str] of local file paths, in arrival order, no duplicates

    def __init__(self, parent: QObject | None = None, *, batch_ms: int = 150) -> None:
        super().__init__(parent)
        self._pending: list[str] = []
        # Several files dropped together arrive as separate events: load them as one set.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(batch_ms)
        self._timer.timeout.connect(self.flush)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() != QEvent.Type.FileOpen:
            return False
        path = event.file() or event.url().toLocalFile()
        if path and path not in self._pending:
            self._pending.append(path)
            self._timer.start()
        return True

    def flush(self) -> None:
        """Emit the paths collected so far (if any) now."""
        self._timer.stop()
        paths, self._pending = self._pending, []
        if paths:
            self.files_opened.emit(paths)
