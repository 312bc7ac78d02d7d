"""Classical fusion methods: pixel average, Laplacian pyramid and guided-filtering fusion (GFF).

Every method takes N >= 2 gray float arrays of one shape, 2-D ``(H, W)`` or 3-D ``(Z, H, W)``
(fused slice by slice), with values in [0, 1], and returns the fused float32 array of the same
shape in [0, 1]. All N inputs are fused at once (no pairwise cascade). Borders are handled by
mirror reflection (``scipy.ndimage`` mode ``"mirror"``, OpenCV's ``BORDER_REFLECT_101``).

Ties (two or more sources equally salient or with equally large detail coefficients) are shared
equally among the tied sources, so the result does not depend on the order of the inputs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

from ..progress import ProgressCallback, check_cancel, report

# Saliency gap under which two sources tie (absolute, relative above 1; round-off is ~1e-16).
TIE_TOLERANCE = 1e-9


def _stack(images) -> np.ndarray:
    """Validate the inputs and stack them into float32 ``(N, Z, H, W)``."""
    arrays = [np.asarray(a) for a in images]
    if len(arrays) < 2:
        raise ValueError(f"fusion needs at least two images, got {len(arrays)}")
    shape = arrays[0].shape
    if len(shape) not in (2, 3):
        raise ValueError(f"fusion inputs must be 2-D (H, W) or 3-D (Z, H, W), got shape {shape}")
    for a in arrays[1:]:
        if a.shape != shape:
            raise ValueError(f"fusion inputs differ in shape: {shape} and {a.shape}")
    stack = np.stack([a.astype(np.float32, copy=False) for a in arrays])
    if stack.ndim == 3:
        stack = stack[:, np.newaxis]
    return stack


def _slicewise(images, fuse_slice: Callable[[np.ndarray], np.ndarray], stage: str,
               progress: ProgressCallback | None, cancel) -> np.ndarray:
    """Apply ``fuse_slice((N, H, W) float64) -> (H, W)`` to every slice, with progress/cancel."""
    stack = _stack(images)
    two_d = np.asarray(images[0]).ndim == 2
    n_slices = stack.shape[1]
    out = np.empty(stack.shape[1:], dtype=np.float32)
    report(progress, stage, 0.0)
    for z in range(n_slices):
        check_cancel(cancel)
        fused = fuse_slice(stack[:, z].astype(np.float64))
        out[z] = np.clip(fused, 0.0, 1.0)
        report(progress, stage, (z + 1) / n_slices)
    return out[0] if two_d else out


def _shared_max(values: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Per-pixel weights (N, H, W): 1/k for each of the k sources at the maximum (within tol)."""
    vmax = values.max(axis=0, keepdims=True)
    winners = values >= vmax - tol * np.maximum(np.abs(vmax), 1.0)
    return winners / winners.sum(axis=0, keepdims=True)


# --- average ------------------------------------------------------------------------------------

def fuse_average(images, *, progress: ProgressCallback | None = None, cancel=None) -> np.ndarray:
    """Pixel-wise mean of N images in [0, 1] (float32, same shape)."""
    return _slicewise(images, lambda s: s.mean(axis=0), "fusing", progress, cancel)


# --- Laplacian pyramid --------------------------------------------------------------------------

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(stack: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Separable 5-tap filter over the last two axes of ``stack``."""
    out = ndimage.convolve1d(stack, weights, axis=-1, mode="mirror")
    return ndimage.convolve1d(out, weights, axis=-2, mode="mirror")


def _pyr_down(stack: np.ndarray) -> np.ndarray:
    return _blur(stack, _BINOMIAL)[..., ::2, ::2]


def _pyr_up(stack: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    up = np.zeros(stack.shape[:-2] + shape, dtype=stack.dtype)
    up[..., ::2, ::2] = stack
    return _blur(up, 2.0 * _BINOMIAL)


def _max_levels(shape: tuple[int, int]) -> int:
    """How many times an image can be halved before a side would drop below 2 pixels."""
    return max(0, int(np.floor(np.log2(max(1, min(shape))))) - 1)


def laplacian_pyramid(stack: np.ndarray, levels: int) -> list[np.ndarray]:
    """Detail bands (finest first) and the low-pass residual last, for ``(..., H, W)`` arrays."""
    bands = []
    current = stack
    for _ in range(min(levels, _max_levels(stack.shape[-2:]))):
        down = _pyr_down(current)
        bands.append(current - _pyr_up(down, current.shape[-2:]))
        current = down
    bands.append(current)
    return bands


def reconstruct_pyramid(bands: list[np.ndarray]) -> np.ndarray:
    """Inverse of :func:`laplacian_pyramid`."""
    current = bands[-1]
    for detail in reversed(bands[:-1]):
        current = detail + _pyr_up(current, detail.shape[-2:])
    return current


def fuse_laplacian(images, levels: int = 4, *, progress: ProgressCallback | None = None,
                   cancel=None) -> np.ndarray:
    """Laplacian-pyramid fusion: average low-pass residual, max-absolute detail (float32 [0, 1]).

    ``levels`` is the number of detail bands (4: the residual is 1/16 of the image side).
    """
    if levels < 0:
        raise ValueError("levels must be >= 0")

    def fuse_slice(s: np.ndarray) -> np.ndarray:
        bands = laplacian_pyramid(s, levels)
        fused = [(_shared_max(np.abs(b)) * b).sum(axis=0) for b in bands[:-1]]
        fused.append(bands[-1].mean(axis=0))
        return reconstruct_pyramid(fused)

    return _slicewise(images, fuse_slice, "fusing", progress, cancel)


# --- guided filtering fusion (Li, Kang & Hu, IEEE TIP 2013) -------------------------------------

_LAPLACIAN_3X3 = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def _box(stack: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1) x (2r+1) window on the last two axes (running sums, O(1) per pixel)."""
    size = (1,) * (stack.ndim - 2) + (2 * radius + 1, 2 * radius + 1)
    return ndimage.uniform_filter(stack, size=size, mode="mirror")


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter of ``src`` by a gray ``guide`` (same shape, stacked on axis 0)."""
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, radius) * guide + _box(b, radius)


def gff_weights(stack: np.ndarray, *, saliency_radius: int = 5, saliency_sigma: float = 5.0,
                r1: int = 45, eps1: float = 0.3, r2: int = 7, eps2: float = 1e-6,
                ) -> tuple[np.ndarray, np.ndarray]:
    """Base and detail weight maps (N, H, W), each summing to 1 per pixel, for one slice stack."""
    high = np.abs(ndimage.convolve(stack, _LAPLACIAN_3X3[np.newaxis], mode="mirror"))
    saliency = ndimage.gaussian_filter(high, sigma=(0, saliency_sigma, saliency_sigma),
                                       truncate=saliency_radius / saliency_sigma, mode="mirror")
    choice = _shared_max(saliency, TIE_TOLERANCE)
    w_base = guided_filter(stack, choice, r1, eps1)
    w_detail = guided_filter(stack, choice, r2, eps2)
    return _normalize_weights(w_base), _normalize_weights(w_detail)


def _normalize_weights(w: np.ndarray) -> np.ndarray:
    """Clip negative guided-filter overshoot and make the N weights sum to 1 per pixel."""
    w = np.clip(w, 0.0, None)
    total = w.sum(axis=0, keepdims=True)
    n = w.shape[0]
    return np.where(total > 1e-12, w / np.maximum(total, 1e-12), 1.0 / n)


def fuse_gff(images, *, mean_radius: int = 15, saliency_radius: int = 5,
             saliency_sigma: float = 5.0, r1: int = 45, eps1: float = 0.3, r2: int = 7,
             eps2: float = 1e-6, progress: ProgressCallback | None = None,
             cancel=None) -> np.ndarray:
    """Guided-filtering fusion with the paper's defaults (float32 [0, 1], same shape).

    Base/detail split by a (2*mean_radius+1)^2 mean filter (31x31); saliency is a
    (2*saliency_radius+1)^2 Gaussian (11x11, sigma 5) of the absolute 3x3 Laplacian; the
    binary "most salient" maps are refined by guided filters (r1, eps1) = (45, 0.3) for the base
    and (r2, eps2) = (7, 1e-6) for the detail layer, guided by each source (intensities in
    [0, 1]). Saliency ties (e.g. flat background, where every saliency is exactly 0) give each
    tied source an equal share instead of favouring one input.
    """

    def fuse_slice(s: np.ndarray) -> np.ndarray:
        base = _box(s, mean_radius)
        detail = s - base
        w_base, w_detail = gff_weights(s, saliency_radius=saliency_radius,
                                       saliency_sigma=saliency_sigma,
                                       r1=r1, eps1=eps1, r2=r2, eps2=eps2)
        return (w_base * base).sum(axis=0) + (w_detail * detail).sum(axis=0)

    return _slicewise(images, fuse_slice, "fusing", progress, cancel)
