"""Shared window machinery: exact box sums, zero-padded Sobel responses, valid Gaussian filtering."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _window_sum_1d(x: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Sums of k consecutive samples along axis ('valid', length n - k + 1).

    Built from power-of-two partial sums (x[i] + x[i+1], then pairs of pairs...), so for
    k = 2^p a constant run of value c sums to exactly k*c for any float c, and integer data
    sums exactly; this is what makes the 0/0 rules of Q0/QW/QE reliable (metrics.md section 7).
    """
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    length = n - k + 1
    total = None
    offset = 0
    width = 1
    part = x
    while True:
        if k & width:
            piece = part[..., offset:offset + length]
            total = piece.copy() if total is None else total + piece
            offset += width
        if width * 2 > k:
            break
        part = part[..., :-width] + part[..., width:]
        width *= 2
    return np.moveaxis(total, -1, axis)


def box_sums(x: np.ndarray, k: int) -> np.ndarray:
    """Sums over every k x k window fully inside the last two axes (shape shrinks by k - 1)."""
    return _window_sum_1d(_window_sum_1d(x, k, -1), k, -2)


def sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel (gx, gy) over the last two axes with zero padding: gx right-left, gy up-down."""
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)]
    p = np.pad(x, pad)
    vert = p[..., :-2, :] + 2.0 * p[..., 1:-1, :] + p[..., 2:, :]  # [1, 2, 1] down the rows
    gx = vert[..., :, 2:] - vert[..., :, :-2]
    horiz = p[..., :, :-2] + 2.0 * p[..., :, 1:-1] + p[..., :, 2:]  # [1, 2, 1] along the row
    gy = horiz[..., :-2, :] - horiz[..., 2:, :]
    return gx, gy


def gaussian_window_1d(n: int) -> np.ndarray:
    """Normalised 1-D Gaussian of n taps and sd n / 5 (the VIF window of metrics.md 4.4)."""
    u = np.arange(n) - (n - 1) / 2.0
    w = np.exp(-(u * u) / (2.0 * (n / 5.0) ** 2))
    return w / w.sum()


def filter_valid(x: np.ndarray, w1d: np.ndarray) -> np.ndarray:
    """Separable correlation of the last two axes with outer(w1d, w1d), 'valid' output only."""
    h = (len(w1d) - 1) // 2
    y = ndimage.correlate1d(x, w1d, axis=-1, mode="constant")[..., :, h:x.shape[-1] - h]
    return ndimage.correlate1d(y, w1d, axis=-2, mode="constant")[..., h:x.shape[-2] - h, :]
