"""PyramidFusionNet: a small N-input CNN that predicts per-pixel Laplacian-pyramid fusion weights.

Each source gets a fixed Laplacian pyramid (2x2 mean down, bilinear up). A shared encoder looks at
each source at 1/4 resolution and produces per-source features; these are pooled across sources
(mean and max, a DeepSets layer, so any N works and the order does not matter) together with
per-source global averages. A shared per-source head predicts, at 1/8 resolution, for every
pyramid level a bias logit and an activity gain. The weight of source k at level l and pixel x is
``softmax_k( gain_kl(x) * activity_kl(x) + bias_kl(x) )``, where ``activity`` is the local mean
absolute band value at full band resolution, so fine levels can act like a soft max-absolute rule
while coarse levels follow the functional source. The fused pyramid is a convex combination of
the sources' bands per level, so no band is amplified.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def local_mean3(x: torch.Tensor) -> torch.Tensor:
    """3x3 mean over the pixels inside the image (= avg_pool2d(3, 1, 1, count_include_pad=False)).

    Written as shifted adds because the pooling kernel is slow on CPU for stride 1.
    """
    h, w = x.shape[-2:]
    y = F.pad(x, (1, 1, 1, 1))
    y = y[..., :, :-2] + y[..., :, 1:-1] + y[..., :, 2:]
    y = y[..., :-2, :] + y[..., 1:-1, :] + y[..., 2:, :]
    cy = torch.full((h,), 3.0, dtype=x.dtype, device=x.device)
    cx = torch.full((w,), 3.0, dtype=x.dtype, device=x.device)
    cy[0] -= 1
    cy[-1] -= 1
    cx[0] -= 1
    cx[-1] -= 1
    if h == 1:
        cy[:] = 1
    if w == 1:
        cx[:] = 1
    return y / (cy[:, None] * cx[None, :])


class LaplacianPyramid(nn.Module):
    """Fixed Laplacian pyramid (reflect borders) and its exact inverse."""

    def __init__(self, levels: int):
        super().__init__()
        self.levels = levels

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        # separable [1 4 6 4 1] / 16 as shifted adds: much faster on CPU than a depthwise conv
        y = F.pad(x, (2, 2, 2, 2), mode="reflect")
        y = ((y[..., :-4] + y[..., 4:]) * 0.0625 + (y[..., 1:-3] + y[..., 3:-1]) * 0.25
             + y[..., 2:-2] * 0.375)
        return ((y[..., :-4, :] + y[..., 4:, :]) * 0.0625
                + (y[..., 1:-3, :] + y[..., 3:-1, :]) * 0.25 + y[..., 2:-2, :] * 0.375)

    def down(self, x: torch.Tensor) -> torch.Tensor:
        return self._blur(x)[..., ::2, ::2]

    def up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        b, c, h, w = x.shape
        y = x.new_zeros(b, c, 2 * h, 2 * w)
        y[..., ::2, ::2] = x * 4.0
        return self._blur(y)[..., :size[0], :size[1]]

    def decompose(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Bands finest first, then the low-pass residual; x is (B, C, H, W)."""
        bands = []
        for _ in range(self.levels):
            d = self.down(x)
            bands.append(x - self.up(d, x.shape[-2:]))
            x = d
        bands.append(x)
        return bands

    def reconstruct(self, bands: list[torch.Tensor]) -> torch.Tensor:
        x = bands[-1]
        for band in reversed(bands[:-1]):
            x = band + self.up(x, band.shape[-2:])
        return x


class FastPyramid(LaplacianPyramid):
    """Laplacian pyramid with 2x2 mean down-sampling and bilinear up-sampling (few CPU ops).

    Bands are residuals ``x - up(down(x))``, so reconstruction is exact all the same.
    """

    def down(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2, ceil_mode=True)

    def up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class PyramidFusionNet(nn.Module):
    """N-input fusion: (B, N, H, W) in [0, 1] -> (B, 1, H, W) in [0, 1]; see module docstring."""

    def __init__(self, levels: int = 4, width: int = 16, act_scale: float = 64.0):
        super().__init__()
        self.levels = levels
        self.width = width
        self.act_scale = act_scale
        self.pyramid = FastPyramid(levels)
        w = width
        # shared per-source encoder at 1/4 resolution (inputs: level-2 Gaussian, its local
        # contrast), going to 1/8
        self.enc1 = nn.Conv2d(2, w, 3, padding=1)
        self.enc2 = nn.Conv2d(w, w, 3, stride=2, padding=1)
        self.enc3 = nn.Conv2d(w, w, 3, padding=1)
        # head on [own, mean over sources, max over sources, own global, mean global]
        self.head1 = nn.Conv2d(5 * w, w, 1)
        self.head2 = nn.Conv2d(w, w, 3, padding=1)
        self.out = nn.Conv2d(w, 2 * levels + 1, 1)

    def config(self) -> dict:
        return {"levels": self.levels, "width": self.width, "act_scale": self.act_scale}

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """Per-source global features (B, N, width) from the whole image (for tiled runs)."""
        return self._encode(x).mean(dim=(-2, -1))

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        b, n, h, w = x.shape
        s = x.reshape(b * n, 1, h, w)
        s = self.pyramid.down(self.pyramid.down(s))
        contrast = (s - local_mean3(s)).abs()
        f = F.relu(self.enc1(torch.cat([s, contrast * 4.0], dim=1)))
        f = F.relu(self.enc2(f))
        f = F.relu(self.enc3(f))
        return f.reshape(b, n, self.width, *f.shape[-2:])

    def weight_logits(self, x: torch.Tensor, context: torch.Tensor | None = None):
        """Per-source bias logits and activity gains at 1/8 resolution: (B, N, 2L+1, h, w)."""
        f = self._encode(x)
        b, n, c, h, w = f.shape
        g = f.mean(dim=(-2, -1)) if context is None else context.to(f.dtype)
        pooled = torch.cat([f.mean(dim=1, keepdim=True), f.amax(dim=1, keepdim=True)], dim=2)
        gl = torch.cat([g, g.mean(dim=1, keepdim=True).expand(b, n, c)], dim=2)
        z = torch.cat([f, pooled.expand(b, n, 2 * c, h, w),
                       gl[..., None, None].expand(b, n, 2 * c, h, w)], dim=2)
        z = z.reshape(b * n, 5 * c, h, w)
        z = F.relu(self.head1(z))
        z = F.relu(self.head2(z))
        return self.out(z).reshape(b, n, 2 * self.levels + 1, h, w)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.weight_logits(x, context)
        return fuse_bands(self.pyramid, self.pyramid.decompose(x), logits, self.act_scale)


def fuse_bands(pyramid: LaplacianPyramid, bands: list[torch.Tensor], logits: torch.Tensor,
               act_scale: float) -> torch.Tensor:
    """Fuse the sources' pyramid bands (each (B, N, h_l, w_l)) with the weight maps ``logits``
    (B, N, 2L+1, h, w): per level softmax over sources of bias + gain * local |band|; in [0, 1]."""
    fused = [(wts * band).sum(dim=1, keepdim=True)
             for wts, band in zip(band_weights(bands, logits, act_scale), bands)]
    return pyramid.reconstruct(fused).clamp(0.0, 1.0)


def band_weights(bands: list[torch.Tensor], logits: torch.Tensor, act_scale: float
                 ) -> list[torch.Tensor]:
    """The per-source weights (B, N, h_l, w_l) of every pyramid level, summing to 1 over N:
    what ``fuse_bands`` multiplies each band by (also read by analysis.contribution)."""
    b, n = logits.shape[:2]
    levels = len(bands) - 1
    weights = []
    for level, band in enumerate(bands):
        size = band.shape[-2:]
        # output channels: (bias, gain) per band level, then the base bias
        lg = logits[:, :, 2 * level:2 * level + 2]
        lg = F.interpolate(lg.reshape(b, -1, *lg.shape[-2:]), size=size, mode="bilinear",
                           align_corners=False).reshape(b, n, -1, *size)
        if level < levels:
            act = local_mean3(band.abs())
            z = lg[:, :, 0] + F.softplus(lg[:, :, 1] + 2.0) * (act_scale * act)
        else:
            z = lg[:, :, 0]
        weights.append(torch.softmax(z, dim=1))
    return weights
