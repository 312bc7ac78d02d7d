"""Differentiable torch versions of the metrics the teacher and the net optimise.

Qabf, VIF (sum of VIFPs), SSIM (sum over sources) and CClow follow shared/docs/metrics.md on
0..255 images of shape (B, 1, H, W); they match ``fusionviewer.metrics`` up to the non-smooth
corner cases (exact-zero tests become small epsilons), which ``tests/test_training.py`` checks.
Used as training-loss terms and by the optimising teacher, never for reported numbers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_EPS = 1e-6


def _sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel (gx, gy) with zero padding as in metrics.md: gx right minus left, gy up minus down."""
    p = F.pad(x, (1, 1, 1, 1))
    vert = p[..., :-2, :] + 2.0 * p[..., 1:-1, :] + p[..., 2:, :]
    gx = vert[..., 2:] - vert[..., :-2]
    horz = p[..., :-2] + 2.0 * p[..., 1:-1] + p[..., 2:]
    gy = horz[..., :-2, :] - horz[..., 2:, :]
    return gx, gy


def edge_maps(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Edge strength and angle arctan(gy / gx) in (-pi/2, pi/2], smoothed where gx ~ 0."""
    gx, gy = _sobel(x)
    g = torch.sqrt(gx * gx + gy * gy + _EPS)
    sgn = torch.where(gx >= 0, 1.0, -1.0)
    a = torch.atan(gy / (gx + sgn * 1e-3))
    return g, a


def qabf(f: torch.Tensor, sources: list[torch.Tensor],
         edges: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
         sharpness: float = 1.0) -> torch.Tensor:
    """Xydeas-Petrovic Q^AB/F per image of the batch, shape (B,).

    ``sharpness`` < 1 flattens the two sigmoids (kappa_g = -15 s, kappa_a = -22 s) so that
    pixels whose fused edge is far from the source's still get a gradient; 1 is the metric.
    """
    gf, af = edge_maps(f)
    edges = edges or [edge_maps(s) for s in sources]
    num = 0.0
    den = 0.0
    for gs, as_ in edges:
        g_rel = torch.minimum(gs, gf) / torch.maximum(gs, gf)
        a_rel = 1.0 - (as_ - af).abs() / (math.pi / 2)
        q = (0.9994 * torch.sigmoid(15.0 * sharpness * (g_rel - 0.5))
             * 0.9879 * torch.sigmoid(22.0 * sharpness * (a_rel - 0.8)))
        num = num + (q * gs).sum(dim=(-3, -2, -1))
        den = den + gs.sum(dim=(-3, -2, -1))
    return num / den.clamp_min(_EPS)


def _gauss_kernel(n: int, dtype, device) -> torch.Tensor:
    sd = n / 5.0
    u = torch.arange(n, dtype=dtype, device=device) - (n - 1) / 2
    w = torch.exp(-(u * u) / (2 * sd * sd))
    return w / w.sum()


def _band(n: int, w: torch.Tensor) -> torch.Tensor:
    """(n, n - k + 1) matrix M such that v @ M is the 'valid' correlation of v (length n) with
    the window w (length k)."""
    k = w.numel()
    m = n - k + 1
    rows = torch.arange(k, device=w.device)[:, None] + torch.arange(m, device=w.device)
    cols = torch.arange(m, device=w.device).expand(k, m)
    out = torch.zeros(n, m, dtype=w.dtype, device=w.device)
    out[rows, cols] = w[:, None].expand(k, m)
    return out


def _valid(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of (B, C, H, W) with the 1-D window w, as two banded matrix
    products: on a CPU about 3x faster than a grouped convolution, with or without gradients."""
    return _band(x.shape[-2], w).t() @ x @ _band(x.shape[-1], w)


def vif_reference(ref: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """Per VIF scale, the reference's (x, local mean, local variance, window): what ``vifp``
    needs of ``ref``, computed once when the reference is fixed (the optimising teacher)."""
    x = ref
    stats = []
    for s in range(1, 5):
        w = _gauss_kernel(2 ** (5 - s) + 1, x.dtype, x.device)
        if s > 1:
            x = _valid(x, w)[..., ::2, ::2]
        mx = _valid(x, w)
        sxx = (_valid(x * x, w) - mx * mx).clamp_min(0)
        stats.append((x, mx, sxx, w))
    return stats


def vif_distorted(dist: torch.Tensor, ref_stats: list) -> list[tuple[torch.Tensor, ...]]:
    """Per VIF scale, the distorted image's (y, local mean, local variance): what ``vifp``
    needs of ``dist``, shared by every reference of the same size (windows from ``ref_stats``)."""
    y = dist
    stats = []
    for s, (_, _, _, w) in enumerate(ref_stats, start=1):
        if s > 1:
            y = _valid(y, w)[..., ::2, ::2]
        my = _valid(y, w)
        stats.append((y, my, (_valid(y * y, w) - my * my).clamp_min(0)))
    return stats


def vifp(ref: torch.Tensor, dist: torch.Tensor, sigma_n2: float = 2.0,
         ref_stats: list | None = None, dist_stats: list | None = None) -> torch.Tensor:
    """Pixel-domain 4-scale VIF of dist with ref as reference, per image (B,)."""
    ref_stats = ref_stats or vif_reference(ref)
    num = 0.0
    den = 0.0
    for (x, mx, sxx, w), (y, my, syy) in zip(ref_stats,
                                            dist_stats or vif_distorted(dist, ref_stats)):
        sxy = _valid(x * y, w) - mx * my
        # float32 leaves ~1e-4 of rounding in the variance of flat areas: treat < 1e-3 as flat
        # (and divide safely, or the masked-out branch sends NaN gradients)
        flat = sxx < 1e-3
        g = sxy / torch.where(flat, torch.ones_like(sxx), sxx)
        ok = ~flat & (g >= 0)
        g = torch.where(ok, g, torch.zeros_like(g))
        sv = torch.where(ok, syy - g * sxy, syy).clamp_min(1e-10)
        num = num + torch.log10(1 + g * g * sxx / (sv + sigma_n2)).sum(dim=(-3, -2, -1))
        den = den + torch.log10(1 + sxx / sigma_n2).sum(dim=(-3, -2, -1))
    return num / den.clamp_min(_EPS)


_ONES7 = torch.ones(7)


def _box7(t: torch.Tensor) -> torch.Tensor:
    """Sums over the 7x7 windows of t ('valid')."""
    return _valid(t, _ONES7.to(t.dtype).to(t.device))


def ssim_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 7x7 window sums of x and x^2 that ``ssim`` needs of a fixed first image."""
    return _box7(x), _box7(x * x)


def ssim(x: torch.Tensor, y: torch.Tensor,
         x_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
         y_stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Mean SSIM over 7x7 uniform windows (sample statistics, L = 255), per image (B,);
    ``x_stats``/``y_stats`` are ``ssim_reference`` of x/y when already known."""
    n = 49.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    sx, sxx = x_stats or ssim_reference(x)
    sy, syy = y_stats or ssim_reference(y)
    mx, my = sx / n, sy / n
    vx = (sxx - sx * mx) / (n - 1)
    vy = (syy - sy * my) / (n - 1)
    cxy = (_box7(x * y) - sx * my) / (n - 1)
    m = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return m.mean(dim=(-3, -2, -1))


def _blur4_matrix(n: int, dtype, device) -> torch.Tensor:
    """(n, n) matrix M with v @ M = the sigma-4 Gaussian blur of v (33 taps, 'reflect' borders
    folded into M)."""
    r = 16
    u = torch.arange(-r, r + 1, dtype=dtype, device=device)
    w = torch.exp(-0.5 * (u / 4.0) ** 2)
    w = w / w.sum()
    idx = torch.arange(-r, n + r, device=device)
    idx = torch.where(idx < 0, -idx - 1, idx)
    idx = torch.where(idx >= n, 2 * n - idx - 1, idx).clamp(0, n - 1)
    return torch.zeros(n, n, dtype=dtype, device=device).index_add_(0, idx, _band(n + 2 * r, w))


def _gauss_blur4(x: torch.Tensor) -> torch.Tensor:
    """scipy.ndimage.gaussian_filter(x, 4): 33 taps, 'reflect' (edge-including) borders."""
    return (_blur4_matrix(x.shape[-2], x.dtype, x.device).t() @ x
            @ _blur4_matrix(x.shape[-1], x.dtype, x.device))


def cclow_reference(fun: torch.Tensor) -> torch.Tensor:
    """The centred sigma-4 blur of the functional source that ``cclow`` needs of it."""
    b = _gauss_blur4(fun)
    return b - b.mean(dim=(-3, -2, -1), keepdim=True)


def cclow(f: torch.Tensor, fun: torch.Tensor, fun_blur: torch.Tensor | None = None
          ) -> torch.Tensor:
    """Pearson correlation of the sigma-4 blurs of f and the functional source, per image (B,)."""
    a = _gauss_blur4(f)
    b = cclow_reference(fun) if fun_blur is None else fun_blur
    a = a - a.mean(dim=(-3, -2, -1), keepdim=True)
    num = (a * b).sum(dim=(-3, -2, -1))
    return num / torch.sqrt((a * a).sum(dim=(-3, -2, -1)) * (b * b).sum(dim=(-3, -2, -1)) + _EPS)


def mutual_info(src: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """MI in nats between an 8-bit source and f, per image (B,): 256 x 256 joint histogram of the
    source's grey levels and f linearly split between its two nearest levels (so it has a
    gradient); equals metrics.md's MI when f holds whole grey levels."""
    b = f.shape[0]
    n = f[0].numel()
    fv = f.reshape(b, -1).clamp(0, 255)
    lo = fv.detach().floor().clamp(max=254)
    w = fv - lo
    sv = src.reshape(b, -1).round().clamp(0, 255).long()
    base = torch.arange(b, device=f.device)[:, None] * 65536 + sv * 256 + lo.long()
    joint = torch.zeros(b * 65536, dtype=f.dtype, device=f.device)
    joint = joint.index_add(0, base.reshape(-1), (1 - w).reshape(-1))
    joint = joint.index_add(0, (base + 1).reshape(-1), w.reshape(-1))
    joint = joint.reshape(b, 256, 256) / n
    ps = joint.sum(dim=2, keepdim=True)
    pf = joint.sum(dim=1, keepdim=True)
    ratio = joint / (ps * pf).clamp_min(1e-30)
    terms = torch.where(joint > 0, joint * torch.log(ratio.clamp_min(1e-30)), torch.zeros_like(joint))
    return terms.sum(dim=(1, 2)).clamp_min(0)


def prepare_sources(sources: list[torch.Tensor]) -> dict:
    """Everything ``metric_score`` computes of fixed sources (edges, VIF and SSIM statistics)."""
    return {"edges": [edge_maps(s) for s in sources],
            "vif": [vif_reference(s) for s in sources],
            "ssim": [ssim_reference(s) for s in sources]}


def metric_score(f: torch.Tensor, sources: list[torch.Tensor], *, qabf_weight: float = 4.0,
                 vif_weight: float = 1.0, ssim_weight: float = 0.5, mi_weight: float = 0.5,
                 qabf_sharpness: float = 1.0,
                 edges: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                 prepared: dict | None = None) -> torch.Tensor:
    """Weighted Qabf + sum over sources of VIFP, SSIM and MI, per image (B,); the objective the
    metric-loss training and the optimising teacher maximise. ``prepared`` (from
    ``prepare_sources``) saves recomputing the sources' side when they stay fixed."""
    if prepared is None:  # the sources' side of the weighted terms only
        prepared = {"edges": edges or ([edge_maps(s) for s in sources] if qabf_weight else []),
                    "vif": [vif_reference(s) for s in sources] if vif_weight else [],
                    "ssim": [ssim_reference(s) for s in sources] if ssim_weight else []}
    score = torch.zeros(f.shape[0], dtype=f.dtype, device=f.device)
    if qabf_weight:
        score = score + qabf_weight * qabf(f, sources, prepared["edges"],
                                           sharpness=qabf_sharpness)
    f_vif = vif_distorted(f, prepared["vif"][0]) if vif_weight else None  # shared by sources
    f_ssim = ssim_reference(f) if ssim_weight else None
    for k, s in enumerate(sources):
        if vif_weight:
            score = score + vif_weight * vifp(s, f, ref_stats=prepared["vif"][k],
                                              dist_stats=f_vif)
        if ssim_weight:
            score = score + ssim_weight * ssim(s, f, x_stats=prepared["ssim"][k], y_stats=f_ssim)
        if mi_weight:
            score = score + mi_weight * mutual_info(s, f)
    return score
