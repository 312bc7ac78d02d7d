"""Run a fusion method on 0..255 gray sources and score it (gray protocol, wall-clock timing)."""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..fusion import get_method
from ..metrics import compute_metrics, to_display_u8

CLASSICAL = ("average", "laplacian", "gff")
LABELS = {"cnn": "CNN (ours)", "average": "Average", "laplacian": "Laplacian pyramid (LP-4)",
          "gff": "GFF (guided filtering)"}


def fuse_u8(method: str, sources: Sequence[np.ndarray], **options) -> tuple[np.ndarray, float]:
    """Fuse 0..255 gray sources with a named method; (fused on the 8-bit grid, seconds).

    The time covers the method call only (inputs already in [0, 1] floats, no file I/O).
    """
    fn = get_method(method)
    x01 = [np.asarray(s, dtype=np.float32) / np.float32(255.0) for s in sources]
    t0 = time.perf_counter()
    fused = fn(x01, **options)
    seconds = time.perf_counter() - t0
    return to_display_u8(fused), seconds


def score(fused: np.ndarray, sources: Sequence[np.ndarray], functional: int | None,
          labels: Sequence[str] | None = None, target: np.ndarray | None = None) -> dict[str, float]:
    """All metrics (fusionviewer.metrics) of a fused 0..255 image, aliases dropped."""
    m = compute_metrics(fused, list(sources), target, functional=functional, names=labels)
    return {k: v for k, v in m.items() if k not in ("ENT", "H", "Entropy", "STD", "GRAD")}


def cnn_status(device: str = "cpu") -> tuple[bool, str]:
    """Whether the bundled CNN runs here, and a one-line note (the error when it does not)."""
    probe = np.zeros((32, 32), dtype=np.float32)
    try:
        get_method("cnn")([probe, probe], device=device)
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
