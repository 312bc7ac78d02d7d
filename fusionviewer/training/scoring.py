"""Fast re-implementation of the five metrics the teacher optimises (Qabf, VIF, SSIM, MI, CClow).

Follows shared/docs/metrics.md on 0..255 float64 images; vectorised over a stack of candidate
fusions so the teacher can score dozens of candidates per pair quickly. Reported numbers come
from ``fusionviewer.metrics``; ``tests/test_training.py`` checks this module against it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.signal import fftconvolve

_SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float64)
_SOBEL_Y = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)


def _conv2_same_zero(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """True 2-D convolution of the last two axes with zero padding, same size."""
    kk = k.reshape((1,) * (x.ndim - 2) + k.shape)
    return ndimage.convolve(x, kk, mode="constant", cval=0.0)


def _sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge strength and angle (metrics.md section 1) of the last two axes."""
    gx = _conv2_same_zero(x, _SOBEL_X)
    gy = _conv2_same_zero(x, _SOBEL_Y)
    g = np.sqrt(gx * gx + gy * gy)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(gx == 0, np.pi / 2, np.arctan(gy / np.where(gx == 0, 1.0, gx)))
    return g, a


def qabf(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Xydeas-Petrovic Q^AB/F for a stack f (..., H, W) against sources a, b (H, W)."""
    gf, af = _sobel(f)
    num = np.zeros(f.shape[:-2])
    den = 0.0
    for s in (a, b):
        gs, as_ = _sobel(s)
        mx = np.maximum(gs, gf)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(mx > 0, np.minimum(gs, gf) / np.where(mx > 0, mx, 1.0), 0.0)
        ang = 1.0 - np.abs(as_ - af) / (np.pi / 2)
        q = (0.9994 / (1 + np.exp(-15 * (g - 0.5)))) * (0.9879 / (1 + np.exp(-22 * (ang - 0.8))))
        num = num + (q * gs).sum(axis=(-2, -1))
        den = den + gs.sum()
    return num / den if den > 0 else np.zeros_like(num)


def _gauss_window(n: int) -> np.ndarray:
    sd = n / 5.0
    u = np.arange(n) - (n - 1) / 2
    w = np.exp(-(u * u) / (2 * sd * sd))
    return w / w.sum()


def _valid_filter(x: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """Separable correlation with the symmetric 1-D window w1, 'valid' output, last two axes."""
    n = len(w1)
    y = ndimage.correlate1d(x, w1, axis=-1, mode="constant")
    y = ndimage.correlate1d(y, w1, axis=-2, mode="constant")
    h = (n - 1) // 2
    return y[..., h:x.shape[-2] - h, h:x.shape[-1] - h]


def vifp(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Pixel-domain VIF of dist (stack ..., H, W) with ref (H, W) as reference."""
    sigma_n, eps = 2.0, 1e-10
    x = np.broadcast_to(ref, dist.shape).astype(np.float64)
    y = dist.astype(np.float64)
    num = np.zeros(dist.shape[:-2])
    den = np.zeros(dist.shape[:-2])
    for s in range(1, 5):
        n = 2 ** (5 - s) + 1
        w = _gauss_window(n)
        if s > 1:
            x = _valid_filter(x, w)[..., ::2, ::2]
            y = _valid_filter(y, w)[..., ::2, ::2]
        mx, my = _valid_filter(x, w), _valid_filter(y, w)
        sxx = np.maximum(_valid_filter(x * x, w) - mx * mx, 0)
        syy = np.maximum(_valid_filter(y * y, w) - my * my, 0)
        sxy = _valid_filter(x * y, w) - mx * my
        g = sxy / (sxx + eps)
        sv = syy - g * sxy
        m = sxx < eps
        g = np.where(m, 0, g); sv = np.where(m, syy, sv); sxx = np.where(m, 0, sxx)
        m = syy < eps
        g = np.where(m, 0, g); sv = np.where(m, 0, sv)
        m = g < 0
        sv = np.where(m, syy, sv); g = np.where(m, 0, g)
        sv = np.maximum(sv, eps)
        num = num + np.log10(1 + g * g * sxx / (sv + sigma_n)).sum(axis=(-2, -1))
        den = den + np.log10(1 + sxx / sigma_n).sum(axis=(-2, -1))
    return np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)


def _box7(x: np.ndarray) -> np.ndarray:
    """Window sums over all 7x7 windows inside (valid), last two axes."""
    c = np.cumsum(np.cumsum(x, axis=-1), axis=-2)
    c = np.pad(c, [(0, 0)] * (x.ndim - 2) + [(1, 0), (1, 0)])
    return c[..., 7:, 7:] - c[..., :-7, 7:] - c[..., 7:, :-7] + c[..., :-7, :-7]


def ssim(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """SSIM of stack y against x, 7x7 uniform windows, sample statistics, L = 255."""
    x = np.broadcast_to(x, y.shape).astype(np.float64)
    n = 49.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    sx, sy = _box7(x), _box7(y)
    sxx, syy, sxy = _box7(x * x), _box7(y * y), _box7(x * y)
    mx, my = sx / n, sy / n
    vx = (sxx - sx * mx) / (n - 1)
    vy = (syy - sy * my) / (n - 1)
    cxy = (sxy - sx * my) / (n - 1)
    m = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return m.mean(axis=(-2, -1))


def mutual_info(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """MI in nats of each fused image in stack y with x, 256 bins of rounded values."""
    qx = np.clip(np.rint(x), 0, 255).astype(np.int64).ravel()
    ys = y.reshape(-1, y.shape[-2] * y.shape[-1])
    out = np.empty(len(ys))
    px = np.bincount(qx, minlength=256) / qx.size
    for i, yy in enumerate(ys):
        qy = np.clip(np.rint(yy), 0, 255).astype(np.int64)
        joint = np.bincount(qx * 256 + qy, minlength=65536).reshape(256, 256) / qx.size
        py = joint.sum(axis=0)
        nz = joint > 0
        out[i] = max(0.0, float((joint[nz] * np.log(joint[nz] / (px[:, None] * py[None, :])[nz])).sum()))
    return out.reshape(y.shape[:-2])


def cclow(f: np.ndarray, fun: np.ndarray) -> np.ndarray:
    """Correlation of sigma-4 Gaussian blurs of each fused image with the functional source."""
    gf = ndimage.gaussian_filter(fun.astype(np.float64), 4)
    ys = f.reshape(-1, f.shape[-2], f.shape[-1]).astype(np.float64)
    out = np.empty(len(ys))
    a = gf - gf.mean()
    for i, yy in enumerate(ys):
        b = ndimage.gaussian_filter(yy, 4)
        b = b - b.mean()
        d = np.sqrt((a * a).sum() * (b * b).sum())
        out[i] = (a * b).sum() / d if d > 0 else 0.0
    return out.reshape(f.shape[:-2])


def score_stack(f: np.ndarray, a: np.ndarray, b: np.ndarray, fun: np.ndarray) -> dict[str, np.ndarray]:
    """All five metrics for a stack of candidate fusions f (K, H, W) on the 0..255 scale, rounded."""
    f = np.clip(np.rint(f), 0, 255).astype(np.float64)
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return {
        "Qabf": qabf(f, a, b),
        "VIF": vifp(a, f) + vifp(b, f),
        "SSIM": ssim(a, f) + ssim(b, f),
        "MI": mutual_info(a, f) + mutual_info(b, f),
        "CClow": cclow(f, fun),
    }
