"""Q^AB/F edge preservation of Xydeas and Petrovic (metrics.md 4.5)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

GAMMA_G, KAPPA_G, SIGMA_G = 0.9994, -15.0, 0.5
GAMMA_A, KAPPA_A, SIGMA_A = 0.9879, -22.0, 0.8


def edge_angle(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """alpha = arctan(gy / gx) in (-pi/2, pi/2), and pi/2 where gx == 0 (exact test)."""
    nz = gx != 0
    ratio = np.divide(gy, gx, out=np.zeros_like(gy), where=nz)
    out = np.arctan(ratio)
    out[~nz] = np.pi / 2
    return out


def qabf(g_src: Sequence[np.ndarray], a_src: Sequence[np.ndarray], g_f: np.ndarray,
         a_f: np.ndarray) -> float:
    """Qabf = sum_k sum(Q_kF w_k) / sum_k sum(w_k), w_k = g_k; 0 if no source has an edge.

    ``g_src``/``a_src`` are the Sobel strengths and angles of the sources.
    """
    num = 0.0
    wsum = 0.0
    for g, a in zip(g_src, a_src):
        hi = np.maximum(g, g_f)
        lo = np.minimum(g, g_f)
        g_rel = np.divide(lo, hi, out=np.zeros_like(hi), where=hi > 0)
        a_rel = 1.0 - np.abs(a - a_f) / (np.pi / 2)
        q = (GAMMA_G / (1.0 + np.exp(KAPPA_G * (g_rel - SIGMA_G)))
             * GAMMA_A / (1.0 + np.exp(KAPPA_A * (a_rel - SIGMA_A))))
        num += float((q * g).sum())
        wsum += float(g.sum())
    return 0.0 if wsum == 0 else num / wsum
