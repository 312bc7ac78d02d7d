"""Export dialog: what to write and where; refuses what the export check refuses (sources)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QWidget)

from ..errors import InputError
from ..io.guard import check_destination
from ..pipeline import check_output
from ..pipeline.export import protected

# kind -> (label, suffix; "" means a folder)
KINDS = {
    "png": ("Fused image, PNG (current slice)", ".png"),
    "png_all": ("Fused image, PNG (all slices, one file each)", ""),
    "dicom": ("Fused image, DICOM series (Secondary Capture)", ""),
    "nifti": ("Fused image, NIfTI", ".nii.gz"),
    "metrics": ("Metrics, CSV", ".csv"),
    "roi": ("ROI statistics (original units), CSV", ".csv"),
    "screenshot": ("Screenshot of the window, PNG", ".png"),
}
IMAGE_FORMATS = {"png": "png", "png_all": "png", "dicom": "dicom", "nifti": "nifti"}


def export_sources(doc) -> list:
    """What no export may touch: the loaded source Images (their files and, for DICOM, their
    series folders) and the paths they were opened from."""
    return [s.image for s in doc.loaded()] + [s.path for s in doc.loaded()]


def check_export(kind: str, path: str | Path, doc, force: bool = False) -> None:
    """The one destination check of every export kind: ``pipeline.check_output`` for the fused
    image, the guard's ``check_destination`` for CSV and screenshots. Raises InputError with the
    command line's wording."""
    if kind in IMAGE_FORMATS:
        check_output(path, IMAGE_FORMATS[kind], force, export_sources(doc))
        return
    paths, series = protected(export_sources(doc))
    check_destination(path, force=force, sources=paths, series_folders=series)


def default_export_dir(doc, settings=None) -> Path:
    """The last export folder, else Documents/FusionViewer; never a folder the export check
    refuses (a loaded source folder or one holding a loaded DICOM series)."""
    paths, series = protected(export_sources(doc))
    avoid = [Path(p).resolve() for p in series + [p for p in paths if Path(p).is_dir()]]
    candidates = []
    if settings is not None and settings.value("export/dir"):
        candidates.append(Path(str(settings.value("export/dir"))))
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    if docs:
        candidates.append(Path(docs) / "FusionViewer")
    candidates.append(Path.home() / "FusionViewer exports")
    for c in candidates:
        c = c.resolve()
        if not any(c == a or a in c.parents for a in avoid):
            return c
    return Path.home().resolve() / "FusionViewer exports"


def default_name(kind: str, doc) -> str:
    method = getattr(doc.result, "method", "fused") if doc.result is not None else "fused"
    suffix = KINDS[kind][1]
    stem = {"metrics": f"metrics_{method}", "screenshot": "fusionviewer_window",
            "roi": "roi_statistics"}.get(
        kind, f"fused_{method}")
    if kind == "png" and doc.num_slices() > 1:
        stem += f"_slice{doc.slice_index + 1:03d}"
    if kind == "dicom":
        stem += "_dicom"
    return stem + suffix


class ExportDialog(QDialog):
    """Choose a kind and a path; ``accepted`` leaves ``kind``, ``path`` and ``force`` set."""

    def __init__(self, doc, settings=None, parent: QWidget | None = None, kind: str = "png"):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.doc, self.settings = doc, settings
        self.kind_combo = QComboBox()
        for key, (label, _suffix) in KINDS.items():
            self.kind_combo.addItem(label, key)
        self.path_edit = QLineEdit()
        browse = QPushButton("Browse…")
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        note = QLabel("Exports are marked “Research use only, not for diagnosis”. "
                      "Source files are never overwritten.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        form = QFormLayout(self)
        form.addRow("Export", self.kind_combo)
        form.addRow("To", row)
        self.anonymise_box = QCheckBox("Without patient identity (anonymised DICOM and CSV)")
        self.anonymise_box.setToolTip("DICOM: basic confidentiality profile (dicognito), new "
                                      "UIDs; CSV: images named by slot and modality only")
        self.anonymise_box.setChecked(bool(getattr(doc, "anonymise", False)))
        form.addRow(self.anonymise_box)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        form.addRow(buttons)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        browse.clicked.connect(self._browse)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.folder = default_export_dir(doc, settings)
        self.kind, self.path, self.force = kind, None, False
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(kind)))
        self._kind_changed()
        self.resize(560, self.sizeHint().height())

    def _kind_changed(self) -> None:
        self.kind = self.kind_combo.currentData()
        current = Path(self.path_edit.text()).parent if self.path_edit.text() else self.folder
        self.path_edit.setText(str(current / default_name(self.kind, self.doc)))

    def _browse(self) -> None:
        suffix = KINDS[self.kind][1]
        start = self.path_edit.text() or str(self.folder)
        if suffix:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", start,
                                                  f"*{suffix};;All files (*)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into folder",
                                                    str(Path(start).parent))
            if path:
                path = str(Path(path) / default_name(self.kind, self.doc))
        if path:
            self.path_edit.setText(path)

    def _accept(self) -> None:
        text = self.path_edit.text().strip()
        if not text:
            return
        path = Path(text).expanduser()
        try:
            check_export(self.kind, path, self.doc, force=True)  # replacing is asked below
        except InputError as exc:
            QMessageBox.warning(self, "Export", str(exc))
            return
        force = False
        if path.exists() and (path.is_file() or any(path.iterdir())):
            answer = QMessageBox.question(self, "Export", f"{path} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            force = True
        self.path, self.force = path, force
        self.anonymise = self.anonymise_box.isChecked()
        if self.settings is not None:
            self.settings.setValue("export/dir", str(path.parent))
        self.accept()
