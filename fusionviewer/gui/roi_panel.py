"""ROI zoom: the same region of every image magnified, with its statistics in each source's
original units (analysis/roi.py): mean, SD, min, max, volume (ml); SUVpeak for PET in SUV."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGridLayout, QHBoxLayout,
                               QHeaderView, QLabel, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..analysis.roi import region_statistics
from . import display
from .document import ROI_SHAPES, Document

STAT_KEYS = ("mean", "sd", "min", "max", "volume_ml", "peak")
HEADERS = ["Image", "Mean", "SD", "Min", "Max", "ml", "Peak"]


class RoiPanel(QWidget):
    """Observes the document's ROI, slice, layers and window/level."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.hint = QLabel("Choose ROI mode and drag on any image to zoom into a region.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        self.zoom_grid = QGridLayout()
        self.zoom_grid.setSpacing(2)
        self.zooms: list[tuple[QLabel, pg.ImageItem, pg.GraphicsView]] = []
        self.shape_combo = QComboBox()
        for shape, label in zip(ROI_SHAPES, ("Rectangle", "Ellipse", "Box (3-D)")):
            self.shape_combo.addItem(label, shape)
        self.shape_combo.setToolTip("ROI shape; a box spans the slices chosen beside it")
        self.z0, self.z1 = QSpinBox(), QSpinBox()
        for spin in (self.z0, self.z1):
            spin.setToolTip("First / last slice of the box")
        self.copy_button = QPushButton("Copy as CSV")
        self.copy_button.setToolTip("Copy the ROI statistics (original units) as CSV")
        shape_row = QHBoxLayout()
        shape_row.addWidget(QLabel("Shape"))
        shape_row.addWidget(self.shape_combo)
        self.slices_label = QLabel("slices")
        shape_row.addWidget(self.slices_label)
        shape_row.addWidget(self.z0)
        shape_row.addWidget(self.z1)
        shape_row.addStretch(1)
        shape_row.addWidget(self.copy_button)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.horizontalHeaderItem(6).setToolTip(
            "Mean in the 1 ml sphere around the maximum (SUVpeak for PET in SUV)")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setMinimumHeight(90)
        self.region = QLabel("")
        self.region.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addLayout(shape_row)
        layout.addLayout(self.zoom_grid, 1)
        layout.addWidget(self.region)
        layout.addWidget(self.table)
        self.stats: list[dict[str, float]] = []
        doc.roiChanged.connect(self.refresh)
        doc.sliceChanged.connect(self.refresh)
        doc.layersChanged.connect(self.refresh)
        doc.levelsChanged.connect(self.refresh)
        self.shape_combo.currentIndexChanged.connect(self._on_shape)
        self.z0.valueChanged.connect(self._on_slices)
        self.z1.valueChanged.connect(self._on_slices)
        self.copy_button.clicked.connect(self._copy)
        self.refresh()

    def _on_shape(self) -> None:
        self.doc.set_roi_shape(self.shape_combo.currentData())

    def _on_slices(self) -> None:
        if self.doc.roi_shape == "box":
            self.doc.set_roi_shape("box", (self.z0.value() - 1, self.z1.value() - 1))

    def _copy(self) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.clipboard().setText(self.csv_text())

    def csv_text(self, anonymise: bool | None = None) -> str:
        """The statistics as CSV in original units (anonymised: images named by slot and
        modality only, never by file name)."""
        anonymise = self.doc.anonymise if anonymise is None else anonymise
        region = self.doc.region()
        lines = ["image,units,shape,slices,mean,sd,min,max,n,volume_ml,peak"]
        if region is None:
            return "\n".join(lines) + "\n"
        for layer, stats in zip(self.doc.layers(), self.stats):
            slot = layer.name.split(":")[0]
            name = f"{slot} {layer.image.modality}" if anonymise else layer.name
            name = name.replace(",", " ")
            cells = [name, layer.units, region.shape, f"{region.z0 + 1}-{region.z1 + 1}"]
            for key in ("mean", "sd", "min", "max", "n", "volume_ml", "peak"):
                value = stats.get(key)
                cells.append("" if value is None or (isinstance(value, float)
                                                     and math.isnan(value)) else f"{value:.6g}")
            lines.append(",".join(cells))
        return "\n".join(lines) + "\n"

    def _ensure_zooms(self, n: int) -> None:
        if len(self.zooms) == n:
            return
        for label, _item, gv in self.zooms:
            self.zoom_grid.removeWidget(label)
            self.zoom_grid.removeWidget(gv)
            label.deleteLater()
            gv.deleteLater()
        self.zooms = []
        cols = n if n <= 3 else math.ceil(math.sqrt(n))
        for i in range(n):
            label = QLabel("")
            label.setStyleSheet("font-size: 10px; color: #333;")
            gv = pg.GraphicsView()
            gv.setBackground("k")
            vb = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False)
            gv.setCentralItem(vb)
            item = pg.ImageItem()
            vb.addItem(item)
            gv.setMinimumSize(80, 80)
            self.zoom_grid.addWidget(label, 2 * (i // cols), i % cols)
            self.zoom_grid.addWidget(gv, 2 * (i // cols) + 1, i % cols)
            self.zooms.append((label, item, gv))

    def refresh(self, *_args) -> None:
        layers = self.doc.layers()
        rect = self.doc.roi
        self._ensure_zooms(len(layers))
        self.table.setRowCount(len(layers))
        self.stats = []
        self.hint.setVisible(rect is None)
        for label, _item, gv in self.zooms:
            label.setVisible(rect is not None)
            gv.setVisible(rect is not None)
        k = self.doc.slice_index
        self._sync_shape_controls()
        region = self.doc.region()
        if rect is not None:
            x, y, w, h = rect
            where = (f"slices {region.z0 + 1}–{region.z1 + 1}" if region.shape == "box"
                     else f"slice {k + 1}")
            self.region.setText(f"{region.shape.capitalize()} x {x:.0f}–{x + w:.0f}, "
                                f"y {y:.0f}–{y + h:.0f} ({w:.0f}×{h:.0f} px), {where}")
        else:
            self.region.setText("")
        for i, layer in enumerate(layers):
            label, item, gv = self.zooms[i]
            label.setText(layer.name)
            stats = layer_statistics(layer, region) if region is not None else {}
            self.stats.append(stats)
            short = layer.name.split(":")[0]
            name = QTableWidgetItem(f"{short} [{layer.units}]" if layer.units else short)
            name.setToolTip(layer.name + (f"\n{layer.note}" if layer.note else ""))
            self.table.setItem(i, 0, name)
            for j, key in enumerate(STAT_KEYS):
                value = stats.get(key)
                text = "" if value is None or math.isnan(value) else f"{value:.4g}"
                self.table.setItem(i, j + 1, QTableWidgetItem(text))
            if rect is None:
                item.clear()
                continue
            crop = display.crop_rect(layer.display(k), rect)
            if crop.size == 0:
                item.clear()
                continue
            item.setImage(crop, levels=self.doc.levels(layer), autoLevels=False)
            gv.centralWidget.setRange(xRange=(0, crop.shape[1]), yRange=(0, crop.shape[0]),
                                      padding=0)

    def _sync_shape_controls(self) -> None:
        doc = self.doc
        n = doc.num_slices()
        widgets = (self.shape_combo, self.z0, self.z1)
        for w in widgets:
            w.blockSignals(True)
        self.shape_combo.setCurrentIndex(self.shape_combo.findData(doc.roi_shape))
        for spin in (self.z0, self.z1):
            spin.setRange(1, n)
        box = doc.roi_shape == "box" and doc.roi_slices is not None
        if box:
            self.z0.setValue(doc.roi_slices[0] + 1)
            self.z1.setValue(doc.roi_slices[1] + 1)
        for w in (self.z0, self.z1, self.slices_label):
            w.setVisible(box)
        for w in widgets:
            w.blockSignals(False)


def layer_statistics(layer, region) -> dict[str, float]:
    """ROI statistics of one layer in its read-out units (original values x the SUV factor);
    the 1 ml peak for PET/SPECT."""
    import dataclasses

    spacing = layer.image.spacing
    if region.z0 == region.z1 and not layer.is_functional:  # one slice: no volume copy
        values = layer.values(region.z0)[None]
        return region_statistics(values, spacing, dataclasses.replace(region, z0=0, z1=0))
    volume = layer.measured_volume()
    stats = region_statistics(volume, spacing, region, peak=layer.is_functional)
    if layer.scale != 1.0:
        for key in ("mean", "sd", "min", "max", "peak"):
            if key in stats:
                stats[key] *= layer.scale
    return stats
