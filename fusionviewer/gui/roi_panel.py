"""ROI zoom: the same region of every image magnified, with mean / SD / min / max of each."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHeaderView, QLabel,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from . import display
from .document import Document

STAT_KEYS = ("mean", "sd", "min", "max")


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
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Image", "Mean", "SD", "Min", "Max"])
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
        layout.addLayout(self.zoom_grid, 1)
        layout.addWidget(self.region)
        layout.addWidget(self.table)
        self.stats: list[dict[str, float]] = []
        doc.roiChanged.connect(self.refresh)
        doc.sliceChanged.connect(self.refresh)
        doc.layersChanged.connect(self.refresh)
        doc.levelsChanged.connect(self.refresh)
        self.refresh()

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
        if rect is not None:
            x, y, w, h = rect
            self.region.setText(f"Region x {x:.0f}–{x + w:.0f}, y {y:.0f}–{y + h:.0f} "
                                f"({w:.0f}×{h:.0f} px), slice {k + 1}")
        else:
            self.region.setText("")
        for i, layer in enumerate(layers):
            label, item, gv = self.zooms[i]
            label.setText(layer.name)
            stats = display.roi_stats(layer.values(k), rect) if rect is not None else {}
            self.stats.append(stats)
            short = layer.name.split(":")[0]
            name = QTableWidgetItem(f"{short} [{layer.units}]" if layer.units else short)
            name.setToolTip(layer.name)
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
