"""The views: sources and the fused image side by side (a grid for more), linked and synced."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QGridLayout, QHBoxLayout, QLabel,
                               QRadioButton, QSlider, QSpinBox, QStackedWidget, QVBoxLayout,
                               QWidget)

from ..normalization import CT_PRESETS
from ..pipeline import functional_index
from . import colormaps, display
from .document import (LAYOUT_MPR, LAYOUT_SIDE, MODE_CHECKER, MODE_CONTRIB, MODE_FUSED,
                       MODE_OVERLAY, MODE_RESIDUAL, SLOT_NAMES, Document)
from .explain import ExplainCache, legend_html
from .slice_view import MODE_ROI, MODE_RULER, MODE_WL, SliceView

SUV_PRESETS = {"SUV 0-5": 5.0, "SUV 0-10": 10.0}

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
        self.ruler_radio = QRadioButton("Ruler")
        self.ruler_radio.setToolTip("Left-drag measures a distance in mm on any view")
        self.wl_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.wl_radio)
        group.addButton(self.roi_radio)
        group.addButton(self.ruler_radio)
        self.layout_combo = QComboBox()
        self.layout_combo.addItem("Side by side", LAYOUT_SIDE)
        self.layout_combo.addItem("Three planes + MIP", LAYOUT_MPR)
        self.layout_combo.setToolTip("Views: stored slices side by side, or axial / coronal / "
                                     "sagittal of every image with a linked crosshair")
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("Fused image", MODE_FUSED)
        self.mode_combo.addItem("Overlay (registration check)", MODE_OVERLAY)
        self.mode_combo.addItem("Checkerboard (registration check)", MODE_CHECKER)
        self.mode_combo.addItem("Contribution of each source", MODE_CONTRIB)
        self.mode_combo.addItem("Residual: detail the fusion lost", MODE_RESIDUAL)
        self.cmap_combo = QComboBox()
        for name in colormaps.COLORMAPS:
            self.cmap_combo.addItem(name, name)
        self.cmap_combo.setCurrentIndex(self.cmap_combo.findData(doc.colormap))
        self.cmap_combo.setToolTip("Colour map of greyscale PET/SPECT (views, fused image, "
                                   "overlay)")
        self.suv_combo = QComboBox()
        for key, label in (("bw", "SUVbw"), ("lbm", "SUVlbm"), ("off", "Bq/ml")):
            self.suv_combo.addItem(label, key)
        self.suv_combo.setToolTip("PET read-out: SUV by body weight, SUV by lean body mass "
                                  "(Janmahasatian), or activity concentration")
        self.legend = QLabel("")
        self.legend.setToolTip("Share of each source in each pixel, from the fusion "
                               "method's own weights")
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
        bar.addWidget(self.ruler_radio)
        bar.addSpacing(12)
        bar.addWidget(self.layout_combo)
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.mode_combo)
        self.cmap_label = QLabel("Colour")
        bar.addWidget(self.cmap_label)
        bar.addWidget(self.cmap_combo)
        bar.addWidget(self.suv_combo)
        bar.addWidget(self.legend)
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
        self.stack = QStackedWidget()
        side = QWidget()
        side.setLayout(self.grid)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(side)
        self.mpr = None  # the three-plane panel, made when first shown
        layout.addWidget(self.stack, 1)
        layout.addLayout(nav)
        self.explain = ExplainCache(self)
        self.explain.ready.connect(self.render_fused)

        self.wl_radio.toggled.connect(self._on_left_mode)
        self.roi_radio.toggled.connect(self._on_left_mode)
        self.layout_combo.currentIndexChanged.connect(
            lambda: self.doc.set_display(layout=self.layout_combo.currentData()))
        self.cmap_combo.currentIndexChanged.connect(
            lambda: self.doc.set_display(colormap=self.cmap_combo.currentData()))
        self.suv_combo.currentIndexChanged.connect(
            lambda: self.doc.set_display(suv=self.suv_combo.currentData()))
        doc.measureChanged.connect(self._on_ruler)
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
                view.rulerMoved.connect(lambda a, b, f, i=i: self.doc.set_ruler(
                    (("side", i), a, b)))
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
        self._show_colour_box()
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
        if layer is not None and layer.is_functional:
            menu.addSeparator()
            menu.addAction("Uptake 0 – max", lambda i=i: self.apply_preset(i, "uptake"))
            if layer.units.startswith("SUV"):
                for name in SUV_PRESETS:
                    menu.addAction(name, lambda i=i, n=name: self.apply_preset(i, n))

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
        elif name == "uptake":
            levels = display.uptake_levels(layer.image.array)
        elif name in SUV_PRESETS:
            levels = (0.0, SUV_PRESETS[name] / layer.scale)
        else:
            levels = layer.preset_levels(*CT_PRESETS[name])
        self.doc.set_levels(layer, levels)

    def _on_levels_edited(self, i: int, levels) -> None:
        layer = self._layer_of_view(i)
        if layer is not None:
            self.doc.set_levels(layer, levels)

    def _on_levels_changed(self) -> None:
        """The document's window/level changed: update the views that show other levels."""
        coloured = self.functional_layer() is not None
        for i, view in enumerate(self.views):
            layer = self._layer_of_view(i)
            fused_plain = self.doc.mode == MODE_FUSED and not coloured
            if layer is not None and (i < len(self.views) - 1 or fused_plain) \
                    and view.levels != self.doc.levels(layer):
                view.set_levels(self.doc.levels(layer))
            if layer is not None and i < len(self.views) - 1:
                apply_colour(view, layer, self.doc)
        if self.doc.mode != MODE_FUSED or coloured:
            self.render_fused()

    # --- rendering ----------------------------------------------------------------------------
    def render(self, *_args) -> None:
        k = self.doc.slice_index
        for i, view in enumerate(self.source_views()):
            if self.doc.layout == LAYOUT_MPR:
                break  # hidden: drawn again when the side-by-side layout returns
            layer = self.view_layers[i] if i < len(self.view_layers) else None
            if layer is None:
                view.set_title(f"{SLOT_NAMES[i]}: (empty)")
                view.clear("Drop an image here")
                continue
            view.set_title(layer.name + (f"  ({layer.note})" if layer.note and
                                         not layer.units.startswith("SUV") else ""))
            view.set_pixel_aspect(layer.image.spacing)
            view.to_raw, view.raw_unit = _raw_map(layer)
            view.level_span = _span(layer)
            view.set_slice(layer.display(k), self.doc.levels(layer))
            apply_colour(view, layer, self.doc)
        if self.doc.layout != LAYOUT_MPR:
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
        view.set_lut(None)
        view.set_colorbar(None)
        if mode in (MODE_CONTRIB, MODE_RESIDUAL):
            self._render_explain(view, mode)
            return
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
                comp = display.overlay(mapped[base], mapped[f], self.doc.opacity,
                                       colormaps.lut(self.doc.colormap))
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
        func = self.functional_layer()
        shown = fused.display(k)
        if func is not None and shown.ndim == 2 and func.display(k).shape == shown.shape:
            # a greyscale PET/SPECT: the fused luminance in its colour
            levels = self.doc.levels(fused)
            fused01 = display.apply_levels(shown, levels)
            func01 = display.apply_levels(func.display(k), self.doc.levels(func))
            shown = colormaps.coloured_fusion(fused01, func01, colormaps.lut(self.doc.colormap))
            view.set_title(f"{fused.name}{stale} · {self.doc.colormap} colour of "
                           f"{func.name.split(':')[0]}")
            view.set_slice(shown, (0.0, 1.0))
            view.levels = levels
            view._update_title()
            return
        view.set_slice(shown, self.doc.levels(fused))

    def functional_layer(self):
        """The greyscale PET/SPECT shown in colour (the pipeline's functional rule), or None."""
        layers = [l for l in self.view_layers if l is not None]
        f = functional_index([l.image for l in layers]) if layers else None
        if f is None or not layers[f].is_functional:
            return None
        return layers[f]

    def _render_explain(self, view: SliceView, mode: str) -> None:
        """Contribution (fused coloured by each source's share) or residual (what of each
        source's detail the fused image lost, sources side by side) of the current slice."""
        fused = self.doc.fused_layer()
        view.level_span = 1.0
        view.to_raw, view.raw_unit = (lambda v: v), ""
        if fused is None or not self.doc.result_fits_sources():
            view.set_title("Contribution" if mode == MODE_CONTRIB else "Residual")
            view.clear("Run fusion first")
            self.legend.setText("")
            return
        k = fused.slice_index(self.doc.slice_index)
        out = self.explain.get(self.doc.result, k, mode)
        names = [l.name.split(":")[0] for l in self.doc.source_layers()]
        if out is None:
            view.set_title("Computing…")
            return
        view.set_pixel_aspect(fused.image.spacing)
        if mode == MODE_CONTRIB:
            self.legend.setText(legend_html(names))
            view.set_title(f"Contribution of each source ({self.doc.result.method} weights)")
            view.set_slice(out, (0.0, 1.0))
        else:
            view.set_title("Residual (lost detail): " + " | ".join(names))
            view.set_slice(out, (0.0, 0.25))
            view.set_lut("inferno", colormaps.lut_u8("inferno"))
            view.set_colorbar(colormaps.lut_u8("inferno"), 0.0, 0.25, "|residual|")

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
        self.legend.setVisible(mode == MODE_CONTRIB)
        self._show_colour_box()
        if self.cmap_combo.currentData() != self.doc.colormap:
            self.cmap_combo.blockSignals(True)
            self.cmap_combo.setCurrentIndex(self.cmap_combo.findData(self.doc.colormap))
            self.cmap_combo.blockSignals(False)
        idx = self.layout_combo.findData(self.doc.layout)
        if idx != self.layout_combo.currentIndex():
            self.layout_combo.blockSignals(True)
            self.layout_combo.setCurrentIndex(idx)
            self.layout_combo.blockSignals(False)
        self._show_layout()
        self.render()

    def _show_colour_box(self) -> None:
        """The colour-map box only when a greyscale PET/SPECT is loaded."""
        has_func = any(l is not None and l.is_functional for l in self.view_layers)
        for w in (self.cmap_combo, self.cmap_label):
            w.setVisible(has_func)
        has_suv = any(l is not None and l.image.modality == "PT" and l.note.startswith("SUV")
                      for l in self.view_layers)
        self.suv_combo.setVisible(has_suv)
        if self.suv_combo.currentData() != self.doc.suv:
            self.suv_combo.blockSignals(True)
            self.suv_combo.setCurrentIndex(self.suv_combo.findData(self.doc.suv))
            self.suv_combo.blockSignals(False)

    def _show_layout(self) -> None:
        if self.doc.layout == LAYOUT_MPR:
            if self.mpr is None:
                from .mpr_view import MprPanel

                self.mpr = MprPanel(self.doc, self)
                self.stack.addWidget(self.mpr)
                self.mpr.set_left_mode(self.left_mode)
            self.stack.setCurrentWidget(self.mpr)
        else:
            self.stack.setCurrentIndex(0)

    def _on_cursor(self, pos) -> None:
        for view in self.views:
            view.show_cursor(pos)

    def _on_roi(self, rect) -> None:
        for view in self.views:
            view.show_roi(rect)
            view.show_roi_shape(self.doc.roi_shape)

    def _on_ruler(self) -> None:
        """Draw the ruler on the view it was drawn on (others hide theirs)."""
        ruler = self.doc.ruler
        for i, view in enumerate(self.views):
            if ruler is not None and ruler[0] == ("side", i):
                view.show_ruler(ruler[1], ruler[2])
            else:
                view.show_ruler(None, None)

    def ruler_mm(self) -> float | None:
        """The ruler's length in mm (None without a ruler)."""
        ruler = self.doc.ruler
        if ruler is None:
            return None
        if ruler[0][0] == "side":
            from .slice_view import ruler_length_mm

            return ruler_length_mm(ruler[1], ruler[2], self.views[ruler[0][1]].pixel_mm)
        return self.mpr.ruler_mm() if self.mpr is not None else None

    def _on_left_mode(self) -> None:
        self.left_mode = (MODE_WL if self.wl_radio.isChecked() else
                          MODE_ROI if self.roi_radio.isChecked() else MODE_RULER)
        for view in self.views:
            view.set_left_mode(self.left_mode)
        if self.mpr is not None:
            self.mpr.set_left_mode(self.left_mode)
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


def apply_colour(view: SliceView, layer, doc) -> None:
    """A greyscale PET/SPECT in the document's colour map with a colour bar in read-out units
    (SUV, Bq/ml, counts); other layers in gray without a bar."""
    if not layer.is_functional:
        view.set_lut(None)
        view.set_colorbar(None)
        return
    table = colormaps.lut_u8(doc.colormap)
    view.set_lut(doc.colormap, table)
    lo, hi = doc.levels(layer)
    view.set_colorbar(table, lo * layer.scale, hi * layer.scale, layer.units)


def _raw_map(layer):
    """Level -> the layer's own units (HU for CT) for the title's W/L read-out."""
    norm = layer.image.normalization
    if norm is not None and norm.high > norm.low:
        return (lambda v, n=norm: n.low + v * (n.high - n.low)), layer.units
    if layer.scale != 1.0:
        return (lambda v, s=layer.scale: v * s), layer.units
    return (lambda v: v), layer.units


def _span(layer) -> float:
    lo, hi = layer.default_levels()
    return max(hi - lo, 1e-6)

