"""Map loaded images of any scale onto the 0..255 integer grid the metrics are defined on.

Rules, first match wins (documented in README "Metrics"):
1. the image carries a Normalization (it was normalized by the app): normalized x 255;
2. integer data with every value in 0..255 (8-bit PNG/DICOM/NIfTI): used as is;
3. a display window (DICOM WindowCenter/Width): the window mapped linearly onto 0..255, clipped;
4. floating-point data within [0, 1] (network outputs, normalized images): x 255;
5. anything else (12/16-bit data without a window, other floats): linear min..max -> 0..255
   of that image (a constant image maps to 0).
The result is rounded half-to-even (the 8-bit image a user sees). Colour images keep their
three channels (the metrics convert them to grey).
"""

from __future__ import annotations

import numpy as np

from ..image import Image


def to_metric_scale(image: Image) -> tuple[np.ndarray, str]:
    """(float64 array on the 0..255 grid, name of the rule used) for one loaded image."""
    a = image.array
    if image.normalization is not None:
        return np.rint(image.normalization.apply(a).astype(np.float64) * 255.0), "normalization"
    lo, hi = float(np.min(a)), float(np.max(a))
    if np.issubdtype(a.dtype, np.integer) and lo >= 0 and hi <= 255:
        return a.astype(np.float64), "8-bit as is"
    if image.window is not None and image.window[1] > 0:
        center, width = image.window
        x = (a.astype(np.float64) - (center - width / 2.0)) / width
        return np.rint(np.clip(x, 0.0, 1.0) * 255.0), f"window {center:g}/{width:g}"
    if np.issubdtype(a.dtype, np.floating) and lo >= 0 and hi <= 1:
        return np.rint(a.astype(np.float64) * 255.0), "[0, 1] x 255"
    if hi > lo:
        return np.rint((a.astype(np.float64) - lo) / (hi - lo) * 255.0), f"min..max {lo:g}..{hi:g}"
    return np.zeros(a.shape), "constant -> 0"
