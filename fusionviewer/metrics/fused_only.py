"""Metrics of the fused image alone (metrics.md section 3): EN, SD, MEAN, SF, AG, EOG."""

from __future__ import annotations

import numpy as np


def quantize(x: np.ndarray) -> np.ndarray:
    """q(X): grey levels rounded half-to-even and clipped to 0..255, as integer bin indices."""
    return np.clip(np.rint(x), 0, 255).astype(np.intp)


def entropy(f: np.ndarray) -> float:
    """EN: Shannon entropy of the 256-bin grey-level histogram, in bits."""
    p = np.bincount(quantize(f).ravel(), minlength=256) / f.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def standard_deviation(f: np.ndarray) -> float:
    """SD: population standard deviation, grey levels."""
    return float(np.sqrt(np.mean((f - f.mean()) ** 2)))


def mean_level(f: np.ndarray) -> float:
    """MEAN: mean grey level."""
    return float(f.mean())


def spatial_frequency(f: np.ndarray) -> float:
    """SF: sqrt(mean squared row differences + mean squared column differences), grey levels."""
    rf2 = np.mean(np.diff(f, axis=1) ** 2)
    cf2 = np.mean(np.diff(f, axis=0) ** 2)
    return float(np.sqrt(rf2 + cf2))


def average_gradient(f: np.ndarray) -> float:
    """AG: mean of sqrt((Gx^2 + Gy^2) / 2) with numpy.gradient derivatives, grey levels."""
    gy, gx = np.gradient(f)
    return float(np.mean(np.sqrt((gx * gx + gy * gy) / 2.0)))


def energy_of_gradient(f: np.ndarray) -> float:
    """EOG: per-pixel mean of fx^2 + fy^2 (forward differences) on the (M-1)(N-1) grid, grey^2."""
    base = f[:-1, :-1]
    fx = f[:-1, 1:] - base
    fy = f[1:, :-1] - base
    return float(np.mean(fx * fx + fy * fy))
