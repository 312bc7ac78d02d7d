"""Metrics of the current result: grouped, with tooltips, whole volume on request, CSV copy."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from ..metrics import GROUPS
from .document import Document

def metrics_info() -> dict[str, Any]:
    """metrics.METRICS_INFO (group, name, description, better, unit per key)."""
    from ..metrics import METRICS_INFO

    return METRICS_INFO


def _field(info: Any, name: str, default: str = "") -> str:
    if info is None:
        return default
    value = info.get(name, default) if isinstance(info, dict) else getattr(info, name, default)
    return "" if value is None else str(value)


def _info_for(key: str, table: dict[str, Any]) -> Any:
    from ..metrics import metric_info

    try:
        return metric_info(key)
    except KeyError:
        return table.get(key)


def format_value(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isinf(v):
        return "∞"
    if math.isnan(v):
        return "–"
    return f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"


class MetricsPanel(QWidget):
    """A tree: group -> metric, value for the slice and (after a request) the whole volume."""

    volumeRequested = Signal()

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.title = QLabel("No result yet")
        self.title.setStyleSheet("color: #555;")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Metric", "Slice", "Volume", ""])
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.volume_btn = QPushButton("Whole volume")
        self.volume_btn.setToolTip("Compute every metric on every slice (background)")
        self.copy_btn = QPushButton("Copy as CSV")
        self.copy_btn.setToolTip("Copy the table to the clipboard as CSV")
        buttons = QHBoxLayout()
        buttons.addWidget(self.volume_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self.volume_btn.clicked.connect(self.volumeRequested)
        self.copy_btn.clicked.connect(self.copy_csv)
        doc.metricsChanged.connect(self.refresh)
        doc.resultChanged.connect(self.refresh)
        doc.sourcesChanged.connect(self.refresh)
        self.refresh()

    def rows(self) -> list[tuple[str, str, Any, Any]]:
        """(group, key, slice value, volume value) in display order."""
        if not self.doc.result_fits_sources():  # no result, or one of other sources
            return []
        table = metrics_info()
        slice_values = self.doc.metrics or {}
        # pipeline.measure_volume's dict: the mean over the slices with signal
        volume = (self.doc.volume_metrics or {}).get("mean", {})
        keys = list(slice_values) + [k for k in volume if k not in slice_values]
        out = []
        for key in keys:
            group = _field(_info_for(key, table), "group", "other") or "other"
            out.append((group, key, slice_values.get(key), volume.get(key)))
        order = {g: i for i, g in enumerate(GROUPS)}
        out.sort(key=lambda r: order.get(r[0].lower(), len(order)))
        return out

    def refresh(self) -> None:
        self.tree.clear()
        rows = self.rows()
        self.volume_btn.setEnabled(self.doc.result_fits_sources())
        self.tree.setColumnHidden(2, self.doc.volume_metrics is None)
        if not rows:
            self.title.setText("Measuring…" if self.doc.result_fits_sources()
                               else "Metrics appear here after a fusion")
            return
        k = self.doc.metrics_slice
        text = f"Fused image vs. sources, slice {k + 1}" if k is not None \
            else "Fused image vs. sources"
        if not self.doc.metrics_signal:
            text += " (empty slice: values not meaningful)"
        self.title.setText(text)
        table = metrics_info()
        groups: dict[str, QTreeWidgetItem] = {}
        for group, key, value, vol in rows:
            parent = groups.get(group)
            if parent is None:
                parent = QTreeWidgetItem([group.capitalize()])
                font = parent.font(0)
                font.setBold(True)
                parent.setFont(0, font)
                parent.setFirstColumnSpanned(False)
                self.tree.addTopLevelItem(parent)
                parent.setExpanded(True)
                groups[group] = parent
            info = _info_for(key, table)
            better = _field(info, "better")
            arrow = {"higher": "↑", "lower": "↓"}.get(better.lower(), "")
            unit = _field(info, "unit")
            name = _field(info, "name")
            item = QTreeWidgetItem([f"{key}  {name}" if name else key,
                                    format_value(value) if value is not None else "",
                                    format_value(vol) if vol is not None else "", arrow])
            tip = f"{name} ({key})\n" if name else ""
            tip += _field(info, "description") or key
            if better:
                tip += f"\nBetter: {better}."
            if unit:
                tip += f"\nUnit: {unit}."
            for col in range(4):
                item.setToolTip(col, tip)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight)
            parent.addChild(item)

    def csv_text(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["group", "metric", "slice", "volume"])
        for group, key, value, vol in self.rows():
            writer.writerow([group, key, "" if value is None else repr(float(value)),
                             "" if vol is None else repr(float(vol))])
        return buf.getvalue()

    def copy_csv(self) -> None:
        QGuiApplication.clipboard().setText(self.csv_text())
