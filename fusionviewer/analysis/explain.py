"""Contribution shares and residuals of a whole fusion result, slice by slice (for
``fuse --explain`` and the app's Show modes), plain numpy; values in [0, 1] units."""

from __future__ import annotations

import numpy as np

from ..progress import check_cancel, report
from .contribution import contribution_rgb, contribution_shares, residual


def source_stack(result, k: int) -> np.ndarray:
    """(N, H, W) float32 luminance in [0, 1] of the fusion inputs at slice k."""
    return np.stack([s.luminance()[k] if s.is_color else s.array[k].astype(np.float32)
                     for s in result.sources])


def explain_result(result, progress=None, cancel=None) -> dict[str, np.ndarray]:
    """{'shares': (N, Z, H, W), 'residuals': (N, Z, H, W) signed, 'rgb': (Z, H, W, 3)}."""
    z = result.fused_gray.shape[0]
    n = len(result.sources)
    shares = np.zeros((n,) + result.fused_gray.shape, np.float32)
    resid = np.zeros_like(shares)
    for k in range(z):
        check_cancel(cancel)
        stack = source_stack(result, k)
        shares[:, k] = contribution_shares(result.method, stack)
        for i in range(n):
            resid[i, k] = residual(stack[i], result.fused_gray[k])
        report(progress, "measuring", (k + 1) / z)
    rgb = np.stack([contribution_rgb(result.fused_gray[k], shares[:, k]) for k in range(z)])
    return {"shares": shares, "residuals": resid, "rgb": rgb}
