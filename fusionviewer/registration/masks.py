"""Anatomy masks and registration-ready intensities: padding and air are not anatomy.

``prepare_intensities`` replaces padding (the minimum, within 0.2 % of the value range, filling
more than 1 % of the voxels: -2048 / -1024 outside a CT field of view) and anything darker than
the background level (the most common value of the darker half: air, MR noise) by that level,
and clips at the 99.8th percentile, so the metric's histogram spends its bins on tissue. ``anatomy_threshold`` is halfway
between that background level and Otsu's threshold of the non-padding values: air and
background noise fall below it, dark tissue (fat in CT, bone in MR) above it.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

_MAX_SAMPLE = 2_000_000  # voxels used for the statistics (a regular subsample)


def _sample(arr: np.ndarray) -> np.ndarray:
    flat = arr.ravel()
    return flat[:: max(1, flat.size // _MAX_SAMPLE)]


def _padding_value(sample: np.ndarray) -> float | None:
    """Upper end of the padding: the image minimum (within 0.2 % of the value range, for
    smoothed data) when it fills more than 1 % of the voxels (outside the field of view)."""
    low, high = float(sample.min()), float(sample.max())
    cut = low + 0.002 * (high - low)
    return cut if float(np.mean(sample <= cut)) > 0.01 else None


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(float)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def intensity_range(arr: np.ndarray) -> tuple[float, float, float]:
    """(background level, anatomy threshold, robust maximum) in the image's units."""
    sample = _sample(arr)
    pad = _padding_value(sample)
    values = sample[sample > pad] if pad is not None else sample
    if values.size < 16:
        values = sample
    # The background is the most common value of the darker half (air in CT, noise in MR),
    # not a low percentile: smoothing spreads the padding edge over many darker values.
    low_half = values[values <= np.median(values)]
    hist, edges = np.histogram(low_half, bins=128)
    k = int(np.argmax(hist))
    background = float((edges[k] + edges[k + 1]) / 2)
    top = float(np.percentile(values, 99.8))
    if top <= background:
        top = float(values.max())
    threshold = background + 0.5 * (_otsu(values[(values >= background) & (values <= top)])
                                    - background)
    return background, threshold, top


def prepare_intensities(arr: np.ndarray) -> tuple[np.ndarray, float]:
    """float32 copy clipped to [background, robust max] (padding becomes background) and the
    anatomy threshold in the same units."""
    background, threshold, top = intensity_range(arr)
    out = np.clip(arr.astype(np.float32, copy=True), background, top)
    return out, threshold


def anatomy_mask(level: sitk.Image, threshold: float, dilate: int = 1) -> sitk.Image:
    """uint8 mask of the voxels above ``threshold`` (anatomy), dilated by ``dilate`` voxels."""
    mask = sitk.BinaryThreshold(level, lowerThreshold=float(threshold), upperThreshold=3.0e38,
                                insideValue=1, outsideValue=0)
    if dilate:
        mask = sitk.BinaryDilate(mask, [int(dilate)] * level.GetDimension())
    return mask


def mask_points(mask: sitk.Image, max_points: int = 3000) -> np.ndarray:
    """Physical positions (n, dim) of up to ``max_points`` mask voxels (a regular subsample)."""
    arr = sitk.GetArrayViewFromImage(mask)
    idx = np.argwhere(arr > 0)[:, ::-1].astype(float)  # (x, y[, z]) indices
    if len(idx) == 0:
        return np.zeros((0, mask.GetDimension()))
    idx = idx[:: max(1, len(idx) // max_points)]
    return index_to_physical(mask, idx)


def index_to_physical(image: sitk.Image, idx: np.ndarray) -> np.ndarray:
    """Continuous indices (n, dim) -> physical points (n, dim) of ``image``'s grid."""
    dim = image.GetDimension()
    direction = np.reshape(image.GetDirection(), (dim, dim))
    return (idx * np.asarray(image.GetSpacing())) @ direction.T + np.asarray(image.GetOrigin())


def physical_to_index(image: sitk.Image, pts: np.ndarray) -> np.ndarray:
    """Physical points (n, dim) -> continuous indices (n, dim) of ``image``'s grid."""
    dim = image.GetDimension()
    direction = np.reshape(image.GetDirection(), (dim, dim))
    return ((pts - np.asarray(image.GetOrigin())) @ direction) / np.asarray(image.GetSpacing())


def inside_fraction(pts: np.ndarray, image: sitk.Image) -> float:
    """Fraction of physical points inside ``image``'s field of view (voxel edges included)."""
    if len(pts) == 0:
        return 0.0
    idx = physical_to_index(image, pts)
    size = np.asarray(image.GetSize())
    inside = np.all((idx >= -0.5) & (idx <= size - 0.5), axis=1)
    return float(inside.mean())
