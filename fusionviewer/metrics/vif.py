"""VIF as the sum of pixel-domain multi-scale VIFP(S_k -> F) (metrics.md 4.4)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._windows import filter_valid_t, gaussian_window_1d

SIGMA_N2 = 2.0
EPS = 1e-10


def _vifp_terms(mx, my, xx, yy, xy) -> tuple[float, float]:
    """Numerator and denominator sums of one scale for one (reference, distorted) pair."""
    sxx = np.maximum(xx - mx * mx, 0.0)
    syy = np.maximum(yy - my * my, 0.0)
    sxy = xy - mx * my
    g = sxy / (sxx + EPS)
    sv = syy - g * sxy
    flat_x = sxx < EPS
    g[flat_x] = 0.0
    sv[flat_x] = syy[flat_x]
    sxx[flat_x] = 0.0
    flat_y = syy < EPS
    g[flat_y] = 0.0
    sv[flat_y] = 0.0
    neg = g < 0
    sv[neg] = syy[neg]
    g[neg] = 0.0
    np.maximum(sv, EPS, out=sv)
    num = np.log10(1.0 + g * g * sxx / (sv + SIGMA_N2)).sum()
    den = np.log10(1.0 + sxx / SIGMA_N2).sum()
    return float(num), float(den)


def vifp_per_source(sources: Sequence[np.ndarray], f: np.ndarray) -> list[float]:
    """VIFP(S_k -> F) for each source (reference S_k, distorted F), 4 scales, sigma_n^2 = 2."""
    imgs = [*sources, f]  # decimated together, scale by scale
    k = len(sources)
    num = [0.0] * k
    den = [0.0] * k
    for scale in range(1, 5):
        w = gaussian_window_1d(2 ** (5 - scale) + 1)
        if scale > 1:
            imgs = [filter_valid_t(x, w)[::2, ::2] for x in imgs]
        # filter_valid_t gives transposed maps; VIF only sums over them, so that is harmless
        mu = [filter_valid_t(x, w) for x in imgs]
        sq = [filter_valid_t(x * x, w) for x in imgs]
        y = imgs[-1]
        for j in range(k):
            xy = filter_valid_t(imgs[j] * y, w)
            a, b = _vifp_terms(mu[j], mu[-1], sq[j], sq[-1], xy)
            num[j] += a
            den[j] += b
    return [1.0 if d == 0 else n / d for n, d in zip(num, den)]


def vif(sources: Sequence[np.ndarray], f: np.ndarray) -> float:
    """VIF: sum over sources of VIFP(S_k -> F) (two sources: VIFP(A->F) + VIFP(B->F))."""
    return float(sum(vifp_per_source(sources, f)))
