"""Pipeline options (registration, normalization, method, block size, device) and Run/Cancel.

The widgets edit ``doc.options`` (``Document.set_options``) and show it back; their choices are
the pipeline's tables (``fusionviewer.pipeline``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from ..fusion import DESCRIPTIONS, available_methods
from ..normalization import CT_PRESETS
from ..pipeline import BLOCK_SIZES, DEVICES, METHOD_LABELS, REGISTRATIONS, STAGES
from .document import SLOT_NAMES, Document
from .registration_panel import QualityLabel

NORMALIZATIONS: list[tuple[str, Any]] = (
    [("Automatic", None)]
    + [(f"CT {name} ({w:g}/{c:g})", name) for name, (c, w) in CT_PRESETS.items()]
    + [("CT header window", "window"), ("MR percentiles 0.5–99.5", "percentile"),
       ("PET/SPECT activity 0–max", "functional"),
       ("8-bit 0–255", "fixed")])


def _combo(items, changed) -> QComboBox:
    """A combo of (label, value) items that calls ``changed(value)`` when the user picks one."""
    combo = QComboBox()
    for label, value in items:
        combo.addItem(label, value)
    combo.currentIndexChanged.connect(lambda _i: changed(combo.currentData()))
    return combo


def _select(combo: QComboBox, value: Any) -> None:
    """Show ``value`` without reporting it back as a change."""
    combo.blockSignals(True)
    combo.setCurrentIndex(max(0, combo.findData(value)))
    combo.blockSignals(False)


class PipelinePanel(QGroupBox):
    """Edits ``doc.options``; shows progress; emits run/cancel."""

    runRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__("Pipeline", parent)
        self.doc = doc
        self.registration = _combo([(label, name) for name, label in REGISTRATIONS.items()],
                                   lambda v: doc.set_options(register=v))
        self.registration.setToolTip(
            "Automatic: identity in patient coordinates when the DICOM sources share one Frame "
            "of Reference (or carry none), rigid registration when their Frames differ. "
            "Registration: Mattes mutual information, multi-resolution (SimpleITK); volumes try "
            "24 orientations from two centres")
        self.decision = QLabel("")  # what the last fusion did and why (the auto decision)
        self.decision.setWordWrap(True)
        self.decision.setStyleSheet("color: #555;")
        self.fixed = QComboBox()
        self.fixed.setToolTip("The image the others are registered and resampled onto")
        self.fixed.currentIndexChanged.connect(
            lambda i: doc.set_options(fixed_index=max(i, 0)))
        self.norm_form = QFormLayout()
        self.norm_combos: list[QComboBox] = []
        self.method = _combo([(METHOD_LABELS.get(n, n), n) for n in available_methods()],
                             lambda v: doc.set_options(method=v))
        for i, name in enumerate(available_methods()):
            self.method.setItemData(i, DESCRIPTIONS.get(name, ""), 0x0003)  # Qt.ToolTipRole
        self.block = _combo([("Automatic", None)] + [(f"{n} px", n) for n in BLOCK_SIZES],
                            lambda v: doc.set_options(block_size=v))
        self.block.setToolTip("CNN tile size in pixels: smaller uses less memory")
        self.device = _combo([(label, name) for name, label in DEVICES.items()],
                             lambda v: doc.set_options(device=v))
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
        form.addRow("", self.decision)
        self.registration_quality = QualityLabel(doc)
        form.addRow("", self.registration_quality)
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
        doc.optionsChanged.connect(self.show_options)
        doc.busyChanged.connect(self._on_busy)
        doc.progressChanged.connect(self._on_progress)
        doc.resultChanged.connect(self.show_decision)
        self.refresh_sources()
        self.show_options()

    def refresh_sources(self) -> None:
        """One fixed-image entry and one normalization combo per loaded source."""
        loaded = self.doc.loaded()
        self.fixed.blockSignals(True)
        self.fixed.clear()
        for i, src in enumerate(loaded):
            self.fixed.addItem(f"{SLOT_NAMES[i]}: {src.label}")
        self.fixed.blockSignals(False)
        previous = self.doc.options.per_source("normalization", len(self.norm_combos))
        while self.norm_form.rowCount():
            self.norm_form.removeRow(0)
        self.norm_combos = []
        for i, src in enumerate(loaded):
            combo = _combo(NORMALIZATIONS, lambda _v: self._normalization_changed())
            _select(combo, previous[i] if i < len(previous) else None)
            combo.setToolTip("Automatic: DICOM window or brain preset for CT, 0–255 for 8-bit "
                             "images, 0–max for PET/SPECT activity, 0.5–99.5 percentiles "
                             "otherwise")
            self.norm_combos.append(combo)
            self.norm_form.addRow(f"{SLOT_NAMES[i]} ({src.image.modality})", combo)
        self.run_btn.setEnabled(len(loaded) >= 2 and not self.doc.busy)
        fixed = min(self.doc.options.fixed_index, max(len(loaded) - 1, 0))
        self._normalization_changed(fixed_index=fixed)
        self.show_options()

    def _normalization_changed(self, **changes: Any) -> None:
        norms = [c.currentData() for c in self.norm_combos]
        self.doc.set_options(normalization=None if all(n is None for n in norms)
                             else tuple(norms), **changes)

    def show_options(self) -> None:
        """Show ``doc.options`` in the widgets."""
        opts = self.doc.options
        _select(self.registration, opts.register)
        _select(self.method, opts.method)
        _select(self.block, opts.block_size)
        _select(self.device, opts.device)
        self.fixed.blockSignals(True)
        self.fixed.setCurrentIndex(min(opts.fixed_index, self.fixed.count() - 1))
        self.fixed.blockSignals(False)
        for combo, value in zip(self.norm_combos,
                                opts.per_source("normalization", len(self.norm_combos))):
            _select(combo, value)

    def show_decision(self) -> None:
        """The registration the shown result used and why (e.g. the auto decision)."""
        result = self.doc.result
        decision = getattr(result, "decision", None) if result is not None else None
        text = f"Used: {decision.text()}" if decision is not None else ""
        self.decision.setText(text)
        self.decision.setToolTip(text)

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
        label = STAGES.get(stage, stage.capitalize())
        self.progress.setValue(int(round(fraction * 1000)))
        self.progress.setFormat(f"{label}… %p%")
