"""The views: sources and the fused image side by side (a grid for more), linked and synced."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QGridLayout, QHBoxLayout, QLabel,
                               QRadioButton, QSlider, QSpinBox, QVBoxLayout, QWidget)

from ..normalization import CT_PRESETS
from ..pipeline import functional_index
from . import display
from .document import MODE_CHECKER, MODE_FUSED, MODE_OVERLAY, SLOT_NAMES, Document
from .slice_view import MODE_ROI, MODE_WL, SliceView

DEFAULT_ROI_FRACTION = 0.25


class ViewerPanel(QWidget):
    """Builds one SliceView per source plus the fused view and keeps them in step."""

    filesDroppedOnSlot = Signal(list, int)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.views: list[SliceView] = []
        self.view_layers: list = []      # the Layer each source view shows (None if empty slot)
        self.left_mode = MODE_WL
        self._syncing = False

        # toolbar
        self.wl_radio = QRadioButton("W/L")
        self.wl_radio.setToolTip("Left-drag changes window (horizontal) and level (vertical)")
        self.roi_radio = QRadioButton("ROI")
        self.roi_radio.setToolTip("Left-drag draws the zoom region on any view")
        self.wl_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.wl_radio)
        group.addButton(self.roi_radio)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("Fused image", MODE_FUSED)
        self.mode_combo.addItem("Overlay (registration check)", MODE_OVERLAY)
        self.mode_combo.addItem("Checkerboard (registration check)", MODE_CHECKER)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(doc.opacity * 100))
        self.opacity.setFixedWidth(110)
        self.opacity.setToolTip("Opacity of the functional image in the overlay")
        self.tile = QSpinBox()
        self.tile.setRange(4, 256)
        self.tile.setValue(doc.tile)
        self.tile.setSuffix(" px")
        self.tile.setToolTip("Checkerboard tile size")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("Left drag:"))
        bar.addWidget(self.wl_radio)
        bar.addWidget(self.roi_radio)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.mode_combo)
        self.opacity_label = QLabel("Opacity")
        bar.addWidget(self.opacity_label)
        bar.addWidget(self.opacity)
        self.tile_label = QLabel("Tile")
        bar.addWidget(self.tile_label)
        bar.addWidget(self.tile)
        bar.addStretch(1)

        self.grid = QGridLayout()
        self.grid.setSpacing(3)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Slice (mouse wheel, PgUp/PgDn, arrow keys)")
        self.slice_label = QLabel("slice 1 / 1")
        self.slice_label.setMinimumWidth(90)
        nav = QHBoxLayout()
        nav.setContentsMargins(4, 0, 4, 2)
        nav.addWidget(self.slider, 1)
        nav.addWidget(self.slice_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addLayout(self.grid, 1)
        layout.addLayout(nav)

        self.wl_radio.toggled.connect(self._on_left_mode)
        self.mode_combo.currentIndexChanged.connect(
            lambda: self.doc.set_display(mode=self.mode_combo.currentData()))
        self.opacity.valueChanged.connect(lambda v: self.doc.set_display(opacity=v / 100.0))
        self.tile.valueChanged.connect(lambda v: self.doc.set_display(tile=int(v)))
        self.slider.valueChanged.connect(self.doc.set_slice)
        doc.layersChanged.connect(self.rebuild)
        doc.levelsChanged.connect(self._on_levels_changed)
        doc.optionsChanged.connect(self.render_fused)
        doc.sliceChanged.connect(self.render)
        doc.displayChanged.connect(self._on_display_changed)
        doc.cursorChanged.connect(self._on_cursor)
        doc.roiChanged.connect(self._on_roi)
        self.rebuild()
        self._on_display_changed()

    # --- structure ----------------------------------------------------------------------------
    def fused_view(self) -> SliceView:
        return self.views[-1]

    def source_views(self) -> list[SliceView]:
        return self.views[:-1]

    def rebuild(self) -> None:
        """Match the views to the document's layers (one per slot, plus the fused view)."""
        n_src = max(2, len(self.doc.sources))
        if len(self.views) != n_src + 1:
            for v in self.views:
                self.grid.removeWidget(v)
                v.deleteLater()
            self.views = []
            for i in range(n_src + 1):
                view = SliceView(self)
                view.set_left_mode(self.left_mode)
                view.sliceStep.connect(self.doc.step_slice)
                view.cursorMoved.connect(self.doc.set_cursor)
                view.roiMoved.connect(self.doc.set_roi)
                view.levelsEdited.connect(lambda lv, i=i: self._on_levels_edited(i, lv))
                view.accept_drops = True  # the fused view takes drops like the window (slot -1)
                view.filesDropped.connect(lambda p, i=(i if i < n_src else -1):
                                          self.filesDroppedOnSlot.emit(p, i))
                view.vb.sigRangeChangedManually.connect(
                    lambda *_a, v=view: self._sync_from(v))
                self.views.append(view)
            self._place_views(n_src)
        # which layer each source view shows
        layers = self.doc.source_layers()
        current = self.doc.result_fits_sources()
        loaded_slots = [i for i, s in enumerate(self.doc.sources) if s is not None]
        self.view_layers = [None] * n_src
        for j, layer in enumerate(layers):
            slot = loaded_slots[j] if not current and j < len(loaded_slots) else j
            if slot < n_src:
                self.view_layers[slot] = layer
        for i, view in enumerate(self.views):
            self._fill_presets(i)
        n = self.doc.num_slices()
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.setValue(self.doc.slice_index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(n > 1)
        self.render()
        self._on_roi(self.doc.roi)

    def _sync_from(self, source: SliceView) -> None:
        """Linked pan/zoom: the other views take the same centre and the same zoom factor
        (relative to fitting the image), so views of different sizes stay in step."""
        if self._syncing or source._shape is None:
            return
        (x0, x1), (y0, y1) = source.vb.viewRange()
        h, w = source._shape
        zoom = max(w / max(x1 - x0, 1e-9), h / max(y1 - y0, 1e-9))
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        self._syncing = True
        try:
            for view in self.views:
                if view is source or view._shape is None:
                    continue
                vh, vw = view._shape
                view.user_zoomed = source.user_zoomed
                half_w, half_h = vw / zoom / 2.0, vh / zoom / 2.0
                view.vb.setRange(xRange=(cx - half_w, cx + half_w),
                                 yRange=(cy - half_h, cy + half_h), padding=0)
        finally:
            self._syncing = False

    def _place_views(self, n_src: int) -> None:
        """Two sources: A over B on the left, the fused view twice as wide beside them.
        More sources: a grid, the fused view last."""
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 0)
        if n_src == 2:
            self.grid.addWidget(self.views[0], 0, 0)
            self.grid.addWidget(self.views[1], 1, 0)
            self.grid.addWidget(self.views[2], 0, 1, 2, 1)
            self.grid.setColumnStretch(0, 1)
            self.grid.setColumnStretch(1, 2)
            return
        cols = math.ceil(math.sqrt(n_src + 1))
        for i, view in enumerate(self.views):
            self.grid.addWidget(view, i // cols, i % cols)
            self.grid.setColumnStretch(i % cols, 1)

    def _fill_presets(self, i: int) -> None:
        view = self.views[i]
        menu = view.presets_menu
        menu.clear()
        menu.addAction("Default", lambda i=i: self.apply_preset(i, "default"))
        menu.addAction("Full range", lambda i=i: self.apply_preset(i, "full"))
        layer = self.view_layers[i] if i < len(self.view_layers) else None
        if layer is not None and layer.image.modality == "CT":
            menu.addSeparator()
            for name, (c, w) in CT_PRESETS.items():
                menu.addAction(f"CT {name} ({w:g}/{c:g})",
                               lambda i=i, n=name: self.apply_preset(i, n))

    def _layer_of_view(self, i: int):
        if i == len(self.views) - 1:
            return self.doc.fused_layer()
        return self.view_layers[i] if i < len(self.view_layers) else None

    def apply_preset(self, i: int, name: str) -> None:
        """Set view i's levels to a preset: default, full, or a CT_PRESETS name."""
        layer = self._layer_of_view(i)
        if layer is None:
            return
        if name == "default":
            levels = None
        elif name == "full":
            arr = layer.image.array
            levels = (float(np.min(arr)), float(np.max(arr)) or 1.0)
        else:
            levels = layer.preset_levels(*CT_PRESETS[name])
        self.doc.set_levels(layer, levels)

    def _on_levels_edited(self, i: int, levels) -> None:
        layer = self._layer_of_view(i)
        if layer is not None:
            self.doc.set_levels(layer, levels)

    def _on_levels_changed(self) -> None:
        """The document's window/level changed: update the views that show other levels."""
        for i, view in enumerate(self.views):
            layer = self._layer_of_view(i)
            if layer is not None and (i < len(self.views) - 1 or self.doc.mode == MODE_FUSED) \
                    and view.levels != self.doc.levels(layer):
                view.set_levels(self.doc.levels(layer))
        if self.doc.mode != MODE_FUSED:
            self.render_fused()

    # --- rendering ----------------------------------------------------------------------------
    def render(self, *_args) -> None:
        k = self.doc.slice_index
        for i, view in enumerate(self.source_views()):
            layer = self.view_layers[i] if i < len(self.view_layers) else None
            if layer is None:
                view.set_title(f"{SLOT_NAMES[i]}: (empty)")
                view.clear("Drop an image here")
                continue
            view.set_title(layer.name)
            view.set_pixel_aspect(layer.image.spacing)
            view.to_raw, view.raw_unit = _raw_map(layer)
            view.level_span = _span(layer)
            view.set_slice(layer.display(k), self.doc.levels(layer))
        self.render_fused()
        n = self.doc.num_slices()
        self.slice_label.setText(f"slice {k + 1} / {n}")
        if self.slider.value() != k:
            self.slider.blockSignals(True)
            self.slider.setValue(k)
            self.slider.blockSignals(False)

    def render_fused(self) -> None:
        view = self.fused_view()
        k = self.doc.slice_index
        mode = self.doc.mode
        srcs = [(i, l) for i, l in enumerate(self.view_layers) if l is not None]
        if mode != MODE_FUSED:
            if len(srcs) < 2:
                view.set_title("Registration check")
                view.clear("Load two sources")
                return
            shape = srcs[0][1].display(k).shape[:2]
            if any(l.display(k).shape[:2] != shape for _, l in srcs[:2]):
                view.set_title("Registration check")
                view.clear("Run fusion (registration) first:\nthe grids differ")
                return
            mapped = [display.apply_levels(l.display(k), self.doc.levels(l)) for _, l in srcs]
            if mode == MODE_OVERLAY:
                f = functional_index([l.image for _, l in srcs])
                f = 1 if f is None else f
                base = 0 if f != 0 else 1
                comp = display.overlay(mapped[base], mapped[f], self.doc.opacity)
                view.set_title(f"Overlay: {srcs[f][1].name} on {srcs[base][1].name}")
            else:
                comp = display.checkerboard(mapped[0], mapped[1], self.doc.tile)
                view.set_title(f"Checkerboard: {srcs[0][1].name} / {srcs[1][1].name}")
            view.level_span = 1.0
            view.to_raw, view.raw_unit = (lambda v: v * 255.0), ""
            view.set_slice(comp, (0.0, 1.0))
            return
        fused = self.doc.fused_layer()
        if fused is None:
            view.set_title("Fused")
            view.clear("Run fusion" if len(srcs) >= 2 else "Load two sources")
            return
        stale = "" if self.doc.result_is_current() else " (options changed: run again)"
        view.set_title(fused.name + stale)
        view.set_pixel_aspect(fused.image.spacing)
        view.to_raw, view.raw_unit = (lambda v: v * 255.0), ""
        view.level_span = 1.0
        view.set_slice(fused.display(k), self.doc.levels(fused))

    # --- document events ------------------------------------------------------------------------
    def _on_display_changed(self) -> None:
        mode = self.doc.mode
        idx = self.mode_combo.findData(mode)
        if idx != self.mode_combo.currentIndex():
            self.mode_combo.blockSignals(True)
            self.mode_combo.setCurrentIndex(idx)
            self.mode_combo.blockSignals(False)
        for w in (self.opacity, self.opacity_label):
            w.setVisible(mode == MODE_OVERLAY)
        for w in (self.tile, self.tile_label):
            w.setVisible(mode == MODE_CHECKER)
        self.render_fused()

    def _on_cursor(self, pos) -> None:
        for view in self.views:
            view.show_cursor(pos)

    def _on_roi(self, rect) -> None:
        for view in self.views:
            view.show_roi(rect)

    def _on_left_mode(self) -> None:
        self.left_mode = MODE_WL if self.wl_radio.isChecked() else MODE_ROI
        for view in self.views:
            view.set_left_mode(self.left_mode)
        if self.left_mode == MODE_ROI and self.doc.roi is None:
            self.place_default_roi()

    def place_default_roi(self) -> None:
        """A centred ROI a quarter of the image wide, so the zoom panel has something to show."""
        layers = self.doc.layers()
        if not layers:
            return
        h, w = layers[0].display(self.doc.slice_index).shape[:2]
        s = max(8.0, round(min(h, w) * DEFAULT_ROI_FRACTION))
        self.doc.set_roi(((w - s) / 2.0, (h - s) / 2.0, s, s))

    def reset(self) -> None:
        """`r`: default levels and full view in every view."""
        self.doc.reset_levels()
        self.render()
        for view in self.views:
            view.reset_view()


def _raw_map(layer):
    """Level -> the layer's own units (HU for CT) for the title's W/L read-out."""
    norm = layer.image.normalization
    if norm is not None and norm.high > norm.low:
        return (lambda v, n=norm: n.low + v * (n.high - n.low)), layer.units
    return (lambda v: v), layer.units


def _span(layer) -> float:
    lo, hi = layer.default_levels()
    return max(hi - lo, 1e-6)

