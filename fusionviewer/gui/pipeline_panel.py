"""Pipeline options (registration, normalization, method, block size, device) and Run/Cancel."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from ..fusion import DESCRIPTIONS, available_methods
from ..normalization import CT_PRESETS
from ..pipeline import REGISTRATIONS, FusionOptions
from .document import SLOT_NAMES, Document

METHOD_LABELS = {"cnn": "CNN (bundled model)", "average": "Average",
                 "laplacian": "Laplacian pyramid", "gff": "Guided filter (GFF)"}
NORMALIZATIONS: list[tuple[str, Any]] = (
    [("Automatic", None)]
    + [(f"CT {name} ({w:g}/{c:g})", name) for name, (c, w) in CT_PRESETS.items()]
    + [("CT header window", "window"), ("MR percentiles 0.5–99.5", "percentile"),
       ("8-bit 0–255", "fixed")])
BLOCK_SIZES = [None] + [2 ** i for i in range(5, 11)]
DEVICES = [("Automatic", "auto"), ("CPU", "cpu"), ("GPU (CUDA)", "cuda")]
STAGE_LABELS = {"loading": "Loading", "registering": "Registering", "normalizing": "Normalizing",
                "fusing": "Fusing", "measuring": "Measuring", "exporting": "Exporting",
                "preparing": "Preparing", "starting": "Starting"}


class PipelinePanel(QGroupBox):
    """Builds FusionOptions from the widgets; shows progress; emits run/cancel."""

    runRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__("Pipeline", parent)
        self.doc = doc
        self.registration = QComboBox()
        for name in REGISTRATIONS:
            self.registration.addItem(name.capitalize() if name != "none" else "None (already "
                                      "registered)", name)
        self.registration.setToolTip("Mattes mutual information, multi-resolution (SimpleITK)")
        self.fixed = QComboBox()
        self.fixed.setToolTip("The image the others are registered and resampled onto")
        self.norm_form = QFormLayout()
        self.norm_combos: list[QComboBox] = []
        self.method = QComboBox()
        for name in available_methods():
            self.method.addItem(METHOD_LABELS.get(name, name), name)
            self.method.setItemData(self.method.count() - 1, DESCRIPTIONS.get(name, ""),
                                    0x0003)  # Qt.ToolTipRole
        self.method.setCurrentIndex(max(0, self.method.findData("cnn")))
        self.block = QComboBox()
        for size in BLOCK_SIZES:
            self.block.addItem("Automatic" if size is None else f"{size} px", size)
        self.block.setToolTip("CNN tile size (2^i pixels): smaller uses less memory")
        self.device = QComboBox()
        for label, key in DEVICES:
            self.device.addItem(label, key)
        self.device_found = QLabel("looking for devices…")
        self.device_found.setStyleSheet("color: #555;")
        self.device_found.setWordWrap(True)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #8a5a00; background: #fff4d6; padding: 3px;")
        self.notice.setVisible(False)
        self.auto_run = QCheckBox("Fuse automatically when sources change")
        self.auto_run.setChecked(True)
        form = QFormLayout()
        form.addRow("Registration", self.registration)
        form.addRow("Fixed image", self.fixed)
        form.addRow("Method", self.method)
        form.addRow("Block size", self.block)
        form.addRow("Device", self.device)
        form.addRow("", self.device_found)
        self.run_btn = QPushButton("Run fusion")
        self.run_btn.setDefault(True)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the running job (Esc); the previous result stays")
        self.cancel_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn)
        buttons.addWidget(self.cancel_btn)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        norm_box = QLabel("Normalization")
        norm_box.setStyleSheet("font-weight: 600;")
        layout.addWidget(norm_box)
        layout.addLayout(self.norm_form)
        layout.addWidget(self.auto_run)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.notice)
        self.run_btn.clicked.connect(self.runRequested)
        self.run_btn.clicked.connect(lambda: self.show_notice(""))
        self.cancel_btn.clicked.connect(self.cancelRequested)
        doc.sourcesChanged.connect(self.refresh_sources)
        doc.busyChanged.connect(self._on_busy)
        doc.progressChanged.connect(self._on_progress)
        self.refresh_sources()

    def refresh_sources(self) -> None:
        """One fixed-image entry and one normalization combo per loaded source."""
        loaded = self.doc.loaded()
        current_fixed = self.fixed.currentIndex()
        self.fixed.clear()
        for i, src in enumerate(loaded):
            self.fixed.addItem(f"{SLOT_NAMES[i]}: {src.label}")
        self.fixed.setCurrentIndex(min(max(current_fixed, 0), max(len(loaded) - 1, 0)))
        previous = [c.currentIndex() for c in self.norm_combos]
        while self.norm_form.rowCount():
            self.norm_form.removeRow(0)
        self.norm_combos = []
        for i, src in enumerate(loaded):
            combo = QComboBox()
            for label, value in NORMALIZATIONS:
                combo.addItem(label, value)
            combo.setCurrentIndex(previous[i] if i < len(previous) else 0)
            combo.setToolTip("Automatic: DICOM window or brain preset for CT, 0–255 for 8-bit "
                             "images, 0.5–99.5 percentiles otherwise")
            self.norm_combos.append(combo)
            self.norm_form.addRow(f"{SLOT_NAMES[i]} ({src.image.modality})", combo)
        self.run_btn.setEnabled(len(loaded) >= 2 and not self.doc.busy)

    def options(self) -> FusionOptions:
        """The FusionOptions the widgets describe."""
        norms = [c.currentData() for c in self.norm_combos]
        return FusionOptions(
            method=self.method.currentData(), register=self.registration.currentData(),
            fixed_index=max(self.fixed.currentIndex(), 0), block_size=self.block.currentData(),
            device=self.device.currentData(),
            normalization=None if all(n is None for n in norms) else norms)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setToolTip(text)
        self.notice.setVisible(bool(text))

    def set_devices(self, info: dict) -> None:
        """Show what was found; the GPU entry is disabled without a CUDA GPU."""
        self.device_found.setText(f"Found: {info['text']}")
        item = self.device.model().item(self.device.findData("cuda"))
        if item is not None:
            item.setEnabled(bool(info.get("cuda")))
            item.setToolTip("" if info.get("cuda") else "no CUDA GPU found")
        if not info.get("cuda") and self.device.currentData() == "cuda":
            self.device.setCurrentIndex(self.device.findData("auto"))

    def _on_busy(self, busy: bool) -> None:
        self.cancel_btn.setEnabled(busy)
        self.run_btn.setEnabled(len(self.doc.loaded()) >= 2)
        if not busy:
            self.progress.setValue(0)
            self.progress.setFormat("Ready")

    def _on_progress(self, stage: str, fraction: float) -> None:
        if not stage:
            self.progress.setValue(0)
            self.progress.setFormat("Ready")
            return
        label = STAGE_LABELS.get(stage, stage.capitalize())
        self.progress.setValue(int(round(fraction * 1000)))
        self.progress.setFormat(f"{label}… %p%")
