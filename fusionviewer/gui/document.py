"""The app state that every widget observes: sources, fusion options, result, slice, cursor,
ROI, window/level per layer, metrics (the model the views observe, like napari's layers)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..image import Image
from ..pipeline import FusionOptions
from .display import Layer

MODE_FUSED, MODE_OVERLAY, MODE_CHECKER = "fused", "overlay", "checkerboard"
MODE_CONTRIB, MODE_RESIDUAL = "contribution", "residual"
LAYOUT_SIDE, LAYOUT_MPR = "side-by-side", "mpr"
LAYOUTS = (LAYOUT_SIDE, LAYOUT_MPR)
ROI_SHAPES = ("rectangle", "ellipse", "box")
SUV_KINDS = ("bw", "lbm", "off")
DISPLAY_KEYS = ("mode", "opacity", "tile", "anonymise", "colormap", "layout", "suv",
                "mip_angle")
SLOT_NAMES = "ABCDEFGH"


@dataclass
class Source:
    """A loaded input: where it came from and the raw image."""

    path: str
    image: Image
    series_uid: str | None = None
    display_range: tuple[float, float] | None = None  # robust range, computed by the loader

    @property
    def label(self) -> str:
        return Path(self.path).name or self.path


def patient_line(image: Image) -> str:
    """'Name · ID · study date · study description' from DICOM attributes ('' if none)."""
    attrs = image.provenance.attributes or {}
    parts = [str(attrs.get(k, "")).strip() for k in
             ("PatientName", "PatientID", "StudyDate", "StudyDescription")]
    return " · ".join(p for p in parts if p)


def describe_image(image: Image) -> str:
    """'CT · 256×256×1 · 1.00×1.00×1.00 mm · RGB' for the source info line."""
    z, y, x = image.shape
    sx, sy, sz = image.spacing
    text = f"{image.modality} · {x}×{y}×{z} · {sx:.2f}×{sy:.2f}×{sz:.2f} mm"
    if image.is_color:
        text += " · RGB"
    return text


class Document(QObject):
    """State plus change signals; it does no computing and starts no work."""

    sourcesChanged = Signal()
    optionsChanged = Signal()
    resultChanged = Signal()
    layersChanged = Signal()
    levelsChanged = Signal()            # window/level of a layer
    sliceChanged = Signal(int)
    cursorChanged = Signal(object)      # (x, y) in pixels of the shown grid, or None
    roiChanged = Signal(object)         # (x, y, w, h) in pixels, or None (also shape, slices)
    pointChanged = Signal(object)       # the crosshair point (x, y, z) in patient mm (LPS)
    probeChanged = Signal(object)       # the point under the mouse in a 3-plane view, or None
    measureChanged = Signal()           # ruler
    metricsChanged = Signal()
    displayChanged = Signal()           # mode, opacity, tile, anonymise
    busyChanged = Signal(bool)
    progressChanged = Signal(str, float)
    statusMessage = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.sources: list[Source | None] = [None, None]
        self.options = FusionOptions()          # what the next fusion does
        self.result: Any = None                 # pipeline.FusionResult of the last good run
        self.result_input: tuple = ()           # fusion_input() that result was made from
        self.slice_index = 0
        self.cursor: tuple[float, float] | None = None
        self.roi: tuple[float, float, float, float] | None = None
        self.metrics: dict[str, float] | None = None          # current slice of the result
        self.metrics_slice: int | None = None
        self.metrics_signal = True
        self.volume_metrics: Any = None
        self.mode = MODE_FUSED
        self.opacity = 0.5
        self.tile = 32
        self.anonymise = False
        self.colormap = "hot iron"              # of greyscale PET/SPECT (gui/colormaps.py)
        self.layout = LAYOUT_SIDE
        self.suv = "bw"                         # SUV read-out of PET with the tags for it
        self.mip_angle = 0
        self.roi_shape = "rectangle"
        self.roi_slices: tuple[int, int] | None = None  # a box's slice range (inclusive)
        self.point: tuple[float, float, float] | None = None
        self.probe: tuple[float, float, float] | None = None
        self.ruler: tuple | None = None         # (view key, (x0, y0), (x1, y1), mm)
        self.busy = False
        self._suv_cache: dict = {}
        self._layers: list[Layer] = []
        self._levels: list[tuple[float, float]] = []  # window/level per layer, same order
        self._last_num_slices = 1

    # --- sources -------------------------------------------------------------------------
    def loaded(self) -> list[Source]:
        return [s for s in self.sources if s is not None]

    def set_modality(self, slot: int, modality: str) -> None:
        """The user's modality for a loaded source (a result made before becomes stale)."""
        src = self.sources[slot]
        if src is not None and src.image.modality != modality:
            image = dataclasses.replace(src.image, modality=modality)
            self.set_source(slot, dataclasses.replace(src, image=image))

    def set_source(self, slot: int, source: Source | None) -> None:
        while len(self.sources) <= slot:
            self.sources.append(None)
        self.sources[slot] = source
        while len(self.sources) > 2 and self.sources[-1] is None:
            self.sources.pop()
        self._rebuild_layers()
        self.sourcesChanged.emit()

    def first_empty_slot(self) -> int:
        for i, s in enumerate(self.sources):
            if s is None:
                return i
        return len(self.sources)

    # --- options -------------------------------------------------------------------------
    def set_options(self, **changes: Any) -> None:
        """Replace ``options`` with these fields changed (checked against the pipeline's
        tables); a result made with other options becomes stale."""
        options = dataclasses.replace(self.options, **changes)
        options.validate()
        if options == self.options:
            return
        self.options = options
        self.optionsChanged.emit()

    # --- result --------------------------------------------------------------------------
    def fusion_input(self) -> tuple:
        """What a fusion is made of: each loaded source (path, series, modality), the options."""
        return (tuple((s.path, s.series_uid, s.image.modality) for s in self.loaded()),
                self.options)

    def set_result(self, result: Any, made_from: tuple) -> None:
        """A finished fusion and the ``fusion_input()`` it was started with."""
        self.result, self.result_input = result, made_from
        self.metrics, self.metrics_slice, self.volume_metrics = None, None, None
        self._rebuild_layers()
        self.resultChanged.emit()
        self.metricsChanged.emit()

    def result_fits_sources(self) -> bool:
        """A result exists and was made from the loaded sources with their modalities: the
        views show it and it is measured (after an options change it stays, marked stale)."""
        return self.result is not None and self.result_input[:1] == self.fusion_input()[:1]

    def result_is_current(self) -> bool:
        """A result exists and was made from the loaded sources, modalities and options."""
        return self.result is not None and self.result_input == self.fusion_input()

    def set_metrics(self, metrics: dict[str, float] | None, slice_index: int | None,
                    has_signal: bool = True) -> None:
        self.metrics, self.metrics_slice, self.metrics_signal = metrics, slice_index, has_signal
        self.metricsChanged.emit()

    def set_volume_metrics(self, value: Any) -> None:
        self.volume_metrics = value
        self.metricsChanged.emit()

    # --- what the views show ---------------------------------------------------------------
    def layers(self) -> list[Layer]:
        return self._layers

    def _rebuild_layers(self) -> None:
        loaded = self.loaded()
        if self.result_fits_sources():
            srcs = list(self.result.sources)
            originals = list(getattr(self.result, "originals", None) or [])
            layers = []
            for i, img in enumerate(srcs):
                name = f"{SLOT_NAMES[i]}: {loaded[i].label}" if i < len(loaded) else SLOT_NAMES[i]
                orig = originals[i] if i < len(originals) else None
                shown = orig if orig is not None else img
                src = loaded[i] if i < len(loaded) else None
                kept = src.display_range if src is not None and orig is src.image else None
                layers.append(self._source_layer(name, shown, orig,
                                                 src.image if src is not None else img, kept))
            method = getattr(self.result, "method", "")
            layers.append(Layer(f"Fused ({method})" if method else "Fused",
                                self.result.fused, "fused", "0-255"))
        else:
            layers = [self._source_layer(f"{SLOT_NAMES[i]}: {s.label}", s.image, s.image,
                                         s.image, s.display_range)
                      for i, s in enumerate(loaded)]
        self._levels = [_kept_levels(self._layers, self._levels, i, layer)
                        for i, layer in enumerate(layers)]
        self._layers = layers
        n = self.num_slices()
        if n != self._last_num_slices:  # a new stack opens on its middle slice
            self._last_num_slices = n
            self.slice_index = n // 2
        self.layersChanged.emit()

    def _source_layer(self, name: str, shown: Image, original: Image | None, loaded: Image,
                      display_range=None) -> Layer:
        """A source layer in original units, with SUV read-out for PET when the tags allow."""
        units, scale, note = _units(shown), 1.0, ""
        suv = self.suv_factors(loaded)
        if suv is not None and original is not None and not shown.is_color:
            note = suv.note
            factor = {"bw": suv.bw, "lbm": suv.lbm}.get(self.suv)
            if factor is not None:
                units, scale = f"SUV{self.suv}", float(factor)
            else:
                units = "Bq/ml"
        return Layer(name, shown, "source", units, _range=display_range, original=original,
                     scale=scale, note=note)

    def suv_factors(self, image: Image):
        """The SUV factors of a loaded PET (io/suv.py, read once per series), else None."""
        if image.modality != "PT":
            return None
        key = image.provenance.source_paths
        if key not in self._suv_cache:
            from ..io.suv import image_suv

            self._suv_cache[key] = image_suv(image)
        return self._suv_cache[key]

    def fused_layer(self) -> Layer | None:
        return next((l for l in self._layers if l.role == "fused"), None)

    def source_layers(self) -> list[Layer]:
        return [l for l in self._layers if l.role == "source"]

    # --- window/level ------------------------------------------------------------------------
    def levels(self, layer: Layer) -> tuple[float, float]:
        """The window/level (low, high) a layer is shown with, in its own units."""
        for i, shown in enumerate(self._layers):
            if shown is layer:
                return self._levels[i]
        return layer.default_levels()

    def set_levels(self, layer: Layer, levels: tuple[float, float] | None) -> None:
        """Set a layer's window/level (None: its default)."""
        for i, shown in enumerate(self._layers):
            if shown is layer:
                new = layer.default_levels() if levels is None else \
                    (float(levels[0]), float(levels[1]))
                if new != self._levels[i]:
                    self._levels[i] = new
                    self.levelsChanged.emit()
                return

    def reset_levels(self) -> None:
        self._levels = [layer.default_levels() for layer in self._layers]
        self.levelsChanged.emit()

    def num_slices(self) -> int:
        return max((l.num_slices for l in self._layers), default=1)

    # --- navigation ------------------------------------------------------------------------
    def set_slice(self, index: int) -> None:
        index = int(min(max(index, 0), self.num_slices() - 1))
        if index != self.slice_index:
            self.slice_index = index
            self.sliceChanged.emit(index)

    def step_slice(self, delta: int) -> None:
        self.set_slice(self.slice_index + delta)

    def set_cursor(self, pos: tuple[float, float] | None) -> None:
        self.cursor = pos
        self.cursorChanged.emit(pos)

    def set_point(self, point) -> None:
        """Move the 3-plane crosshair to a patient point (x, y, z) in mm."""
        point = None if point is None else tuple(float(v) for v in point)
        if point != self.point:
            self.point = point
            self.pointChanged.emit(point)

    def set_probe(self, point) -> None:
        self.probe = None if point is None else tuple(float(v) for v in point)
        self.probeChanged.emit(self.probe)

    def set_ruler(self, ruler) -> None:
        self.ruler = ruler
        self.measureChanged.emit()

    def set_roi_shape(self, shape: str, slices: tuple[int, int] | None = None) -> None:
        """The ROI's shape (rectangle, ellipse, box) and a box's slice range (inclusive)."""
        if shape not in ROI_SHAPES:
            raise KeyError(shape)
        if shape == "box" and slices is None:
            k, n = self.slice_index, self.num_slices()
            slices = (max(k - 2, 0), min(k + 2, n - 1))
        self.roi_shape = shape
        self.roi_slices = tuple(int(v) for v in sorted(slices)) if shape == "box" else None
        self.roiChanged.emit(self.roi)

    def region(self):
        """The ROI as an analysis.roi.Region on the current slice (a box: its slices), or None."""
        from ..analysis.roi import Region

        if self.roi is None:
            return None
        k = self.slice_index
        z0, z1 = self.roi_slices if self.roi_shape == "box" and self.roi_slices else (k, k)
        return Region(self.roi_shape, self.roi, z0, z1)

    def set_roi(self, rect: tuple[float, float, float, float] | None) -> None:
        if rect is not None:
            rect = tuple(float(v) for v in rect)
        if rect != self.roi:
            self.roi = rect
            self.roiChanged.emit(rect)

    # --- display options -------------------------------------------------------------------
    def set_display(self, **changes: Any) -> None:
        for key, value in changes.items():
            if key not in DISPLAY_KEYS:
                raise KeyError(key)
            if key == "layout" and value not in LAYOUTS:
                raise KeyError(value)
            setattr(self, key, value)
        if "suv" in changes:
            self._rebuild_layers()
        self.displayChanged.emit()

    def set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busyChanged.emit(busy)


def _kept_levels(old_layers: list[Layer], old_levels: list, i: int, layer: Layer
                 ) -> tuple[float, float]:
    """A re-run keeps the user's window/level where the shown data kept its meaning: the layer
    at the same place has the same role and the same scale."""
    old = old_layers[i] if i < len(old_layers) else None
    if old is not None and old.role == layer.role and (layer.role == "fused"
                                                       or _same_scale(old, layer)):
        return old_levels[i]
    return layer.default_levels()


def _same_scale(old: Layer, new: Layer) -> bool:
    """Two layers whose values mean the same (same source data, same intensity map)."""
    if old.image is new.image:
        return True
    return (old.image.shape == new.image.shape and old.image.modality == new.image.modality
            and old.image.normalization == new.image.normalization
            and old.image.provenance.source_paths == new.image.provenance.source_paths)


def _units(image: Image) -> str:
    """The unit of a source's original values: HU, Bq/ml, counts, MR units ('' for 8-bit
    rasters, whose grey levels have no unit)."""
    if image.normalization is not None and image.normalization.kind != "window":
        return ""
    if image.array.dtype == np.uint8 or image.is_color:
        return ""  # 8-bit pictures (PNG, 8-bit NIfTI): grey levels, whatever the modality
    if image.modality == "CT":
        return "HU"
    return {"PT": "Bq/ml", "NM": "counts", "MR": "MR units"}.get(image.modality, "")
