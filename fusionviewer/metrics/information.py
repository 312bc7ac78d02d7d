"""Mutual information between the fused image and a source (metrics.md 4.1), in nats."""

from __future__ import annotations

import numpy as np


def mutual_information(qx: np.ndarray, qy: np.ndarray) -> float:
    """MI(X, Y) in nats from the 256 x 256 joint histogram of quantized images (see quantize)."""
    joint = np.bincount((qx.ravel() * 256 + qy.ravel()), minlength=65536).reshape(256, 256)
    n = float(qx.size)
    px = joint.sum(axis=1) / n
    py = joint.sum(axis=0) / n
    u, v = np.nonzero(joint)
    p = joint[u, v] / n
    mi = float(np.sum(p * (np.log(p) - np.log(px[u]) - np.log(py[v]))))
    return max(mi, 0.0)  # rounding can give -1e-16 for independent images (section 7)
