"""A vertical colour bar with the window's low/high values and units beside a view."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class ColorBar(QWidget):
    """Paints a (256, 3) table bottom (low) to top (high) with the values and the unit."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table: np.ndarray | None = None
        self.low, self.high, self.units = 0.0, 1.0, ""
        self.setFixedWidth(58)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("background: black;")

    def set_bar(self, table: np.ndarray, low: float, high: float, units: str) -> None:
        self.table = np.asarray(table, dtype=np.uint8)
        self.low, self.high, self.units = float(low), float(high), units
        self.setToolTip(f"{self.low:.4g} – {self.high:.4g} {units}".strip())
        self.update()

    def labels(self) -> tuple[str, str, str]:
        """(top, bottom, unit) texts as painted."""
        return (f"{self.high:.4g}", f"{self.low:.4g}", self.units)

    def sizeHint(self) -> QSize:
        return QSize(58, 200)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        if self.table is None:
            return
        top, bottom, unit = self.labels()
        h = self.height()
        bar = QRect(4, 18, 14, max(h - 52, 10))
        rows = self.table[::-1].copy()            # high at the top
        img = QImage(np.repeat(rows[:, None, :], 1, axis=1).tobytes(), 1, len(rows), 3,
                     QImage.Format.Format_RGB888)
        p.drawImage(bar, img)
        p.setPen(QColor(220, 220, 220))
        font = p.font()
        font.setPointSizeF(7.5)
        p.setFont(font)
        p.drawText(QRect(20, 10, 38, 16), Qt.AlignmentFlag.AlignLeft, top)
        p.drawText(QRect(20, bar.bottom() - 8, 38, 16), Qt.AlignmentFlag.AlignLeft, bottom)
        p.drawText(QRect(0, h - 30, 58, 28), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                   unit)
        p.end()
