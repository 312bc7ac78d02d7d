"""Intensity normalization to the fusion range [0, 1], recorded so export can map back.

Modes of :func:`normalize`:

- ``"window"``: a CT-style window ``(center, width)``: ``low = center - width / 2``,
  ``high = center + width / 2``. The window is, in order: the ``window`` argument, the named
  ``preset`` (see ``CT_PRESETS``), the image's header window (DICOM WindowCenter/Width), the
  brain preset.
- ``"percentile"``: robust ``low, high`` = the ``percentiles`` (default 0.5 and 99.5) of the
  luminance; if they coincide, the minimum and maximum; a constant image gives all zeros.
- ``"fixed"``: 8-bit data, ``0..255 -> [0, 1]``.
- ``"functional"``: PET/SPECT activity (Bq/ml, counts): ``0..max`` of the volume, so focal
  uptake keeps its internal contrast (whole-volume 0.5-99.5 percentiles put the 99.5th
  percentile of a real SPECT at 101 counts against a maximum of 8,526: 64 % of the uptake voxels
  saturated). Negative values (reconstruction noise) clip to 0; a volume without positive values
  falls back to ``"percentile"``.

Exact ``"auto"`` rules, first match wins:

1. an image that already carries a ``Normalization`` is returned unchanged;
2. a ``window`` or ``preset`` argument -> ``"window"`` with it;
3. 8-bit integer rasters (dtype ``uint8``, gray or colour, any modality) -> ``"fixed"``
   0..255: they are already display-mapped, so PNG in gives PNG out exactly (the Harvard
   PET/SPECT RGB PNGs stay here, untouched by rule 6);
4. CT with a header window -> that window;
5. CT without one -> the brain preset (W/L 80/40) if the values look like HU (minimum < -500),
   else ``"percentile"``;
6. PT and NM (not 8-bit) -> ``"functional"`` 0..max;
7. MR, OT and anything else -> ``"percentile"``.

Colour images keep their three channels: every channel gets the same linear map (so hues are
kept; ``image.luminance()`` of the result is the normalized luminance); percentiles are taken
on the luminance. The result is float32 in [0, 1], its ``window`` is cleared (the header window
is in raw units and lives on in ``normalization``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InputError
from .image import Image, Normalization

# (center, width) in HU.
CT_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "soft tissue": (40.0, 400.0),
    "bone": (400.0, 1800.0),
}
MODES = ("auto", "window", "percentile", "fixed", "functional")
FUNCTIONAL_MODALITIES = ("PT", "NM")  # activity images normalized 0..max (rule 6 of "auto")
HU_AIR_THRESHOLD = -500.0  # a CT whose minimum is below this is taken to be in HU

# BT.601 full range (JPEG/JFIF) constants.
_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB
_CB_SCALE = 2.0 * (1.0 - _KB)  # 1.772
_CR_SCALE = 2.0 * (1.0 - _KR)  # 1.402


def normalize(image: Image, *, mode: str = "auto", window: tuple[float, float] | None = None,
              preset: str | None = None,
              percentiles: tuple[float, float] = (0.5, 99.5)) -> Image:
    """Map an image's values to float32 in [0, 1] and record the map (see module docstring)."""
    if mode not in MODES:
        raise InputError(f"unknown normalization mode '{mode}' (expected one of "
                         f"{', '.join(MODES)})")
    image.check_finite()
    if mode == "auto" and image.normalization is not None:
        return image
    norm = choose_normalization(image, mode=mode, window=window, preset=preset,
                                percentiles=percentiles)
    return dataclasses.replace(image, array=norm.apply(image.array), window=None,
                               normalization=norm)


def choose_normalization(image: Image, *, mode: str = "auto",
                         window: tuple[float, float] | None = None, preset: str | None = None,
                         percentiles: tuple[float, float] = (0.5, 99.5)) -> Normalization:
    """The Normalization that ``normalize`` would apply to this image (no voxels changed)."""
    if mode == "auto":
        mode = _auto_mode(image, window, preset)
    if mode == "window":
        return window_normalization(image, window=window, preset=preset)
    if mode == "fixed":
        return Normalization("fixed", 0.0, 255.0, "8-bit 0..255")
    if mode == "percentile":
        return percentile_normalization(image, percentiles)
    if mode == "functional":
        return functional_normalization(image, percentiles)
    raise InputError(f"unknown normalization mode '{mode}' (expected one of {', '.join(MODES)})")


def _auto_mode(image: Image, window, preset) -> str:
    if window is not None or preset is not None:
        return "window"
    if image.array.dtype == np.uint8:
        return "fixed"
    if image.modality == "CT":
        if image.window is not None:
            return "window"
        if float(np.min(image.array)) < HU_AIR_THRESHOLD:
            return "window"  # falls through to the brain preset
    if image.modality in FUNCTIONAL_MODALITIES:
        return "functional"
    return "percentile"


def window_normalization(image: Image | None = None, *, window: tuple[float, float] | None = None,
                         preset: str | None = None) -> Normalization:
    """A window map from (center, width), a preset name, the header window or the brain preset."""
    if window is not None:
        center, width = _check_window(window)
        note = f"window {width:g}/{center:g}"
    elif preset is not None:
        key = preset.strip().lower().replace("_", " ").replace("-", " ")
        if key not in CT_PRESETS:
            raise InputError(f"unknown window preset '{preset}' (expected one of "
                             f"{', '.join(CT_PRESETS)})")
        center, width = CT_PRESETS[key]
        note = f"CT {key} window {width:g}/{center:g}"
    elif image is not None and image.window is not None:
        center, width = _check_window(image.window)
        note = f"header window {width:g}/{center:g}"
    else:
        center, width = CT_PRESETS["brain"]
        note = f"CT brain window {width:g}/{center:g}"
    return Normalization("window", center - width / 2.0, center + width / 2.0, note)


def _check_window(window) -> tuple[float, float]:
    try:
        center, width = (float(v) for v in window)
    except (TypeError, ValueError):
        raise InputError(f"window must be two numbers (center, width), got {window!r}") from None
    if not (np.isfinite(center) and np.isfinite(width)) or width <= 0:
        raise InputError(f"window width must be a positive number, got center {center:g}, "
                         f"width {width:g}")
    return center, width


def percentile_normalization(image: Image, percentiles: tuple[float, float] = (0.5, 99.5)
                             ) -> Normalization:
    """Robust low/high from luminance percentiles (min/max if they coincide)."""
    p_lo, p_hi = (float(p) for p in percentiles)
    if not 0.0 <= p_lo < p_hi <= 100.0:
        raise InputError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles!r}")
    values = image.luminance() if image.is_color else image.array
    low, high = (float(v) for v in np.percentile(values, [p_lo, p_hi]))
    if high <= low:
        low, high = float(np.min(values)), float(np.max(values))
    return Normalization("percentile", low, high,
                         f"{image.modality} percentiles {p_lo:g}-{p_hi:g}")


def functional_normalization(image: Image, percentiles: tuple[float, float] = (0.5, 99.5)
                             ) -> Normalization:
    """Activity 0..max (counts, Bq/ml): no hot spot saturates; percentiles if nothing is > 0."""
    values = image.luminance() if image.is_color else image.array
    high = float(np.max(values))
    if high <= 0:
        return percentile_normalization(image, percentiles)
    return Normalization("functional", 0.0, high, f"{image.modality} activity 0..max ({high:g})")


def rgb_to_ycbcr(rgb01: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 full-range Y, Cb, Cr (float32, [0, 1]) of RGB floats in [0, 1] (last axis = 3)."""
    rgb = np.asarray(rgb01, dtype=np.float64)
    if rgb.shape[-1] != 3:
        raise InputError(f"expected RGB data with 3 channels in the last axis, got {rgb.shape}")
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = _KR * r + _KG * g + _KB * b
    cb = 0.5 + (b - y) / _CB_SCALE
    cr = 0.5 + (r - y) / _CR_SCALE
    return y.astype(np.float32), cb.astype(np.float32), cr.astype(np.float32)


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """RGB float32 in [0, 1] (last axis = 3) from BT.601 full-range Y, Cb, Cr in [0, 1]."""
    y = np.asarray(y, dtype=np.float64)
    cb = np.asarray(cb, dtype=np.float64) - 0.5
    cr = np.asarray(cr, dtype=np.float64) - 0.5
    r = y + _CR_SCALE * cr
    b = y + _CB_SCALE * cb
    g = (y - _KR * r - _KB * b) / _KG
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0).astype(np.float32)
