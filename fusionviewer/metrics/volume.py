"""Metrics of volumes slice by slice, the display mapping of [0, 1] floats, with progress/cancel."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..image import Image
from ..progress import CancelFlag, ProgressCallback, check_cancel, report
from .compute import as_gray, compute_metrics


def to_display_u8(x01: np.ndarray) -> np.ndarray:
    """Map [0, 1] floats to the 0..255 integer grid (rounded half-to-even), as float64."""
    return np.rint(np.clip(np.asarray(x01, dtype=np.float64), 0.0, 1.0) * 255.0)


def _volume(x: Any, what: str) -> np.ndarray:
    """[z, y, x] or [z, y, x, 3] array from an Image or an array (2-D becomes one slice)."""
    a = x.array if isinstance(x, Image) else np.asarray(x)
    if a.ndim == 2:
        a = a[np.newaxis]
    if a.ndim not in (3, 4):
        raise InputError(f"{what} must be a volume [z, y, x], got shape {a.shape}")
    return a


def has_signal(fused_slice: np.ndarray) -> bool:
    """A slice 'with signal': its rounded 0..255 values have max > 0 and are not all equal."""
    q = np.clip(np.rint(as_gray(fused_slice, "fused slice")), 0, 255)
    return bool(q.max() > 0 and q.min() != q.max())


def evaluate_volume(fused: Any, sources: Sequence[Any], target: Any = None, *,
                    functional: int | None = None, progress: ProgressCallback | None = None,
                    cancel: CancelFlag | None = None, **options: Any) -> dict:
    """Metrics per slice and their mean over the slices with signal (0..255 scale).

    Returns {"per_slice": [dict per slice], "mean": dict, "slices_with_signal": [indices],
    "num_slices": z}. A slice has signal when the rounded fused slice has max > 0 and is not
    constant; "mean" is empty when no slice has signal. ``options`` go to compute_metrics.
    Calls progress("measuring", fraction) after each slice and checks cancel before each.
    """
    f = _volume(fused, "fused image")
    srcs = [_volume(s, f"source {i + 1}") for i, s in enumerate(sources)]
    r = None if target is None else _volume(target, "target image")
    for i, s in enumerate(srcs + ([r] if r is not None else [])):
        if s.shape[:3] != f.shape[:3]:
            what = "target image" if i == len(srcs) else f"source {i + 1}"
            raise InputError(f"{what} has shape {s.shape[:3]}, the fused image {f.shape[:3]}")
    z = f.shape[0]
    per_slice, with_signal = [], []
    for k in range(z):
        check_cancel(cancel)
        m = compute_metrics(f[k], [s[k] for s in srcs], None if r is None else r[k],
                            functional=functional, **options)
        per_slice.append(m)
        if has_signal(f[k]):
            with_signal.append(k)
        report(progress, "measuring", (k + 1) / z)
    mean = {}
    if with_signal:
        for key in per_slice[with_signal[0]]:
            mean[key] = float(np.mean([per_slice[k][key] for k in with_signal]))
    return {"per_slice": per_slice, "mean": mean, "slices_with_signal": with_signal,
            "num_slices": z}
