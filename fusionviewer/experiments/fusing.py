"""Run a fusion method on 0..255 gray sources and score it (gray protocol, wall-clock timing)."""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..metrics import compute_metrics, to_display_u8
from ..pipeline import METHOD_LABELS as LABELS  # noqa: F401 - the experiments' labels
from ..pipeline import FusionOptions, fuse_gray

CLASSICAL = ("average", "laplacian", "gff")


def fuse_u8(method: str, sources: Sequence[np.ndarray], *, block_size: int | None = None,
            device: str = "auto", batch_size: int | None = None, **method_options
            ) -> tuple[np.ndarray, float]:
    """Fuse 0..255 gray sources with a named method (pipeline.fuse_gray, no fallback); (fused
    on the 8-bit grid, seconds). The time covers the fusion only (no file I/O)."""
    options = FusionOptions(method=method, block_size=block_size, device=device,
                            batch_size=batch_size, method_options=method_options)
    options.validate()
    x01 = [np.asarray(s, dtype=np.float32) / np.float32(255.0) for s in sources]
    t0 = time.perf_counter()
    fused, used, notices = fuse_gray(x01, options)
    seconds = time.perf_counter() - t0
    if used != method:  # the experiments report a method's own numbers, never a fallback's
        raise ModelError("; ".join(notices) or f"{method} fell back to {used}")
    return to_display_u8(fused), seconds


def score(fused: np.ndarray, sources: Sequence[np.ndarray], functional: int | None,
          labels: Sequence[str] | None = None, target: np.ndarray | None = None) -> dict[str, float]:
    """All metrics (fusionviewer.metrics) of a fused 0..255 image."""
    return compute_metrics(fused, list(sources), target, functional=functional, names=labels)


def cnn_status(device: str = "cpu") -> tuple[bool, str]:
    """Whether the bundled CNN runs here, and a one-line note (the error when it does not)."""
    probe = np.zeros((32, 32), dtype=np.uint8)
    try:
        fuse_u8("cnn", [probe, probe], device=device)
    except (ModelError, ImportError, RuntimeError, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, "bundled weights loaded"


def gpu_available() -> bool:
    """True when torch sees a CUDA device (only then are GPU timings made)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def finite_or_none(v: float) -> float | None:
    """JSON-safe number: None for inf/NaN."""
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None
