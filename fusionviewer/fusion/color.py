"""Colour recombination: fused luminance + the chroma (Cb, Cr) of a colour functional source."""

from __future__ import annotations

import numpy as np


def recolor(fused_y: np.ndarray, color_source_rgb01: np.ndarray) -> np.ndarray:
    """RGB float32 in [0, 1] with luminance ``fused_y`` and the Cb/Cr of the colour source.

    ``fused_y`` has the source's shape without the channel axis (``(..., H, W)``), in [0, 1];
    ``color_source_rgb01`` is ``(..., H, W, 3)`` in [0, 1].
    """
    from ..normalization import rgb_to_ycbcr, ycbcr_to_rgb

    rgb = np.asarray(color_source_rgb01, dtype=np.float32)
    y = np.asarray(fused_y, dtype=np.float32)
    if rgb.shape[-1] != 3 or rgb.shape[:-1] != y.shape:
        raise ValueError(f"colour source of shape {rgb.shape} does not match luminance {y.shape}")
    _, cb, cr = rgb_to_ycbcr(rgb)
    out = np.asarray(ycbcr_to_rgb(y, cb, cr), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)
