"""One image view: pyqtgraph ViewBox + ImageItem, crosshair, ROI, window/level by left-drag.

Mouse: wheel = slice, Ctrl+wheel or right-drag = zoom, middle-drag = pan, left-drag = window/
level (W/L mode) or draw the ROI (ROI mode). The view shows what it is given; it computes nothing
beyond the levels it is told to use.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (QGraphicsEllipseItem, QHBoxLayout, QLabel, QMenu, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

MODE_WL, MODE_ROI, MODE_RULER = "wl", "roi", "ruler"
SLICE_KEYS = {Qt.Key.Key_PageUp: 1, Qt.Key.Key_PageDown: -1, Qt.Key.Key_Up: 1,
              Qt.Key.Key_Down: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Left: -1}
CROSSHAIR_COLOR = QColor(255, 220, 0, 150)
ROI_COLOR = QColor(0, 200, 255)
RULER_COLOR = (120, 255, 120)


class SliceViewBox(pg.ViewBox):
    """A ViewBox with the clinical mouse conventions."""

    sliceStep = Signal(int)
    levelDrag = Signal(float, float)           # dx, dy in screen pixels since the last move
    roiDrag = Signal(object, bool)             # (x, y, w, h) in view pixels, finished?
    rulerDrag = Signal(object, object, bool)   # start (x, y), end (x, y), finished?
    clicked = Signal(float, float)             # a left click at (x, y) in view pixels

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.left_mode = MODE_WL

    def wheelEvent(self, ev, axis=None):
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.sliceStep.emit(1 if delta > 0 else -1)
        ev.accept()

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapToView(ev.pos())
            self.clicked.emit(float(p.x()), float(p.y()))
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if self.left_mode == MODE_RULER:
                p0 = self.mapToView(ev.buttonDownPos())
                p1 = self.mapToView(ev.pos())
                self.rulerDrag.emit((p0.x(), p0.y()), (p1.x(), p1.y()), bool(ev.isFinish()))
            elif self.left_mode == MODE_ROI:
                p0 = self.mapToView(ev.buttonDownPos())
                p1 = self.mapToView(ev.pos())
                x0, x1 = sorted((p0.x(), p1.x()))
                y0, y1 = sorted((p0.y(), p1.y()))
                self.roiDrag.emit((x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)),
                                  bool(ev.isFinish()))
            else:
                d = ev.screenPos() - ev.lastScreenPos()
                self.levelDrag.emit(float(d.x()), float(d.y()))
            return
        super().mouseDragEvent(ev, axis)  # middle = pan, right = zoom (pyqtgraph defaults)


class _DropGraphicsView(pg.GraphicsView):
    """A GraphicsView that hands file drops to its SliceView (the scene has no drop targets)."""

    def __init__(self, owner: "SliceView"):
        self.owner = None  # pyqtgraph calls resizeEvent from its constructor
        super().__init__()
        self.owner = owner

    def dragEnterEvent(self, event) -> None:
        if self.owner.accept_drops and event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def keyPressEvent(self, event) -> None:
        step = SLICE_KEYS.get(event.key())
        if step is not None and self.owner is not None:
            self.owner.sliceStep.emit(step)
            event.accept()
            return
        super().keyPressEvent(event)

    def leaveEvent(self, event) -> None:
        if self.owner is not None and hasattr(self.owner, "user_zoomed"):
            self.owner.cursorMoved.emit(None)  # the crosshair goes with the mouse
        super().leaveEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.owner is not None and hasattr(self.owner, "user_zoomed"):
            self.owner.fit_if_not_zoomed()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if self.owner.accept_drops and paths:
            event.acceptProposedAction()
            self.owner.filesDropped.emit(paths)
        else:
            event.ignore()


class ElidedLabel(QLabel):
    """A one-line label that elides what does not fit ("...") and shows it all as a tooltip."""

    def __init__(self, text: str = ""):
        super().__init__()
        self.full_text = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        if text == self.full_text and text:
            return
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:  # the whole text, as set (Qt paints the elided one)
        return self.full_text

    def text_shown(self) -> str:
        return super().text()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(self.width() - 14, 10)
        shown = self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle, width)
        QLabel.setText(self, shown)


class SliceView(QWidget):
    """A titled image view; the owner feeds it slices and levels."""

    sliceStep = Signal(int)
    cursorMoved = Signal(object)      # (x, y) or None
    roiMoved = Signal(object)         # (x, y, w, h)
    levelsEdited = Signal(object)     # (low, high) after a W/L drag
    clicked = Signal(float, float)    # a left click at (x, y) in pixels
    rulerMoved = Signal(object, object, bool)  # ruler start, end (x, y) pixels, finished?
    filesDropped = Signal(list)       # local paths dropped onto this view

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.accept_drops = False
        self.title = ElidedLabel("")
        self.title.setObjectName("viewTitle")
        self.title.setStyleSheet("QLabel#viewTitle {color: #ddd; background: #222; "
                                 "padding: 2px 6px; font-weight: 600;}")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.graphics = _DropGraphicsView(self)
        self.graphics.setBackground("k")
        self.vb = SliceViewBox()
        self.graphics.setCentralItem(self.vb)
        self.image_item = pg.ImageItem()
        self.vb.addItem(self.image_item)
        pen = QPen(CROSSHAIR_COLOR)
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        for line in (self.hline, self.vline):
            line.setVisible(False)
            self.vb.addItem(line, ignoreBounds=True)
        self.roi = pg.RectROI([0, 0], [32, 32], pen=pg.mkPen(ROI_COLOR, width=2),
                              removable=False, rotatable=False)
        self.roi.setZValue(20)
        self.roi.setVisible(False)
        self.vb.addItem(self.roi, ignoreBounds=True)
        self.ellipse = QGraphicsEllipseItem(0, 0, 32, 32, self.roi)
        self.ellipse.setPen(pg.mkPen(ROI_COLOR, width=2, style=Qt.PenStyle.DashLine))
        self.ellipse.setVisible(False)
        ruler_pen = pg.mkPen(RULER_COLOR, width=2)
        self.ruler_line = pg.PlotCurveItem(pen=ruler_pen)
        self.ruler_line.setZValue(25)
        self.ruler_text = pg.TextItem("", color=RULER_COLOR, anchor=(0, 1))
        self.ruler_text.setZValue(26)
        for item in (self.ruler_line, self.ruler_text):
            item.setVisible(False)
            self.vb.addItem(item, ignoreBounds=True)
        self.letters = []
        for _ in range(4):  # left, right, top, bottom edge letters
            t = pg.TextItem("", color=(255, 200, 60), anchor=(0.5, 0.5))
            t.setParentItem(self.vb)
            t.setZValue(30)
            self.letters.append(t)
        self.vb.sigResized.connect(self._place_letters)
        self.pixel_mm: tuple[float, float] = (1.0, 1.0)
        self.hint = pg.TextItem("", color=(160, 160, 160), anchor=(0.5, 0.5))
        self.vb.addItem(self.hint, ignoreBounds=True)
        self.presets_button = QToolButton()
        self.presets_button.setText("W/L")
        self.presets_button.setToolTip("Window/level presets for this view")
        self.presets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.presets_menu = QMenu(self.presets_button)
        self.presets_button.setMenu(self.presets_menu)
        self.presets_button.setAutoRaise(True)
        self.presets_button.setStyleSheet("color: #ddd;")
        bar = QWidget()
        bar.setStyleSheet("background: #222;")
        bar_layout = QHBoxLayout(bar)
        bar_layout.setContentsMargins(0, 0, 2, 0)
        bar_layout.setSpacing(0)
        bar_layout.addWidget(self.title, 1)
        bar_layout.addWidget(self.presets_button)
        from .colorbar import ColorBar

        self.colorbar = ColorBar()
        self.colorbar.setVisible(False)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.graphics, 1)
        body.addWidget(self.colorbar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addLayout(body, 1)
        self.lut_name: str | None = None
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.level_span: float = 1.0        # data range, scales W/L drags
        self.base_title = ""
        self.to_raw = lambda v: v  # maps a level of the shown array to the units shown in the title
        self.raw_unit = ""
        self._shape: tuple[int, int] | None = None
        self._syncing_roi = False
        self.user_zoomed = False  # until the user pans/zooms, resizing refits the image
        self.vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.vb.sliceStep.connect(self.sliceStep)
        self.vb.levelDrag.connect(self._on_level_drag)
        self.vb.roiDrag.connect(self._on_roi_drag)
        self.vb.clicked.connect(self.clicked)
        self.vb.rulerDrag.connect(self.rulerMoved)
        self.roi.sigRegionChanged.connect(self._on_roi_changed)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # --- content -----------------------------------------------------------------------------
    def set_title(self, text: str) -> None:
        self.base_title = text
        self._update_title()

    def _update_title(self) -> None:
        lo, hi = (self.to_raw(v) for v in self.levels)
        unit = f" {self.raw_unit}" if self.raw_unit else ""
        wl = f"W {hi - lo:.4g}  L {(hi + lo) / 2:.4g}{unit}" if self._shape else ""
        self.title.setText(f"{self.base_title}    {wl}" if wl else self.base_title)

    def set_hint(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.setPos(128, 128)
        self.hint.setVisible(bool(text))

    def clear(self, hint: str = "") -> None:
        self.image_item.clear()
        self._shape = None
        self.set_hint(hint)
        self._update_title()

    def set_slice(self, array: np.ndarray, levels: tuple[float, float] | None = None) -> None:
        """Show a (H, W) or (H, W, 3) array with the given or current levels."""
        if levels is not None:
            self.levels = (float(levels[0]), float(levels[1]))
        arr = np.asarray(array)
        first = self._shape is None or self._shape != arr.shape[:2]
        self.image_item.setImage(arr, levels=self.levels, autoLevels=False)
        self.set_hint("")
        if first:
            self._shape = arr.shape[:2]
            self.reset_view()
        self._update_title()

    def set_pixel_aspect(self, spacing: tuple[float, ...]) -> None:
        """Show pixels with their physical shape: x spacing / y spacing (mm)."""
        sx, sy = float(spacing[0]), float(spacing[1])
        self.pixel_mm = (sx, sy)
        ratio = sx / sy if sx > 0 and sy > 0 else 1.0
        if abs(ratio - float(self.vb.state["aspectLocked"] or 1.0)) > 1e-9:
            self.vb.setAspectLocked(True, ratio=ratio)
            self.fit_if_not_zoomed()

    def set_levels(self, levels: tuple[float, float]) -> None:
        self.levels = (float(levels[0]), float(levels[1]))
        if self._shape is not None:
            self.image_item.setLevels(self.levels)
        self._update_title()

    def reset_view(self) -> None:
        """Fit the whole image (`r`); resizing refits again until the user zooms or pans."""
        self.user_zoomed = False
        if self._shape is not None:
            h, w = self._shape
            self.vb.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def fit_if_not_zoomed(self) -> None:
        if not self.user_zoomed:
            self.reset_view()

    def _on_manual_range(self, *_args) -> None:
        self.user_zoomed = True

    def set_left_mode(self, mode: str) -> None:
        self.vb.left_mode = mode

    # --- crosshair and ROI ------------------------------------------------------------------
    def show_cursor(self, pos: tuple[float, float] | None) -> None:
        visible = pos is not None and self._shape is not None
        self.hline.setVisible(visible)
        self.vline.setVisible(visible)
        if visible:
            self.vline.setValue(pos[0])
            self.hline.setValue(pos[1])

    def set_lut(self, name: str | None, table: np.ndarray | None = None) -> None:
        """A colour map for gray data (None: gray); ``table`` (256, 3) uint8."""
        if name == self.lut_name:
            return
        self.lut_name = name
        self.image_item.setLookupTable(table if name is not None else None)

    def set_colorbar(self, table: np.ndarray | None, low: float = 0.0, high: float = 1.0,
                     units: str = "") -> None:
        """Show (table given) or hide the colour bar with the window in read-out units."""
        if table is None:
            self.colorbar.setVisible(False)
            return
        self.colorbar.set_bar(table, low, high, units)
        self.colorbar.setVisible(True)

    def set_edge_letters(self, letters: tuple[str, str, str, str] | None) -> None:
        """Orientation letters on the left, right, top and bottom edges (None: none)."""
        for item, text in zip(self.letters, letters or ("", "", "", "")):
            item.setText(text)
        self._place_letters()

    def edge_letters(self) -> tuple[str, ...]:
        return tuple(t.toPlainText() for t in self.letters)

    def _place_letters(self, *_args) -> None:
        r = self.vb.rect()
        spots = ((r.left() + 10, r.center().y()), (r.right() - 10, r.center().y()),
                 (r.center().x(), r.top() + 10), (r.center().x(), r.bottom() - 10))
        for item, (x, y) in zip(self.letters, spots):
            item.setPos(x, y)

    def show_ruler(self, start, end) -> float | None:
        """Draw the ruler from start to end (x, y) pixels; returns its length in mm."""
        if start is None or end is None:
            self.ruler_line.setVisible(False)
            self.ruler_text.setVisible(False)
            return None
        mm = ruler_length_mm(start, end, self.pixel_mm)
        self.ruler_line.setData([start[0], end[0]], [start[1], end[1]])
        self.ruler_text.setText(f"{mm:.1f} mm")
        self.ruler_text.setPos(end[0], end[1])
        self.ruler_line.setVisible(True)
        self.ruler_text.setVisible(True)
        return mm

    def show_roi_shape(self, shape: str) -> None:
        """Draw the ROI as a rectangle, or an ellipse inside its handles."""
        self.ellipse.setVisible(shape == "ellipse" and self.roi.isVisible())
        size = self.roi.size()
        self.ellipse.setRect(0, 0, float(size.x()), float(size.y()))

    def show_roi(self, rect: tuple[float, float, float, float] | None) -> None:
        self._syncing_roi = True
        try:
            if rect is None:
                self.roi.setVisible(False)
            else:
                x, y, w, h = rect
                self.roi.setPos(QPointF(x, y), update=False)
                self.roi.setSize(QPointF(w, h), update=False)
                self.roi.stateChanged(finish=False)
                self.roi.setVisible(True)
        finally:
            self._syncing_roi = False

    def roi_rect(self) -> tuple[float, float, float, float]:
        pos, size = self.roi.pos(), self.roi.size()
        return (float(pos.x()), float(pos.y()), float(size.x()), float(size.y()))

    def _on_roi_changed(self) -> None:
        if not self._syncing_roi:
            self.roiMoved.emit(self.roi_rect())

    def _on_roi_drag(self, rect, finished: bool) -> None:
        self.roiMoved.emit(tuple(rect))

    def _on_level_drag(self, dx: float, dy: float) -> None:
        if self._shape is None:
            return
        lo, hi = self.levels
        step = self.level_span / 400.0
        width = max(hi - lo + dx * step, self.level_span * 1e-3)
        center = (hi + lo) / 2.0 - dy * step  # drag up = brighter, as in most viewers
        self.set_levels((center - width / 2.0, center + width / 2.0))
        self.levelsEdited.emit(self.levels)

    def _on_mouse_moved(self, scene_pos) -> None:
        if self._shape is None or not self.vb.sceneBoundingRect().contains(scene_pos):
            self.cursorMoved.emit(None)
            return
        p = self.vb.mapSceneToView(scene_pos)
        self.cursorMoved.emit((float(p.x()), float(p.y())))


def ruler_length_mm(start, end, pixel_mm: tuple[float, float]) -> float:
    """The distance in mm between two (x, y) pixel points with (column, row) pixel sizes."""
    dx = (float(end[0]) - float(start[0])) * float(pixel_mm[0])
    dy = (float(end[1]) - float(start[1])) * float(pixel_mm[1])
    return float(np.hypot(dx, dy))
