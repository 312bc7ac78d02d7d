"""Correlation metrics (metrics.md 4.2, 4.3, 10): Pearson r, CC, SCD and CClow."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two equal-size arrays; 0 when either is constant."""
    if x.min() == x.max() or y.min() == y.max():
        return 0.0
    dx = x - x.mean()
    dy = y - y.mean()
    den = np.sqrt(np.sum(dx * dx) * np.sum(dy * dy))
    return float(np.sum(dx * dy) / den) if den > 0 else 0.0


def correlation_coefficient(f: np.ndarray, sources: list[np.ndarray]) -> float:
    """CC: mean over sources of r(S_k, F) (the two-source average (r(A,F) + r(B,F)) / 2)."""
    return float(np.mean([pearson(s, f) for s in sources]))


def sum_of_correlation_differences(f: np.ndarray, sources: list[np.ndarray]) -> float:
    """SCD: sum_k r(F - mean of the other sources, S_k); two sources: r(F-B,A) + r(F-A,B)."""
    n = len(sources)
    total = np.sum(sources, axis=0)
    out = 0.0
    for s in sources:
        others = (total - s) / (n - 1) if n > 2 else total - s
        out += pearson(f - others, s)
    return float(out)


def functional_correlation(f: np.ndarray, functional: np.ndarray, sigma: float = 4.0) -> float:
    """CClow: r(G(F), G(FUN)) with G = scipy.ndimage.gaussian_filter(., 4) (defaults)."""
    return pearson(ndimage.gaussian_filter(f, sigma), ndimage.gaussian_filter(functional, sigma))
