"""What each source contributed to the fused image, per pixel, from the method's own weights.

Every method here fuses components (pyramid bands, base/detail layers) of the sources with
per-source weights that sum to 1. The share of source k at a pixel is the weight of k in each
component, averaged over the components in proportion to how much each component makes of the
fused pixel (|sum_k w_k c_k|, upsampled to full size): average gives 1/N everywhere, GFF its
base/detail weight maps, the Laplacian pyramid its max-absolute choice, the CNN (PyramidFusionNet)
the softmax weights it applies to each band (``fusion.model.band_weights``).
The residual of a source is what of its detail the fused image did not keep: the source minus
its best local linear fit from the fused image (a guided filter, radius 4 px), in [0, 1] units.
"""

from __future__ import annotations

import numpy as np

RESIDUAL_RADIUS = 4
RESIDUAL_EPS = 1e-3


def _upsample(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (..., h, w) to (..., H, W) (edges aligned as in the pyramids)."""
    from scipy.ndimage import zoom

    h, w = a.shape[-2:]
    if (h, w) == tuple(shape):
        return a
    factors = [1.0] * (a.ndim - 2) + [shape[0] / h, shape[1] / w]
    out = zoom(a, factors, order=1, mode="nearest", grid_mode=True)
    return out[..., :shape[0], :shape[1]]


def mix_shares(weights: list[np.ndarray], components: list[np.ndarray],
               shape: tuple[int, int]) -> np.ndarray:
    """Per-pixel shares (N, H, W), summing to 1, from per-component weights and components
    (each (N, h_c, w_c)); a pixel made of nothing gets the components' mean weight."""
    num, den, plain = 0.0, 0.0, 0.0
    for w, c in zip(weights, components):
        w = np.asarray(w, dtype=np.float64)
        energy = np.abs((w * np.asarray(c, dtype=np.float64)).sum(axis=0))
        num = num + _upsample(w * energy[None], shape)
        den = den + _upsample(energy, shape)
        plain = plain + _upsample(w, shape)
    plain = plain / len(weights)
    shares = np.where(den[None] > 1e-9, num / np.maximum(den, 1e-9)[None], plain)
    shares = np.clip(shares, 0.0, None)
    return (shares / np.maximum(shares.sum(axis=0, keepdims=True), 1e-12)).astype(np.float32)


def method_components(method: str, stack: np.ndarray) -> tuple[list, list]:
    """(weights, components) of one slice stack (N, H, W) in [0, 1] for a fusion method."""
    from ..fusion import classical as cl

    n = stack.shape[0]
    if method == "average":
        return [np.full_like(stack, 1.0 / n)], [stack]
    if method == "laplacian":
        bands = cl.laplacian_pyramid(stack, 4)
        weights = [cl._shared_max(np.abs(b)) for b in bands[:-1]]
        weights.append(np.full_like(bands[-1], 1.0 / n))
        return weights, bands
    if method == "gff":
        base = cl._box(stack, 15)
        w_base, w_detail = cl.gff_weights(stack)
        return [w_base, w_detail], [base, stack - base]
    if method == "cnn":
        return _cnn_components(stack)
    raise ValueError(f"no contribution map for method {method!r}")


def _cnn_components(stack: np.ndarray) -> tuple[list, list]:
    import torch

    from ..fusion.inference import load_model
    from ..fusion.model import band_weights

    model = load_model(device="cpu")
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(stack[None], dtype=np.float32))
        logits = model.weight_logits(x)
        bands = model.pyramid.decompose(x)
        weights = band_weights(bands, logits, model.act_scale)
        return ([w[0].numpy() for w in weights], [b[0].numpy() for b in bands])


def contribution_shares(method: str, stack: np.ndarray) -> np.ndarray:
    """Per-pixel share (N, H, W) of each source in the fused slice, from the method's weights."""
    stack = np.asarray(stack, dtype=np.float32)
    weights, comps = method_components(method, stack)
    return mix_shares(weights, comps, stack.shape[-2:])


def residual(source: np.ndarray, fused: np.ndarray, radius: int = RESIDUAL_RADIUS,
             eps: float = RESIDUAL_EPS) -> np.ndarray:
    """Source minus its best local linear fit from the fused slice (guided filter), (H, W)."""
    from ..fusion.classical import guided_filter

    s = np.asarray(source, dtype=np.float32)[None]
    f = np.asarray(fused, dtype=np.float32)[None]
    return (s - guided_filter(f, s, radius, eps))[0]


SOURCE_COLOURS = np.array([[0.15, 0.55, 1.0], [1.0, 0.35, 0.1], [0.2, 0.85, 0.3],
                           [0.9, 0.2, 0.8], [0.95, 0.85, 0.1], [0.1, 0.9, 0.9]], np.float32)


def contribution_rgb(fused01: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """The fused slice coloured by the shares: brightness = fused, hue = mix of the sources'
    colours (SOURCE_COLOURS, A blue, B orange, ...), (H, W, 3) in [0, 1]."""
    colours = SOURCE_COLOURS[np.arange(shares.shape[0]) % len(SOURCE_COLOURS)]
    mix = np.tensordot(shares, colours, axes=(0, 0))
    return np.clip(mix * (0.25 + 0.75 * np.asarray(fused01, np.float32)[..., None]), 0, 1)
