"""Shared window machinery: exact box sums, zero-padded Sobel, valid Gaussian filtering."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _cut(axis: int, start: int, stop: int | None) -> tuple:
    """Index selecting start:stop along axis -1 or -2."""
    if axis == -1:
        return (Ellipsis, slice(start, stop))
    return (Ellipsis, slice(start, stop), slice(None))


def _window_sums_1d(x: np.ndarray, ks: tuple[int, ...], axis: int) -> list[np.ndarray]:
    """Sums of k consecutive samples along axis -1 or -2 ('valid', length n - k + 1), per k.

    Built from power-of-two partial sums (x[i] + x[i+1], then pairs of pairs...) shared by all
    k. For k = 2^p a constant run of value c sums to exactly k*c for any float c, and integer
    data sums exactly: this keeps the 0/0 rules of Q0/QW/QE reliable (metrics.md section 7).
    """
    n = x.shape[axis]
    parts = {1: x}
    w = 1
    while 2 * w <= max(ks):
        p = parts[w]
        parts[2 * w] = p[_cut(axis, 0, -w)] + p[_cut(axis, w, None)]
        w *= 2
    out = []
    for k in ks:
        length = n - k + 1
        total, owned, off = None, False, 0
        for w in sorted(parts, reverse=True):
            if k & w:
                piece = parts[w][_cut(axis, off, off + length)]
                if total is None:
                    total = piece
                elif owned:
                    total += piece
                else:
                    total, owned = total + piece, True
                off += w
        out.append(total)
    return out


def box_sums(x: np.ndarray, *ks: int) -> list[np.ndarray]:
    """Sums over every k x k window fully inside a 2-D array (or the last two axes), per k."""
    rows = _window_sums_1d(x, ks, -1)
    return [_window_sums_1d(r, (k,), -2)[0] for r, k in zip(rows, ks)]


def sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel (gx, gy) of a 2-D image with zero padding: gx right minus left, gy up minus down."""
    p = np.zeros((x.shape[0] + 2, x.shape[1] + 2))
    p[1:-1, 1:-1] = x
    vert = p[:-2, :] + p[2:, :]  # [1, 2, 1] down the rows
    vert += 2.0 * p[1:-1, :]
    gx = vert[:, 2:] - vert[:, :-2]
    horiz = p[:, :-2] + p[:, 2:]  # [1, 2, 1] along the row
    horiz += 2.0 * p[:, 1:-1]
    gy = horiz[:-2, :] - horiz[2:, :]
    return gx, gy


def gaussian_window_1d(n: int) -> np.ndarray:
    """Normalised 1-D Gaussian of n taps and sd n / 5 (the VIF window of metrics.md 4.4)."""
    u = np.arange(n) - (n - 1) / 2.0
    w = np.exp(-(u * u) / (2.0 * (n / 5.0) ** 2))
    return w / w.sum()


def filter_valid_t(x: np.ndarray, w1d: np.ndarray) -> np.ndarray:
    """Separable correlation of the last two axes with outer(w1d, w1d), 'valid' part, TRANSPOSED.

    Both passes run along the contiguous last axis (faster than filtering down the rows); the
    result is the transpose of the valid output, which is what VIF needs: its window is the same
    along both axes and it only sums over positions and keeps even rows and columns.
    """
    h = (len(w1d) - 1) // 2
    y = ndimage.correlate1d(x, w1d, axis=-1, mode="constant")[..., h:x.shape[-1] - h]
    y = np.ascontiguousarray(np.swapaxes(y, -1, -2))
    return ndimage.correlate1d(y, w1d, axis=-1, mode="constant")[..., h:y.shape[-1] - h]
