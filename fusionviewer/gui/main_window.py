"""The main window: menus, docks (sources + pipeline, ROI zoom, metrics), views, status bar."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow,
                               QMessageBox, QScrollArea, QVBoxLayout, QWidget)

from .. import RESEARCH_ONLY, __version__
from ..errors import InputError
from ..paths import resource_path
from .controller import Controller
from .document import Document
from .export_dialog import ExportDialog, check_export, export_sources
from .metrics_panel import MetricsPanel
from .pipeline_panel import PipelinePanel
from .registration_panel import RegistrationPanel
from .roi_panel import RoiPanel
from .settings import recent_files
from .source_panel import SourcePanel
from .slice_view import SLICE_KEYS
from .viewer import ViewerPanel

FILE_FILTER = ("Images (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.png *.jpg *.jpeg *.tif "
               "*.tiff *.bmp);;All files (*)")


def app_icon() -> QIcon:
    icon = QIcon()
    folder = resource_path("icons")
    for size in (16, 32, 48, 64, 128, 256):
        png = folder / f"fusionviewer-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    return icon


def pacs_available() -> bool:
    return importlib.util.find_spec("fusionviewer.gui.pacs_dialog") is not None


class MainWindow(QMainWindow):
    """Wires the document, the controller and the widgets together."""

    screenshotReady = Signal()

    def __init__(self, settings=None):
        super().__init__()
        self.settings = settings
        self.setWindowTitle(f"FusionViewer {__version__} — {RESEARCH_ONLY}")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.doc = Document(self)
        self.controller = Controller(self.doc, settings, self)
        self.controller.choose_series = self.choose_series
        self.viewer = ViewerPanel(self.doc)
        self.setCentralWidget(self.viewer)

        self.sources = SourcePanel(self.doc)
        self.pipeline = PipelinePanel(self.doc)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.addWidget(self.sources)
        left_layout.addWidget(self.pipeline)
        self.registration_panel = RegistrationPanel(self.doc)
        left_layout.addWidget(self.registration_panel)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.setMinimumWidth(330)
        scroll.setMinimumWidth(345)
        self.left_dock = self._dock("Sources and pipeline", "dock_left", scroll,
                                    Qt.DockWidgetArea.LeftDockWidgetArea)
        self.roi_panel = RoiPanel(self.doc)
        self.roi_dock = self._dock("ROI zoom", "dock_roi", self.roi_panel,
                                   Qt.DockWidgetArea.RightDockWidgetArea)
        self.metrics = MetricsPanel(self.doc)
        self.metrics_dock = self._dock("Metrics", "dock_metrics", self.metrics,
                                       Qt.DockWidgetArea.RightDockWidgetArea)

        self.cursor_label = QLabel("")
        self.statusBar().addPermanentWidget(self.cursor_label, 1)
        notice = QLabel(RESEARCH_ONLY)
        notice.setStyleSheet("color: #b00000;")
        self.statusBar().addPermanentWidget(notice)
        self.last_error: tuple[str, str] | None = None

        self._build_menus()
        self._build_shortcuts()
        self._connect()
        self._restore_layout()
        self._probe_device()

    # --- construction --------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = file_menu.addAction("&Open files…", self.open_files)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        file_menu.addAction("Open &DICOM folder…", self.open_folder)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._fill_recent()
        self.pacs_action = None
        if pacs_available():
            self.pacs_action = file_menu.addAction("&PACS…", self.open_pacs)
        file_menu.addSeparator()
        self.export_action = file_menu.addAction("&Export…", self.export_dialog)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        file_menu.addAction("Save window &screenshot…", lambda: self.export_dialog("screenshot"))
        file_menu.addAction("&Batch fusion…", self.batch_dialog)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)

        view_menu = bar.addMenu("&View")
        view_menu.addAction("&Reset views (R)", self.viewer.reset)
        view_menu.addAction("Window/level mode", lambda: self.viewer.wl_radio.setChecked(True))
        view_menu.addAction("ROI mode", lambda: self.viewer.roi_radio.setChecked(True))
        view_menu.addSeparator()
        for dock in (self.left_dock, self.roi_dock, self.metrics_dock):
            view_menu.addAction(dock.toggleViewAction())

        run_menu = bar.addMenu("&Pipeline")
        self.run_action = run_menu.addAction("&Run fusion", self.controller.run_fusion)
        self.run_action.setShortcut(QKeySequence("F5"))
        self.cancel_action = run_menu.addAction("&Cancel (Esc)", self.controller.cancel)
        run_menu.addAction("Measure whole &volume", self.controller.measure_volume)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction("&About FusionViewer", self.show_about)
        help_menu.addAction("Mouse and &keys", self.show_controls)

    def _build_shortcuts(self) -> None:
        # PgUp/PgDn change the slice wherever the focus is; the arrow keys only when no
        # focused widget uses them (see keyPressEvent), so combo boxes keep their arrows.
        keys = {Qt.Key.Key_PageUp: 1, Qt.Key.Key_PageDown: -1}
        self._shortcuts = []
        for key, step in keys.items():
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(lambda s=step: self.doc.step_slice(s))
            self._shortcuts.append(sc)
        for key, slot in ((Qt.Key.Key_R, self.viewer.reset),
                          (Qt.Key.Key_Escape, self.controller.cancel)):
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(slot)
            self._shortcuts.append(sc)

    def _connect(self) -> None:
        c = self.controller
        c.error.connect(self.show_error)
        c.notice.connect(self.show_notice)
        c.recentChanged.connect(self._fill_recent)
        c.exportFinished.connect(lambda paths: self.statusBar().showMessage(
            f"Exported {len(paths)} file(s) to {Path(str(paths[0])).parent}" if paths
            else "Exported", 8000))
        self.doc.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.doc.cursorChanged.connect(self._show_values)
        self.doc.probeChanged.connect(self._show_probe)
        self.doc.sliceChanged.connect(lambda _k: self._show_values(self.doc.cursor))
        self.viewer.filesDroppedOnSlot.connect(
            lambda paths, slot: self.load_paths(paths, None if slot < 0 else slot))
        self.sources.filesDropped.connect(self.load_paths)
        self.sources.openRequested.connect(self.open_files)
        self.sources.removeRequested.connect(c.remove_source)
        self.pipeline.runRequested.connect(c.run_fusion)
        self.pipeline.cancelRequested.connect(c.cancel)
        self.registration_panel.applyRequested.connect(c.run_fusion)
        self.pipeline.auto_run.toggled.connect(lambda on: setattr(c, "auto_run", on))
        self.metrics.volumeRequested.connect(c.measure_volume)

    def _probe_device(self) -> None:
        """Find the compute devices in a worker (importing torch takes seconds)."""
        from .about_dialog import probe_devices

        self.device_text = ""

        self.controller.runner.start(probe_devices, name="device", finished=self._on_device)

    def _on_device(self, info: dict) -> None:
        self.device_text = info["text"]
        self.pipeline.set_devices(info)

    # --- loading ---------------------------------------------------------------------------------
    def load_paths(self, paths: list[str], slot: int | None = None) -> None:
        """The one loading path: drops, File > Open, recent files, the command line."""
        self.controller.load_paths([str(p) for p in paths], slot)

    def keyPressEvent(self, event) -> None:
        step = SLICE_KEYS.get(event.key())
        if step is not None:
            self.doc.step_slice(step)
            event.accept()
            return
        super().keyPressEvent(event)

    def open_paths(self, paths: list[str]) -> None:
        """Files the OS asked us to open (macOS QFileOpenEvent), like a drop on the window."""
        self.load_paths(paths, None)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.load_paths(paths, None)

    def open_files(self, slot: int | None = None) -> None:
        start = self._last_dir()
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", start, FILE_FILTER)
        if paths:
            self._remember_dir(paths[0])
            self.load_paths(paths, slot if isinstance(slot, int) and slot >= 0 else None)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open DICOM folder", self._last_dir())
        if folder:
            self._remember_dir(folder)
            self.load_paths([folder], None)

    def open_pacs(self) -> None:
        """File > PACS: retrieved series load into their slot; the current result can be sent."""
        from .pacs_dialog import PacsDialog

        if getattr(self, "pacs_dialog", None) is None:
            dialog = PacsDialog(self, self.settings)
            dialog.seriesRetrieved.connect(self._load_retrieved)
            self.controller.fusionFinished.connect(dialog.set_fused_result)
            self.pacs_dialog = dialog
        if self.doc.result is not None:
            self.pacs_dialog.set_fused_result(self.doc.result)
        self.pacs_dialog.show()

    def _load_retrieved(self, paths, slot: int) -> None:
        """A retrieved series (its files share one cache folder) becomes one source."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        parents = {p.parent for p in paths}
        target = parents.pop() if len(paths) > 1 and len(parents) == 1 else paths[0]
        self.load_paths([str(target)], slot if slot >= 0 else None)

    def choose_series(self, path: str, series: list) -> str | None:
        """Ask which series of a multi-series folder to load."""
        labels = [s.line() if hasattr(s, "line") else f"{s.modality} {s.description} ({s.uid})"
                  for s in series]
        label, ok = QInputDialog.getItem(self, "Choose a series",
                                         f"{path} holds {len(series)} series:", labels, 0, False)
        return series[labels.index(label)].uid if ok and label in labels else None

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = recent_files(self.settings) if self.settings is not None else []
        for path in items:
            self.recent_menu.addAction(path, lambda p=path: self.load_paths([p], None))
        self.recent_menu.setEnabled(bool(items))

    def _last_dir(self) -> str:
        if self.settings is not None and self.settings.value("open/dir"):
            return str(self.settings.value("open/dir"))
        return str(Path.home())

    def _remember_dir(self, path: str) -> None:
        if self.settings is not None:
            p = Path(path)
            self.settings.setValue("open/dir", str(p if p.is_dir() else p.parent))

    # --- export ----------------------------------------------------------------------------------
    def export_dialog(self, kind: str = "png") -> None:
        if kind != "screenshot" and self.doc.result is None:
            self.show_error("Nothing to export", "Run a fusion first.")
            return
        dialog = ExportDialog(self.doc, self.settings, self,
                              kind=kind if isinstance(kind, str) else "png")
        if dialog.exec():
            self.export_to(dialog.kind, str(dialog.path), dialog.force, dialog.anonymise)

    def export_to(self, kind: str, path: str, force: bool = False,
                  anonymise: bool | None = None) -> bool:
        """Write one export kind to path (PNG/DICOM/NIfTI in a worker; CSV, screenshot here)
        after the one destination check (``export_dialog.check_export``); ``anonymise``
        (default: the Anonymise toggle) writes DICOM and CSV without patient identity."""
        from ..pipeline import write_text

        anonymise = self.doc.anonymise if anonymise is None else bool(anonymise)
        try:
            check_export(kind, path, self.doc, force)
            if kind == "screenshot":
                self._write_screenshot(Path(path))
            elif kind == "metrics":
                write_text(path, self.metrics.csv_text(), force=force,
                           sources=export_sources(self.doc))
            elif kind == "roi":
                write_text(path, self.roi_panel.csv_text(anonymise), force=force,
                           sources=export_sources(self.doc))
        except InputError as exc:
            self.show_error("Export", str(exc))
            return False
        if kind in ("screenshot", "metrics", "roi"):
            self.controller.exportFinished.emit([Path(path)])
            return True
        k = self.doc.slice_index if kind == "png" else None
        fmt = {"png": "png", "png_all": "png", "dicom": "dicom", "nifti": "nifti"}[kind]
        return self.controller.export(path, fmt, force, slice_index=k, anonymise=anonymise)

    def save_screenshot(self, path: str) -> bool:
        """The window as a PNG (``--screenshot``: replaces an existing file, never a source)."""
        try:
            check_export("screenshot", path, self.doc, force=True)
            self._write_screenshot(Path(path))
        except InputError as exc:
            self.show_error("Screenshot", str(exc))
            return False
        return True

    def _write_screenshot(self, path: Path) -> None:
        from ..io.guard import atomic_path

        with atomic_path(path) as tmp:
            if not self.grab().save(str(tmp), "PNG"):
                raise InputError("could not write the PNG", str(path))

    # --- dialogs ---------------------------------------------------------------------------------
    def batch_dialog(self):
        from .batch_dialog import BatchDialog

        dialog = BatchDialog(self.doc, self, self.settings)
        dialog.show()
        return dialog

    def show_about(self):
        from .about_dialog import AboutDialog

        dialog = AboutDialog(self, self.device_text or None)
        dialog.exec()

    def show_controls(self) -> None:
        QMessageBox.information(
            self, "Mouse and keys",
            "Wheel, PgUp/PgDn, arrow keys: slice\nCtrl+wheel or right-drag: zoom\n"
            "Middle-drag: pan\nLeft-drag: window/level (W/L mode) or ROI (ROI mode)\n"
            "R: reset views\nCtrl+O: open    Ctrl+E: export    F5: run    Esc: cancel")

    def show_error(self, title: str, message: str) -> None:
        """A warning dialog naming the file and the problem; the app stays usable."""
        self.last_error = (title, message)
        self.statusBar().showMessage(message, 10000)
        if not getattr(self, "quiet", False):
            QMessageBox.warning(self, title, message)

    def show_notice(self, text: str) -> None:
        """A non-blocking notice (e.g. CNN fallback, GPU -> CPU) in the pipeline panel."""
        if text:
            self.statusBar().showMessage(text, 15000)
        self.pipeline.show_notice(text)

    # --- status bar ------------------------------------------------------------------------------
    def _show_values(self, pos) -> None:
        if pos is None:
            self.cursor_label.setText("")
            return
        k = self.doc.slice_index
        x, y = pos
        parts = [f"x {int(x)}  y {int(y)}  slice {k + 1}/{self.doc.num_slices()}"]
        for layer in self.doc.layers():
            value = layer.value_at(k, x, y)
            if value is not None:
                unit = f" {layer.units}" if layer.units and layer.units != "0-255" else ""
                parts.append(f"{layer.name.split(':')[0]}: {value:.5g}{unit}")
        self.cursor_label.setText("   |   ".join(parts))

    def _show_probe(self, point) -> None:
        """The value of every image at a patient point (three-plane views), original units."""
        from ..analysis.mpr import patient_to_array

        if point is None:
            self.cursor_label.setText("")
            return
        parts = [f"x {point[0]:.1f}  y {point[1]:.1f}  z {point[2]:.1f} mm"]
        for layer in self.doc.layers():
            img = layer.image
            z, y, x = patient_to_array(point, img.origin, img.spacing, img.direction)
            k = int(np.floor(z))
            value = layer.value_at(k, x, y) if 0 <= k < layer.num_slices else None
            if value is not None:
                unit = f" {layer.units}" if layer.units and layer.units != "0-255" else ""
                parts.append(f"{layer.name.split(':')[0]}: {value:.5g}{unit}")
        self.cursor_label.setText("   |   ".join(parts))

    # --- layout persistence ----------------------------------------------------------------------
    def _default_layout(self) -> None:
        self.resize(1600, 980)
        self.resizeDocks([self.left_dock, self.roi_dock], [345, 440], Qt.Orientation.Horizontal)
        self.resizeDocks([self.roi_dock, self.metrics_dock], [380, 560], Qt.Orientation.Vertical)

    def _restore_layout(self) -> None:
        self._default_layout()
        if self.settings is None:
            return
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.pipeline.auto_run.setChecked(
            str(self.settings.value("pipeline/auto_run", "true")).lower() == "true")

    def save_layout(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("pipeline/auto_run", self.pipeline.auto_run.isChecked())
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.save_layout()
        self.viewer.explain.close()
        if self.viewer.mpr is not None:
            self.viewer.mpr.runner.close()
        self.controller.shutdown()
        super().closeEvent(event)
