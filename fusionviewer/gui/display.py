"""Display mapping for the views: default levels, value read-out, overlay and checkerboard.

Plain numpy on one slice; no Qt. Levels are ``(low, high)`` in the array's own units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..image import Image



@dataclass
class Layer:
    """One image shown in one view: a loaded source, a registered source or the fused image.

    ``image`` is what the view draws (a source in its original units, or the fused [0, 1]
    image); ``original`` the same source in its original units on the same grid, read by
    values and measurements; ``scale`` turns original values into read-out units (the SUV
    factor of a PET with SUV, else 1).
    """

    name: str
    image: Image
    role: str = "source"          # "source" or "fused"
    units: str = ""               # unit of read-out values, e.g. "HU", "SUVbw", "Bq/ml"
    _range: tuple[float, float] | None = field(default=None, repr=False)
    _values: tuple[int, np.ndarray] | None = field(default=None, repr=False)
    original: Image | None = None
    scale: float = 1.0
    note: str = ""                # e.g. why a PET has no SUV
    _gray: np.ndarray | None = field(default=None, repr=False)

    @property
    def num_slices(self) -> int:
        return self.image.num_slices

    @property
    def is_functional(self) -> bool:
        """A greyscale PET or SPECT: shown with a colour map and a colour bar."""
        return self.role == "source" and self.image.modality in ("PT", "NM") \
            and not self.image.is_color

    def slice_index(self, k: int) -> int:
        return int(min(max(k, 0), self.num_slices - 1))

    def display(self, k: int) -> np.ndarray:
        """The slice as shown: ``(H, W)`` gray or ``(H, W, 3)`` colour, in the array's units."""
        return self.image.array[self.slice_index(k)]

    def measured_volume(self) -> np.ndarray:
        """The [z, y, x] gray volume in original units (before ``scale``) that ROI statistics
        read: the original (luminance of colour), or the fused image x 255 (cached)."""
        if self._gray is None:
            img = self.original if self.original is not None else self.image
            if not img.is_color and self.role != "fused" and (
                    self.original is not None or img.normalization is None
                    or img.normalization.kind == "identity"):
                self._gray = img.array  # no copy: the original voxels
            else:
                self._gray = np.stack([self._gray_slice(k) for k in range(self.num_slices)])
        return self._gray

    def _gray_slice(self, k: int) -> np.ndarray:
        """One slice of ``measured_volume`` (computed alone: no whole-volume copy)."""
        img = self.original if self.original is not None else self.image
        if self._gray is not None:
            return self._gray[k]
        arr = img.array[k]
        if img.is_color:
            arr = arr.astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
        if self.role == "fused":
            return np.asarray(arr, dtype=np.float32) * np.float32(255.0)
        if self.original is None and img.normalization is not None \
                and img.normalization.kind != "identity":
            return img.normalization.invert(np.asarray(arr, dtype=np.float32))
        return arr

    def values(self, k: int) -> np.ndarray:
        """Gray values of the slice in read-out units (original units x scale), cached."""
        k = self.slice_index(k)
        if self._values is not None and self._values[0] == k:
            return self._values[1]
        arr = np.asarray(self._gray_slice(k), dtype=np.float32)
        if self.scale != 1.0:
            arr = arr * np.float32(self.scale)
        self._values = (k, arr)
        return arr

    def value_at(self, k: int, x: float, y: float) -> float | None:
        """The read-out value at pixel (x, y) of slice k, None outside the image."""
        vals = self.values(k)
        ix, iy = int(np.floor(x)), int(np.floor(y))
        if 0 <= iy < vals.shape[0] and 0 <= ix < vals.shape[1]:
            return float(vals[iy, ix])
        return None

    def default_levels(self) -> tuple[float, float]:
        """Header window if any, [0, 1] for normalized data, 0..255 for 8-bit, else percentiles."""
        img = self.image
        if img.window is not None:
            c, w = img.window
            return (c - w / 2.0, c + w / 2.0)
        if self.is_functional and img.normalization is None:
            return uptake_levels(img.array)
        if img.normalization is not None or self.role == "fused":
            return (0.0, 1.0)
        if img.array.dtype == np.uint8:
            return (0.0, 255.0)
        return self.data_range()

    def data_range(self) -> tuple[float, float]:
        """Robust (0.5, 99.5) percentile range of the whole image, cached."""
        if self._range is None:
            self._range = robust_range(self.image.array)
        return self._range

    def preset_levels(self, center: float, width: float) -> tuple[float, float]:
        """A raw-unit window (e.g. a CT preset in HU) expressed in the displayed array's units."""
        lo, hi = center - width / 2.0, center + width / 2.0
        norm = self.image.normalization
        if norm is not None and norm.high > norm.low:
            scale = norm.high - norm.low
            return ((lo - norm.low) / scale, (hi - norm.low) / scale)
        return (lo, hi)


def uptake_levels(array: np.ndarray) -> tuple[float, float]:
    """0 to the maximum: a functional window that never saturates focal uptake."""
    hi = float(np.max(array)) if np.size(array) else 1.0
    return (0.0, hi if hi > 0 else 1.0)


def robust_range(array: np.ndarray) -> tuple[float, float]:
    """(0.5, 99.5) percentiles of up to 2 million evenly strided values; never empty."""
    arr = np.asarray(array).ravel()
    step = max(1, arr.size // 2_000_000)
    sample = arr[::step].astype(np.float32)
    lo, hi = np.percentile(sample, [0.5, 99.5])
    if hi <= lo:
        lo, hi = float(sample.min()), float(sample.max())
        if hi <= lo:
            hi = lo + 1.0
    return (float(lo), float(hi))


def apply_levels(arr: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """Map values to float32 [0, 1] with a (low, high) window; colour keeps its 3 channels."""
    lo, hi = levels
    scale = (hi - lo) if hi > lo else 1.0
    return np.clip((np.asarray(arr, dtype=np.float32) - np.float32(lo)) / np.float32(scale), 0, 1)


def to_rgb(gray_or_rgb01: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) in [0, 1] -> (H, W, 3)."""
    a = np.asarray(gray_or_rgb01, dtype=np.float32)
    return a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2)


def colormap_lut(name: str = "inferno", n: int = 256) -> np.ndarray:
    """A (n, 3) float32 lookup table in [0, 1] from pyqtgraph's bundled colormaps."""
    import pyqtgraph as pg

    cmap = pg.colormap.get(name)
    return np.asarray(cmap.getLookupTable(0.0, 1.0, n, alpha=False), dtype=np.float32) / 255.0


def overlay(base01: np.ndarray, functional01: np.ndarray, opacity: float,
            lut: np.ndarray | None = None) -> np.ndarray:
    """Alpha blend: base gray/colour under the functional slice (colormapped if gray), (H, W, 3)."""
    base = to_rgb(base01 if base01.ndim == 2 else base01 @ np.float32([0.299, 0.587, 0.114]))
    if functional01.ndim == 2:
        lut = colormap_lut() if lut is None else lut
        idx = np.clip((functional01 * (len(lut) - 1)).astype(np.int32), 0, len(lut) - 1)
        top = lut[idx]
    else:
        top = functional01.astype(np.float32)
    a = np.float32(min(max(opacity, 0.0), 1.0))
    return np.clip((1 - a) * base + a * top, 0, 1)


def checkerboard(a01: np.ndarray, b01: np.ndarray, tile: int = 32) -> np.ndarray:
    """Tiles alternating between two slices of one shape, (H, W) or (H, W, 3) in [0, 1]."""
    if a01.ndim != b01.ndim:
        a01, b01 = to_rgb(a01), to_rgb(b01)
    h, w = a01.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((yy // max(tile, 1)) + (xx // max(tile, 1))) % 2 == 0
    if a01.ndim == 3:
        mask = mask[..., None]
    return np.where(mask, a01, b01).astype(np.float32)


def roi_stats(values: np.ndarray, rect: tuple[float, float, float, float]) -> dict[str, float]:
    """Mean, SD, min, max of a 2-D array inside rect (x, y, w, h) in pixels; NaN when empty."""
    crop = crop_rect(values, rect)
    if crop.size == 0:
        nan = float("nan")
        return {"mean": nan, "sd": nan, "min": nan, "max": nan, "n": 0}
    crop = crop.astype(np.float64)
    return {"mean": float(crop.mean()), "sd": float(crop.std()), "min": float(crop.min()),
            "max": float(crop.max()), "n": int(crop.size)}


def crop_rect(arr: np.ndarray, rect: tuple[float, float, float, float]) -> np.ndarray:
    """The part of arr[y, x(, c)] inside rect (x, y, w, h), clipped to the array."""
    x, y, w, h = rect
    h_img, w_img = arr.shape[:2]
    x0, y0 = int(np.clip(np.floor(x), 0, w_img)), int(np.clip(np.floor(y), 0, h_img))
    x1, y1 = int(np.clip(np.ceil(x + w), 0, w_img)), int(np.clip(np.ceil(y + h), 0, h_img))
    return arr[y0:y1, x0:x1]
