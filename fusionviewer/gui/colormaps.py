"""Colour maps of greyscale PET/SPECT (hot iron, inferno, rainbow, grey) as (256, 3) lookup
tables in [0, 1], and the fused luminance shown in the functional source's colour. numpy only."""

from __future__ import annotations

import numpy as np

# control points (position 0..1, r, g, b), as in the PET viewers (OsiriX/Slicer "Hot Iron")
_POINTS = {
    "hot iron": [(0.0, 0, 0, 0), (0.25, 0.5, 0, 0), (0.5, 1, 0.25, 0), (0.75, 1, 0.75, 0.25),
                 (1.0, 1, 1, 1)],
    "rainbow": [(0.0, 0, 0, 0), (0.1, 0.3, 0, 0.6), (0.3, 0, 0, 1), (0.5, 0, 1, 0),
                (0.7, 1, 1, 0), (0.9, 1, 0, 0), (1.0, 1, 1, 1)],
    "grey": [(0.0, 0, 0, 0), (1.0, 1, 1, 1)],
}
COLORMAPS = ("hot iron", "inferno", "rainbow", "grey")


def lut(name: str, n: int = 256) -> np.ndarray:
    """(n, 3) float32 lookup table in [0, 1]; KeyError for unknown names."""
    if name == "inferno":
        from .display import colormap_lut

        return colormap_lut("inferno", n)
    pts = np.asarray(_POINTS[name], dtype=np.float64)
    x = np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(x, pts[:, 0], pts[:, c]) for c in (1, 2, 3)], axis=1
                    ).astype(np.float32)


def lut_u8(name: str) -> np.ndarray:
    """(256, 3) uint8 table for pyqtgraph's ImageItem.setLookupTable."""
    return np.round(lut(name) * 255).astype(np.uint8)


def apply_lut(values01: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) colours."""
    idx = np.clip((np.asarray(values01) * (len(table) - 1)).round().astype(np.int32), 0,
                  len(table) - 1)
    return table[idx]


def coloured_fusion(fused01: np.ndarray, functional01: np.ndarray, table: np.ndarray
                    ) -> np.ndarray:
    """The fused luminance with the functional source's colour (its colour-mapped chroma,
    BT.601 YCbCr, as the pipeline recolours colour PET), (H, W, 3) in [0, 1]."""
    from ..normalization import rgb_to_ycbcr, ycbcr_to_rgb

    rgb = apply_lut(functional01, table)
    _y, cb, cr = rgb_to_ycbcr(rgb)
    return np.clip(ycbcr_to_rgb(np.asarray(fused01, np.float32), cb, cr), 0.0, 1.0)
