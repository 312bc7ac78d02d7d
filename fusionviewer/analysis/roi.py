"""ROI statistics on original values (HU, Bq/ml, SUV, counts): rectangle, ellipse, 3-D box.

A region is given in voxel coordinates of the image grid: ``(x, y, w, h)`` in pixels of a slice
(pixel (i, j) covers [i, i+1) x [j, j+1)) and the inclusive slice range ``(z0, z1)``. Volumes are
in ml (spacing in mm). SUVpeak is the mean inside the 1 cm^3 sphere (radius 6.20 mm) centred on
the region's maximum voxel, taken over the whole volume (the sphere may leave the region).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("rectangle", "ellipse", "box")
PEAK_RADIUS_MM = (3.0 / (4.0 * np.pi)) ** (1.0 / 3.0) * 10.0  # 1 ml sphere: 6.2035 mm


@dataclass(frozen=True)
class Region:
    """A rectangle or ellipse on slices z0..z1 (inclusive); ``box`` = a rectangle over slices."""

    shape: str
    rect: tuple[float, float, float, float]   # x, y, w, h in pixels
    z0: int
    z1: int

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"unknown ROI shape {self.shape!r}")


def region_bounds(region: Region, shape_zyx: tuple[int, int, int]) -> tuple[slice, slice, slice]:
    """The (z, y, x) slices of the bounding box of a region, clipped to the array."""
    nz, ny, nx = shape_zyx
    x, y, w, h = region.rect
    x0, y0 = int(np.clip(np.floor(x), 0, nx)), int(np.clip(np.floor(y), 0, ny))
    x1, y1 = int(np.clip(np.ceil(x + w), 0, nx)), int(np.clip(np.ceil(y + h), 0, ny))
    z0, z1 = sorted((int(region.z0), int(region.z1)))
    z0, z1 = int(np.clip(z0, 0, nz)), int(np.clip(z1 + 1, 0, nz))
    return slice(z0, z1), slice(y0, y1), slice(x0, x1)


def region_mask2d(region: Region, bounds: tuple[slice, slice, slice]) -> np.ndarray:
    """In-plane mask of the bounding box: all True, or pixel centres inside the ellipse."""
    _, ys, xs = bounds
    h, w = ys.stop - ys.start, xs.stop - xs.start
    if region.shape != "ellipse":
        return np.ones((h, w), dtype=bool)
    x, y, rw, rh = region.rect
    cx, cy, ax, ay = x + rw / 2.0, y + rh / 2.0, max(rw / 2.0, 1e-9), max(rh / 2.0, 1e-9)
    yy = (np.arange(ys.start, ys.stop) + 0.5 - cy) / ay
    xx = (np.arange(xs.start, xs.stop) + 0.5 - cx) / ax
    return (yy[:, None] ** 2 + xx[None, :] ** 2) <= 1.0


def region_values(volume: np.ndarray, region: Region) -> np.ndarray:
    """The voxel values inside a region of a [z, y, x] volume, float64, flat."""
    bounds = region_bounds(region, volume.shape[:3])
    mask = region_mask2d(region, bounds)
    block = np.asarray(volume[bounds], dtype=np.float64)
    return block[:, mask].ravel()


def region_statistics(volume: np.ndarray, spacing: tuple[float, float, float], region: Region,
                      *, peak: bool = False) -> dict[str, float]:
    """Mean, SD (population), min, max, n (voxels) and volume (ml) of a region of a [z, y, x]
    volume in its own units; ``peak`` adds ``max`` position and ``peak`` (1 ml sphere mean)."""
    vals = region_values(volume, region)
    nan = float("nan")
    voxel_ml = float(np.prod([float(s) for s in spacing])) / 1000.0
    if vals.size == 0:
        out = {"mean": nan, "sd": nan, "min": nan, "max": nan, "n": 0, "volume_ml": 0.0}
        if peak:
            out["peak"] = nan
        return out
    out = {"mean": float(vals.mean()), "sd": float(vals.std()), "min": float(vals.min()),
           "max": float(vals.max()), "n": int(vals.size), "volume_ml": vals.size * voxel_ml}
    if peak:
        out["peak"] = sphere_mean(volume, spacing, max_position(volume, region))
    return out


def max_position(volume: np.ndarray, region: Region) -> tuple[int, int, int]:
    """(z, y, x) of the first maximum voxel inside a region."""
    bounds = region_bounds(region, volume.shape[:3])
    mask = region_mask2d(region, bounds)
    block = np.where(mask[None], np.asarray(volume[bounds], dtype=np.float64), -np.inf)
    k = np.unravel_index(int(np.argmax(block)), block.shape)
    return (bounds[0].start + int(k[0]), bounds[1].start + int(k[1]), bounds[2].start + int(k[2]))


def sphere_mean(volume: np.ndarray, spacing: tuple[float, float, float],
                centre_zyx: tuple[int, int, int], radius_mm: float = PEAK_RADIUS_MM) -> float:
    """Mean of the voxels whose centres lie within radius_mm of a voxel centre (inside the
    volume); spacing is (x, y, z) in mm."""
    sx, sy, sz = (float(s) for s in spacing)
    z, y, x = centre_zyx
    rz, ry, rx = (int(np.floor(radius_mm / s)) for s in (sz, sy, sx))
    zs = np.arange(max(z - rz, 0), min(z + rz + 1, volume.shape[0]))
    ys = np.arange(max(y - ry, 0), min(y + ry + 1, volume.shape[1]))
    xs = np.arange(max(x - rx, 0), min(x + rx + 1, volume.shape[2]))
    d2 = (((zs - z) * sz)[:, None, None] ** 2 + ((ys - y) * sy)[None, :, None] ** 2
          + ((xs - x) * sx)[None, None, :] ** 2)
    block = np.asarray(volume[zs[0]:zs[-1] + 1, ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1],
                       dtype=np.float64)
    return float(block[d2 <= radius_mm ** 2 + 1e-9].mean())
