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

# The CNN's tile sizes: powers of two from 16 to 1024 (a tile at least as large as the slice
# means whole slices). Smaller tiles carry a 64-pixel halo each and take minutes per slice.
BLOCK_SIZES = tuple(2 ** i for i in range(4, 11))
CNN_OPTIONS = ("block_size", "device", "batch_size", "weights")

DESCRIPTIONS = {
    "average": "pixel average",
    "laplacian": "Laplacian pyramid (4 levels, average base, max-absolute detail)",
    "gff": "guided-filtering fusion (Li, Kang & Hu 2013)",
    "cnn": "supervised CNN (bundled weights)",
}


def _fuse_cnn(images, *, progress=None, cancel=None, block_size=None, device="auto",
              batch_size=None, weights=None):
    """The bundled CNN; imported on first use so the classical methods never need torch."""
    try:
        from .inference import fuse_cnn
    except ImportError as exc:  # torch or the inference module missing: same as no weights
        from ..errors import ModelError

        raise ModelError(f"the CNN cannot be loaded: {exc}") from exc
    return fuse_cnn(images, progress=progress, cancel=cancel, block_size=block_size,
                    device=device, batch_size=batch_size, weights=weights)


def check_block_size(block_size: int | None) -> None:
    """Raise InputError unless ``block_size`` is None (whole slices) or one of BLOCK_SIZES."""
    if block_size is None:
        return
    if isinstance(block_size, bool) or int(block_size) != block_size \
            or int(block_size) not in BLOCK_SIZES:
        from ..errors import InputError

        raise InputError(f"block size must be one of {', '.join(map(str, BLOCK_SIZES))} "
                         f"pixels (a power of two; a block as large as the slice means whole "
                         f"slices), got {block_size}")


_METHODS: dict[str, Callable] = {
    "average": fuse_average,
    "laplacian": fuse_laplacian,
    "gff": fuse_gff,
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


__all__ = ["BLOCK_SIZES", "CNN_OPTIONS", "DEFAULT_METHOD", "FALLBACK_METHOD", "DESCRIPTIONS",
           "available_methods", "check_block_size", "get_method", "fuse_average",
           "fuse_laplacian", "fuse_gff"]
