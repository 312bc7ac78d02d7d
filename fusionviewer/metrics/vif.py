"""VIF as the sum of pixel-domain multi-scale VIFP(S_k -> F) (metrics.md 4.4)."""

from __future__ import annotations

import numpy as np

from ._windows import filter_valid, gaussian_window_1d

SIGMA_N2 = 2.0
EPS = 1e-10


def vifp_per_source(sources: np.ndarray, f: np.ndarray) -> np.ndarray:
    """VIFP(S_k -> F) for each source stacked on axis 0 (reference S_k, distorted F)."""
    k = sources.shape[0]
    imgs = np.concatenate([sources, f[np.newaxis]])  # decimated together, scale by scale
    num = np.zeros(k)
    den = np.zeros(k)
    for scale in range(1, 5):
        w = gaussian_window_1d(2 ** (5 - scale) + 1)
        if scale > 1:
            imgs = filter_valid(imgs, w)[:, ::2, ::2]
        x, y = imgs[:-1], imgs[-1]
        stats = filter_valid(np.concatenate([imgs, imgs * imgs, x * y]), w)
        mu = stats[:k + 1]
        mx, my = mu[:-1], mu[-1]
        sxx = np.maximum(stats[k + 1:2 * k + 1] - mx * mx, 0.0)
        syy = np.maximum(stats[2 * k + 1] - my * my, 0.0)
        syy = np.broadcast_to(syy, sxx.shape)
        sxy = stats[2 * k + 2:] - mx * my
        g = sxy / (sxx + EPS)
        sv = syy - g * sxy
        flat_x = sxx < EPS
        g = np.where(flat_x, 0.0, g)
        sv = np.where(flat_x, syy, sv)
        sxx = np.where(flat_x, 0.0, sxx)
        flat_y = syy < EPS
        g = np.where(flat_y, 0.0, g)
        sv = np.where(flat_y, 0.0, sv)
        neg = g < 0
        sv = np.where(neg, syy, sv)
        g = np.where(neg, 0.0, g)
        sv = np.maximum(sv, EPS)
        num += np.log10(1.0 + g * g * sxx / (sv + SIGMA_N2)).reshape(k, -1).sum(axis=1)
        den += np.log10(1.0 + sxx / SIGMA_N2).reshape(k, -1).sum(axis=1)
    safe = np.where(den == 0, 1.0, den)
    return np.where(den == 0, 1.0, num / safe)


def vif(sources: np.ndarray, f: np.ndarray) -> float:
    """VIF: sum over sources of VIFP(S_k -> F) (two sources: VIFP(A->F) + VIFP(B->F))."""
    return float(vifp_per_source(sources, f).sum())
