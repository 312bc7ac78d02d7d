"""Three-plane layout: axial, coronal and sagittal of every source and of the fused volume with
a crosshair linked in patient coordinates, orientation letters, true aspect, and a rotatable
coronal MIP of the functional source. Geometry lives in analysis/mpr.py."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider, QVBoxLayout, QWidget

from ..analysis import mpr
from ..pipeline import functional_index
from . import colormaps, display
from .document import MODE_CONTRIB, Document
from .slice_view import SliceView, ruler_length_mm


class LayerGeometry:
    """A layer's canonical (S, P, L) view and patient-coordinate mapping (cached per layer)."""

    def __init__(self, layer):
        img = layer.image
        self.layer = layer
        self.orient = mpr.Orientation.of(img.direction)
        self.canon = mpr.canonical(img.array, self.orient)
        self.cspacing = mpr.canonical_spacing(img.spacing, self.orient)
        self.shape = tuple(self.canon.shape[:3])

    def to_canonical(self, point) -> tuple[float, float, float]:
        img = self.layer.image
        zyx = mpr.patient_to_array(point, img.origin, img.spacing, img.direction)
        return mpr.array_to_canonical(zyx, img.array.shape[:3], self.orient)

    def to_patient(self, spl) -> np.ndarray:
        img = self.layer.image
        zyx = mpr.canonical_to_array(spl, img.array.shape[:3], self.orient)
        return mpr.array_to_patient(zyx, img.origin, img.spacing, img.direction)

    def to_array(self, point) -> tuple[float, float, float]:
        img = self.layer.image
        return mpr.patient_to_array(point, img.origin, img.spacing, img.direction)

    def centre(self) -> np.ndarray:
        return self.to_patient(tuple(n / 2.0 for n in self.shape))


class MprPanel(QWidget):
    """Rows: each source, then the fused image; columns: axial, coronal, sagittal; the MIP of
    the functional source on the right with its rotation slider."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.explain = getattr(parent, "explain", None)  # the viewer's contribution cache
        if self.explain is not None:
            self.explain.ready.connect(self.render)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(3)
        self.rows: list[tuple[object, LayerGeometry, dict[str, SliceView]]] = []
        self.mip_view = SliceView(self)
        self.mip_slider = QSlider(Qt.Orientation.Horizontal)
        self.mip_slider.setRange(0, 35)
        self.mip_slider.setToolTip("Rotate the MIP about the patient's long axis (10° steps)")
        self.mip_label = QLabel("0°")
        mip_box = QWidget()
        box = QVBoxLayout(mip_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.mip_view, 1)
        box.addWidget(self.mip_slider)
        box.addWidget(self.mip_label)
        self.mip_box = mip_box
        self.left_mode = "wl"
        self._mip_key = None
        self._mip_pending = None
        from .workers import TaskRunner

        self.runner = TaskRunner(self, max_threads=1)
        self._view_rows: list[dict[str, SliceView]] = []
        self._view_row(2)  # two sources and the fused volume, made before any loading
        self._rebuilding = False
        self.mip_slider.valueChanged.connect(
            lambda v: self.doc.set_display(mip_angle=int(v) * 10))
        doc.layersChanged.connect(self.rebuild)
        doc.pointChanged.connect(self.render)
        doc.levelsChanged.connect(self.render)
        doc.displayChanged.connect(self.render)
        doc.sliceChanged.connect(self._on_slice)
        doc.measureChanged.connect(self._on_ruler)
        doc.roiChanged.connect(self._on_roi)
        self.rebuild()

    # --- structure -------------------------------------------------------------------------
    def _view_row(self, r: int) -> dict[str, SliceView]:
        """The three views of row r, made once and kept (making a view takes tens of ms)."""
        while len(self._view_rows) <= r:
            i = len(self._view_rows)
            views = {}
            for c, plane in enumerate(mpr.PLANES):
                view = SliceView(self)
                view.shown_key = None
                view.set_left_mode(self.left_mode)
                view.set_edge_letters(mpr.EDGE_LETTERS[plane])
                view.clicked.connect(lambda x, y, r=i, p=plane: self._clicked(self._geo(r), p, x, y))
                view.sliceStep.connect(lambda d, r=i, p=plane: self._step(self._geo(r), p, d))
                view.cursorMoved.connect(lambda pos, r=i, p=plane: self._hover(self._geo(r), p, pos))
                view.levelsEdited.connect(lambda lv, r=i: self.doc.set_levels(self.rows[r][0], lv))
                if plane == "axial":  # the ROI lives on stored (axial) slices
                    view.roiMoved.connect(lambda rect, r=i: self._roi_moved(r, rect))
                view.rulerMoved.connect(lambda a, b, f, key=(i, plane):
                                        self.doc.set_ruler((("mpr",) + key, a, b)))
                self.grid.addWidget(view, i, c)
                view.setVisible(False)
                views[plane] = view
            self._view_rows.append(views)
        return self._view_rows[r]

    def rebuild(self) -> None:
        """One row per layer (views reused; rows beyond the layers hidden)."""
        layers = self.doc.layers()
        self.grid.removeWidget(self.mip_box)
        self.rows = []
        for r, layer in enumerate(layers):
            views = self._view_row(r)
            for view in views.values():
                view.shown_key = None
                view.setVisible(True)
            self.rows.append((layer, LayerGeometry(layer), views))
        for views in self._view_rows[len(layers):]:
            for view in views.values():
                view.setVisible(False)
        if layers:
            self.grid.addWidget(self.mip_box, 0, 3, max(len(layers), 1), 1)
        for c in range(4):
            self.grid.setColumnStretch(c, 1)
        if layers and self.doc.point is None:
            self.doc.point = tuple(float(v) for v in self._slice_point(self.doc.slice_index))
        self._mip_key = None
        self.render()
        self._on_roi(self.doc.roi)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if getattr(self, "_dirty", True):
            self.render()

    def _geo(self, row: int) -> LayerGeometry:
        return self.rows[row][1]

    def views(self) -> list[SliceView]:
        return [v for _l, _g, views in self.rows for v in views.values()]

    def view(self, row: int, plane: str) -> SliceView:
        return self.rows[row][2][plane]

    def set_left_mode(self, mode: str) -> None:
        self.left_mode = mode
        for views in self._view_rows:
            for v in views.values():
                v.set_left_mode(mode)

    # --- navigation --------------------------------------------------------------------------
    def _slice_point(self, k: int) -> np.ndarray:
        """The patient point at the centre of stored slice k of the first layer."""
        geo = self.rows[0][1]
        img = geo.layer.image
        z, y, x = img.array.shape[:3]
        return mpr.array_to_patient((k + 0.5, y / 2.0, x / 2.0), img.origin, img.spacing,
                                    img.direction)

    def _current(self, geo: LayerGeometry) -> tuple[float, float, float]:
        point = self.doc.point if self.doc.point is not None else geo.centre()
        return geo.to_canonical(point)

    def _clicked(self, geo: LayerGeometry, plane: str, x: float, y: float) -> None:
        spl = self._current(geo)
        idx = mpr.canonical_to_plane(plane, spl, geo.shape)[0]
        self._move_to(geo, mpr.plane_to_canonical(plane, idx, x, y, geo.shape))

    def _step(self, geo: LayerGeometry, plane: str, delta: int) -> None:
        spl = list(self._current(geo))
        axis = mpr.NORMAL_AXIS[plane]
        spl[axis] = float(np.clip(np.floor(spl[axis]) + 0.5 + delta, 0.5, geo.shape[axis] - 0.5))
        self._move_to(geo, tuple(spl))

    def _move_to(self, geo: LayerGeometry, spl) -> None:
        point = geo.to_patient(spl)
        self.doc.set_point(point)
        first = self.rows[0][1]
        k = int(np.floor(first.to_array(point)[0]))
        if 0 <= k < self.doc.num_slices() and k != self.doc.slice_index:
            self._own_slice = k
            self.doc.set_slice(k)

    def _on_slice(self, k: int) -> None:
        """The stored-slice slider moved: the crosshair goes to that slice."""
        if getattr(self, "_own_slice", None) == k or not self.rows:
            self._own_slice = None
            return
        first = self.rows[0][1]
        point = self.doc.point if self.doc.point is not None else first.centre()
        zyx = list(first.to_array(point))
        zyx[0] = k + 0.5
        img = first.layer.image
        self.doc.set_point(mpr.array_to_patient(zyx, img.origin, img.spacing, img.direction))

    def _hover(self, geo: LayerGeometry, plane: str, pos) -> None:
        if pos is None:
            self.doc.set_probe(None)
            return
        spl = self._current(geo)
        idx = mpr.canonical_to_plane(plane, spl, geo.shape)[0]
        self.doc.set_probe(geo.to_patient(mpr.plane_to_canonical(plane, idx, pos[0], pos[1],
                                                                   geo.shape)))

    # --- drawing -----------------------------------------------------------------------------
    def functional_row(self) -> int | None:
        srcs = [l for l, _g, _v in self.rows if l.role == "source"]
        f = functional_index([l.image for l in srcs]) if srcs else None
        return f

    def render(self, *_args) -> None:
        from .viewer import _raw_map, _span

        if not self.rows:
            return
        if not self.isVisible():
            self._dirty = True  # drawn when shown
            return
        self._dirty = False
        func = self.functional_row()
        func_layer = self.rows[func][0] if func is not None else None
        for layer, geo, views in self.rows:
            spl = self._current(geo)
            for plane, view in views.items():
                idx, col, row = mpr.canonical_to_plane(plane, spl, geo.shape)
                index = int(np.floor(idx))
                levels = self.doc.levels(layer)
                contrib = self._contribution(layer, geo, plane, index)
                key = (id(layer.image), index, levels, self.doc.colormap,
                       self.doc.levels(func_layer) if func_layer is not None else None,
                       id(contrib) if contrib is not None else None)
                if key == view.shown_key:  # same image: only the crosshair moves
                    view.show_cursor((col, row))
                    continue
                view.shown_key = key
                arr = mpr.plane_image(geo.canon, plane, index)
                view.set_pixel_aspect(mpr.plane_pixel_mm(geo.cspacing, plane))
                title = f"{layer.name.split(':')[0]} {plane}"
                if layer.role == "fused" and func_layer is not None and arr.ndim == 2 \
                        and func_layer.is_functional:
                    fgeo = self.rows[func][1]
                    farr = mpr.plane_image(fgeo.canon, plane, index)
                    if farr.shape == arr.shape:
                        arr = colormaps.coloured_fusion(
                            display.apply_levels(arr, levels),
                            display.apply_levels(farr, self.doc.levels(func_layer)),
                            colormaps.lut(self.doc.colormap))
                        levels = (0.0, 1.0)
                if contrib is not None:
                    arr, levels = contrib, (0.0, 1.0)
                    title += " · contribution"
                if layer.role == "fused":
                    view.to_raw, view.raw_unit = (lambda v: v * 255.0), ""
                else:
                    view.to_raw, view.raw_unit = _raw_map(layer)
                view.level_span = _span(layer)
                view.set_title(title)
                view.set_slice(arr, levels)
                if layer.is_functional:
                    table = colormaps.lut_u8(self.doc.colormap)
                    view.set_lut(self.doc.colormap, table)
                    if plane == "sagittal":
                        lo, hi = self.doc.levels(layer)
                        view.set_colorbar(table, lo * layer.scale, hi * layer.scale, layer.units)
                else:
                    view.set_lut(None)
                view.show_cursor((col, row))
        self._render_mip(func_layer, func)

    def _axial_is_stored(self, row: int) -> bool:
        """The axial plane of this row shows stored slices as they are (an axial volume)."""
        return self.rows[row][1].orient == mpr.Orientation((0, 1, 2), (False, False, False))

    def _roi_moved(self, row: int, rect) -> None:
        if self._axial_is_stored(row):
            self.doc.set_roi(rect)

    def _on_roi(self, rect) -> None:
        """The ROI on the axial views of axial volumes (drawn there in ROI mode)."""
        for r, (_l, _g, views) in enumerate(self.rows):
            view = views["axial"]
            view.show_roi(rect if self._axial_is_stored(r) else None)
            view.show_roi_shape(self.doc.roi_shape)

    def _contribution(self, layer, geo: LayerGeometry, plane: str, index: int):
        """The contribution image of the fused axial plane in the Contribution mode (when the
        axial plane is a stored slice: an axial volume), else None."""
        if layer.role != "fused" or plane != "axial" or self.doc.mode != MODE_CONTRIB \
                or self.explain is None or not self.doc.result_fits_sources() \
                or geo.orient != mpr.Orientation((0, 1, 2), (False, False, False)):
            return None
        return self.explain.get(self.doc.result, index, MODE_CONTRIB)

    def _render_mip(self, layer, row) -> None:
        from .viewer import _raw_map

        if layer is None:
            layer, row = self.rows[0][0], 0
        geo = self.rows[row][1]
        angle = int(self.doc.mip_angle)
        key = (id(layer.image), angle)
        if layer.image.is_color:
            self.mip_view.clear("MIP of a greyscale source")
            return
        if key != self._mip_key:
            if angle % 360 == 0:  # a plain projection is quick; a rotation goes to a worker
                self._mip, self._mip_key = mpr.mip(geo.canon, 0.0), key
            else:
                if self._mip_pending != key:
                    self._mip_pending = key
                    self.runner.start(mpr.mip, geo.canon, float(angle), name="mip",
                                      finished=lambda m, k=key: self._mip_ready(k, m))
                if self._mip_key is None or self._mip_key[0] != key[0]:
                    return
                angle = self._mip_key[1]  # the previous projection until the new one is done
        step = max(1, int(np.ceil(max(geo.shape[1], geo.shape[2]) / 256)))
        self.mip_view.set_pixel_aspect((geo.cspacing[2] * step, geo.cspacing[0]))
        self.mip_view.set_title(f"MIP {layer.name.split(':')[0]} (coronal, {angle}°)")
        self.mip_view.to_raw, self.mip_view.raw_unit = _raw_map(layer)
        self.mip_view.set_slice(self._mip, self.doc.levels(layer))
        if layer.is_functional:
            self.mip_view.set_lut(self.doc.colormap, colormaps.lut_u8(self.doc.colormap))
        self.mip_view.set_edge_letters(("R", "L", "S", "I") if angle % 360 == 0 else
                                       ("", "", "S", "I"))
        self.mip_label.setText(f"rotation {angle}°")
        if self.mip_slider.value() * 10 != int(self.doc.mip_angle):
            self.mip_slider.blockSignals(True)
            self.mip_slider.setValue(int(self.doc.mip_angle) // 10)
            self.mip_slider.blockSignals(False)

    def _mip_ready(self, key, image) -> None:
        """A rotated projection arrived from the worker: show it (a newer angle asks again)."""
        self._mip, self._mip_key = image, key
        if self._mip_pending == key:
            self._mip_pending = None
        if self.rows:
            func = self.functional_row()
            self._render_mip(self.rows[func][0] if func is not None else None, func)

    def _on_ruler(self) -> None:
        ruler = self.doc.ruler
        for r, (_l, _g, views) in enumerate(self.rows):
            for plane, view in views.items():
                if ruler is not None and ruler[0] == ("mpr", r, plane):
                    view.show_ruler(ruler[1], ruler[2])
                else:
                    view.show_ruler(None, None)

    def ruler_mm(self) -> float | None:
        ruler = self.doc.ruler
        if ruler is None or ruler[0][0] != "mpr":
            return None
        view = self.view(ruler[0][1], ruler[0][2])
        return ruler_length_mm(ruler[1], ruler[2], view.pixel_mm)
