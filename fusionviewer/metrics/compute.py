"""compute_metrics: every metric of shared/docs/metrics.md for one fused 2-D image.

Inputs are on the 0..255 scale. The fused image is rounded half-to-even and clipped to 0..255
(what an 8-bit PNG of it holds); colour (H, W, 3) images are converted to grey with
round(0.299 R + 0.587 G + 0.114 B); gray sources and the target are used as given (float64).

More than two sources (metrics.md section 9), the aggregation used here:
MI, SSIM and VIF sum the per-source terms (as MI(F,A) + MI(F,B) does); CC and Q0 average them;
PSNR uses the mean of the per-source MSEs; QW/QE use lambda_k = s_k / sum_j s_j and
C = max_k s_k; Qabf = sum_k sum(Q_kF w_k) / sum_k sum(w_k); SCD = sum_k r(F - mean of the other
sources, S_k). With two sources each rule reduces to the spec's formula.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..image import LUMA_WEIGHTS, Image
from . import correlation, fused_only
from ._windows import sobel
from .information import mutual_information
from .qabf import edge_angle, qabf
from .quality_index import pair_sums, q0_value, qw_value, ssim_values
from .vif import vif

VIF_MIN_SIZE = 41
ALIASES = {"ENT": "EN", "H": "EN", "Entropy": "EN", "STD": "SD", "GRAD": "AG"}


def as_gray(x: Any, what: str) -> np.ndarray:
    """A 2-D float64 array from an array or a one-slice Image; colour -> rounded luma."""
    if isinstance(x, Image):
        if not x.is_2d:
            raise InputError(f"{what} has {x.num_slices} slices; use evaluate_volume for volumes")
        x = x.array[0]
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[-1] == 3:
        a = np.rint(a.astype(np.float64) @ LUMA_WEIGHTS)
    if a.ndim != 2:
        raise InputError(f"{what} must be a 2-D gray or (H, W, 3) colour image, "
                         f"got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError(f"{what} contains NaN or infinite values")
    return a


def _source_labels(n: int, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [chr(ord("A") + i) for i in range(n)]
    if len(names) != n:
        raise InputError(f"{len(names)} names given for {n} sources")
    return [str(s) for s in names]


def _psnr(mse: float, peak: float) -> float:
    """10 log10(peak^2 / MSE) dB; +inf when MSE = 0, -inf when the peak is 0 (black F, maxF)."""
    if mse == 0:
        return math.inf
    return -math.inf if peak == 0 else float(10.0 * np.log10(peak * peak / mse))


def compute_metrics(fused: Any, sources: Sequence[Any], target: Any = None, *,
                    functional: int | None = None, names: Sequence[str] | None = None,
                    ssim_data_range: float = 255, psnr_peak: float | str | None = None,
                    mi_base: str | float = "e", aliases: bool = False) -> dict[str, float]:
    """All metrics of metrics.md by key (0..255 scale; MI in nats, EN in bits, PSNR in dB).

    ``functional`` is the index of the functional source (CT/PET/SPECT) for CClow; None omits
    CClow (``fusionviewer.pipeline.functional_index`` is the rule that picks it). ``names`` label MI_<name> (default MI_A, MI_B, ...). Variants:
    ``ssim_data_range`` (L of SSIM and SSIM_R, e.g. 2), ``psnr_peak`` (peak of the fusion PSNR:
    a number or "maxF"; PSNR_R keeps 255), ``mi_base`` ("e" nats or 2 bits, for MI and
    MI_<k>). ``aliases``: also the paper's names ENT, H, Entropy, STD, GRAD (repeating EN, SD, AG). Target-based keys (RMSE,
    PSNR_R, SSIM_R, REL) appear only with a target; VIF only for images of at least 41 x 41.
    """
    if len(sources) < 2:
        raise InputError(f"at least two sources are needed, got {len(sources)}")
    f = np.clip(np.rint(as_gray(fused, "fused image")), 0, 255)
    srcs = [as_gray(s, f"source {i + 1}") for i, s in enumerate(sources)]
    r = None if target is None else as_gray(target, "target image")
    for i, s in enumerate(srcs + ([r] if r is not None else [])):
        if s.shape != f.shape:
            what = "target image" if i == len(srcs) else f"source {i + 1}"
            raise InputError(f"{what} has shape {s.shape}, the fused image {f.shape}")
    if min(f.shape) < 8:
        raise InputError(f"image of shape {f.shape} is too small for the metrics (at least 8 x 8)")
    labels = _source_labels(len(srcs), names)
    if functional is not None and not 0 <= functional < len(srcs):
        raise InputError(f"functional source index {functional} out of range 0..{len(srcs) - 1}")

    out: dict[str, float] = {}
    out["EN"] = fused_only.entropy(f)
    out["SD"] = fused_only.standard_deviation(f)
    out["MEAN"] = fused_only.mean_level(f)
    out["SF"] = fused_only.spatial_frequency(f)
    out["AG"] = fused_only.average_gradient(f)
    out["EOG"] = fused_only.energy_of_gradient(f)

    mi_scale = 1.0 if mi_base in ("e", math.e) else 1.0 / math.log(float(mi_base))
    qf = fused_only.quantize(f)
    mis = [mutual_information(qf, fused_only.quantize(s)) * mi_scale for s in srcs]
    out["MI"] = float(sum(mis))
    for label, v in zip(labels, mis):
        out[f"MI_{label}"] = v

    out["SCD"] = correlation.sum_of_correlation_differences(f, srcs)
    out["CC"] = correlation.correlation_coefficient(f, srcs)
    if min(f.shape) >= VIF_MIN_SIZE:  # its 4 scales need about 41 x 41 pixels (metrics.md 4.4)
        out["VIF"] = vif(srcs, f)

    # Sobel responses, edge strengths and angles: computed once, shared by Qabf and QE
    grads = [sobel(x) for x in srcs + [f]]
    g = [np.sqrt(gx * gx + gy * gy) for gx, gy in grads]
    ang = [edge_angle(gx, gy) for gx, gy in grads]
    out["Qabf"] = qabf(g[:-1], ang[:-1], g[-1], ang[-1])

    # box sums over 7 x 7 (SSIM, SSIM_R) and 8 x 8 (Q0, QW, QE) windows share their partial sums
    ps7, ps8 = pair_sums(srcs + ([r] if r is not None else []), f, 7, 8)
    ssim = ssim_values(ps7, float(ssim_data_range))
    out["SSIM"] = float(sum(ssim[:len(srcs)]))

    mse = float(np.mean([np.mean((f - s) ** 2) for s in srcs]))
    peak = float(f.max()) if psnr_peak in ("maxF", "max") else float(psnr_peak or 255.0)
    out["PSNR"] = _psnr(mse, peak)

    ps8 = ps8.first(len(srcs))
    out["Q0"] = q0_value(ps8)
    out["QW"] = qw_value(ps8)
    out["QE"] = out["QW"] * qw_value(pair_sums(g[:-1], g[-1], 8)[0])

    if r is not None:
        mse_r = float(np.mean((f - r) ** 2))
        out["RMSE"] = math.sqrt(mse_r)
        out["PSNR_R"] = _psnr(mse_r, 255.0)
        out["SSIM_R"] = float(ssim[-1])
        norm_r = math.sqrt(float(np.sum(r * r)))
        err = math.sqrt(float(np.sum((f - r) ** 2)))
        # REL is undefined for an all-zero target: report inf (or 0 when F is zero too), never NaN
        out["REL"] = err / norm_r if norm_r > 0 else (math.inf if err > 0 else 0.0)

    if functional is not None:
        out["CClow"] = correlation.functional_correlation(f, srcs[functional])

    if aliases:
        for alias, key in ALIASES.items():
            out[alias] = out[key]
    return out
