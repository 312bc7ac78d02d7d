"""Fusion methods by name: ``get_method("gff")(images, progress=..., cancel=..., **options)``.

A method takes N >= 2 gray float arrays in [0, 1] of one shape, 2-D ``(H, W)`` or 3-D
``(Z, H, W)`` (slice-wise), and returns the fused float32 array of that shape in [0, 1].
"cnn" is imported lazily (torch is heavy) from ``fusionviewer.fusion.inference``; it raises
``fusionviewer.errors.ModelError`` when the bundled weights are missing or corrupt.
"""

from __future__ import annotations

from typing import Callable

from .classical import fuse_average, fuse_gff, fuse_laplacian

DEFAULT_METHOD = "cnn"
FALLBACK_METHOD = "gff"

DESCRIPTIONS = {
    "average": "pixel average",
    "laplacian": "Laplacian pyramid (4 levels, average base, max-absolute detail)",
    "gff": "guided-filtering fusion (Li, Kang & Hu 2013)",
    "cnn": "supervised CNN (bundled weights)",
}


def _fuse_cnn(images, *, progress=None, cancel=None, block_size=None, device="auto",
              batch_size=None, weights=None, **_ignored):
    """The bundled CNN; imported on first use so the classical methods never need torch."""
    try:
        from .inference import fuse_cnn
    except ImportError as exc:  # torch or the inference module missing: same as no weights
        from ..errors import ModelError

        raise ModelError(f"the CNN cannot be loaded: {exc}") from exc
    return fuse_cnn(images, progress=progress, cancel=cancel, block_size=block_size,
                    device=device, batch_size=batch_size, weights=weights)


def _classical(fn: Callable) -> Callable:
    """Wrap a classical method so it ignores CNN-only options (block_size, device, batch_size)."""

    def method(images, *, progress=None, cancel=None, block_size=None, device=None,
               batch_size=None, **options):
        return fn(images, progress=progress, cancel=cancel, **options)

    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


_METHODS: dict[str, Callable] = {
    "average": _classical(fuse_average),
    "laplacian": _classical(fuse_laplacian),
    "gff": _classical(fuse_gff),
    "cnn": _fuse_cnn,
}


def available_methods() -> list[str]:
    """Names accepted by :func:`get_method`, in menu order."""
    return list(_METHODS)


def get_method(name: str) -> Callable:
    """The fusion callable registered under ``name`` (ValueError listing the names if unknown)."""
    key = (name or "").strip().lower()
    if key not in _METHODS:
        raise ValueError(f"unknown fusion method '{name}' (choose from "
                         f"{', '.join(available_methods())})")
    return _METHODS[key]


__all__ = ["DEFAULT_METHOD", "FALLBACK_METHOD", "DESCRIPTIONS", "available_methods",
           "get_method", "fuse_average", "fuse_laplacian", "fuse_gff"]
