"""Window-based similarity: SSIM (4.6), Q0 (4.8), QW (4.9), QE (4.10) of metrics.md.

All window statistics come from exact box sums (``_windows.box_sums``): for integer images the
variances of flat windows are exactly zero, as the 0/0 rules need (section 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._windows import box_sums


@dataclass
class PairSums:
    """Box sums over all k x k windows of images X_k and of F: sums, sums of squares, cross sums."""

    k: int
    sx: np.ndarray   # (K, m, n) sums of each X_k
    sxx: np.ndarray  # (K, m, n) sums of X_k^2
    sf: np.ndarray   # (m, n) sums of F
    sff: np.ndarray  # (m, n) sums of F^2
    sxf: np.ndarray  # (K, m, n) sums of X_k F


def pair_sums(others: np.ndarray, f: np.ndarray, k: int) -> PairSums:
    """Window sums for the pairs (X_k, F), X_k stacked on axis 0 of ``others``."""
    stack = np.concatenate([others, f[np.newaxis]])
    s1 = box_sums(stack, k)
    s2 = box_sums(stack * stack, k)
    sxf = box_sums(others * f, k)
    return PairSums(k, s1[:-1], s2[:-1], s1[-1], s2[-1], sxf)


def ssim_values(ps: PairSums, data_range: float = 255.0) -> np.ndarray:
    """Mean SSIM(F, X_k) per k: k x k uniform windows, sample (co)variances, C1/C2 from L."""
    n = float(ps.k * ps.k)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mx, my = ps.sx / n, ps.sf / n
    norm = n * (n - 1.0)
    vx = (n * ps.sxx - ps.sx * ps.sx) / norm
    vy = (n * ps.sff - ps.sf * ps.sf) / norm
    vxy = (n * ps.sxf - ps.sx * ps.sf) / norm
    s = ((2.0 * mx * my + c1) * (2.0 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.reshape(s.shape[0], -1).mean(axis=1)


def _variance_terms(ps: PairSums) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n^2 times the window variances of X_k and F and their covariance (n cancels in Q)."""
    n = float(ps.k * ps.k)
    vx = np.maximum(n * ps.sxx - ps.sx * ps.sx, 0.0)
    vf = np.maximum(n * ps.sff - ps.sf * ps.sf, 0.0)
    vxf = n * ps.sxf - ps.sx * ps.sf
    return vx, vf, vxf


def _local_q(ps: PairSums, vx: np.ndarray, vf: np.ndarray, vxf: np.ndarray) -> np.ndarray:
    """Local Wang-Bovik index Q(X_k, F | w) per window, each 0/0 bracket counted as 1."""
    den_s = vx + vf
    struct = np.divide(2.0 * vxf, den_s, out=np.ones_like(den_s), where=den_s != 0)
    den_l = ps.sx * ps.sx + ps.sf * ps.sf
    lum = np.divide(2.0 * ps.sx * ps.sf, den_l, out=np.ones_like(den_l), where=den_l != 0)
    return struct * lum


def q0_value(ps: PairSums) -> float:
    """Q0: mean over sources of the mean local Q(S_k, F) (8 x 8 windows)."""
    q = _local_q(ps, *_variance_terms(ps))
    return float(q.reshape(q.shape[0], -1).mean(axis=1).mean())


def qw_value(ps: PairSums) -> float:
    """QW (Piella): sum_w C(w) sum_k lambda_k(w) Q(S_k,F|w) / sum_w C(w).

    lambda_k = s_k / sum_j s_j (1/N where all sources are flat) and C = max_k s_k with s the
    window variance; with two sources this is lambda Q(A,F) + (1 - lambda) Q(B,F) of the spec.
    """
    vx, vf, vxf = _variance_terms(ps)
    q = _local_q(ps, vx, vf, vxf)
    total = vx.sum(axis=0)
    lam = np.divide(vx, total, out=np.full_like(vx, 1.0 / vx.shape[0]), where=total != 0)
    bracket = (lam * q).sum(axis=0)
    c = vx.max(axis=0)
    csum = c.sum()
    if csum == 0:
        return float(bracket.mean())
    return float((c * bracket).sum() / csum)
