"""The quality report of a registration and its verdict (good / doubtful / failed).

Verdict rules, first match wins (thresholds are the constants below):

- **failed**: the two images overlap by less than ``FAILED_OVERLAP`` (20 %) of the smaller
  anatomy after registration; or the final Mattes MI is above ``FAILED_MI`` (-0.02: the images
  share almost no information at the found position); or the final metric is worse than at the
  start.
- **doubtful**: overlap below ``DOUBTFUL_OVERLAP`` (50 %); the last level stopped at its
  iteration cap (not converged); the best start did not win clearly (a start ending at another
  pose, more than ``DISTINCT_MM`` away on average, came within ``CLEAR_WIN`` (3 %) of the best
  metric); an affine result was rejected for insane scale/shear (the rigid result is kept).
- **good**: none of the above.

Metrics are Mattes mutual information (negative; lower is better), evaluated at the start and at
the end on the same finest-level samples so that the two are comparable. Overlap is the fraction
of the smaller of the two anatomies (voxels above the anatomy threshold) that lies inside the
other image's field of view, in patient space (mm), under the transform.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

FAILED_OVERLAP = 0.20
DOUBTFUL_OVERLAP = 0.50
FAILED_MI = -0.02
CLEAR_WIN = 0.03  # relative metric margin of the best start over a distinct runner-up
DISTINCT_MM = 5.0  # mean distance (mm) above which two results are different poses
AFFINE_SCALES = (0.8, 1.25)  # allowed singular values of an affine matrix
AFFINE_SHEAR = 0.1  # largest |shear| (upper-triangular factor, relative to its diagonal)
VERDICTS = ("good", "doubtful", "failed")


@dataclass
class RegistrationReport:
    """What a registration did and how far to trust it (metrics Mattes MI, distances mm)."""

    transform: str  # the transform model of the result: rigid, affine or deformable
    requested: str  # the model asked for
    start: str  # how it started: orientation search, image centres, identity (same FoR), ...
    starts_tried: int = 1
    metric_start: float = 0.0
    metric_end: float = 0.0
    overlap_start: float = 0.0  # fraction of the smaller anatomy inside the other's field
    overlap_end: float = 0.0
    iterations: int = 0  # all levels and starts
    final_iterations: int = 0  # at the finest level
    iteration_cap: int = 0  # of the finest level
    clear_win: bool | None = None  # None: one start only
    runner_up_gap: float | None = None  # relative metric gap to a distinct runner-up
    rotation_deg: float = 0.0  # total rotation angle of the result
    translation_mm: float = 0.0  # displacement of the fixed image's centre
    same_frame_of_reference: bool = False
    identity_kept: bool | None = None  # same FoR only: the hardware alignment was kept
    determinant: float | None = None  # affine only
    scales: list[float] | None = None  # affine only: singular values of the matrix
    shear: float | None = None  # affine only
    affine_rejected: bool = False
    notes: list[str] = field(default_factory=list)
    verdict: str = "good"
    reasons: list[str] = field(default_factory=list)

    def judge(self) -> "RegistrationReport":
        """Set ``verdict`` and ``reasons`` by the module's rules; returns self."""
        failed, doubtful = [], []
        if self.overlap_end < FAILED_OVERLAP:
            failed.append(f"the images overlap by {self.overlap_end:.0%} only")
        if self.metric_end > FAILED_MI:
            failed.append(f"mutual information {self.metric_end:.3f} is near zero: the images "
                          "share almost no structure at the found position")
        if self.metric_end > self.metric_start + 1e-6:
            failed.append(f"the metric got worse ({self.metric_start:.4f} -> "
                          f"{self.metric_end:.4f})")
        if self.overlap_end < DOUBTFUL_OVERLAP:
            doubtful.append(f"partial overlap ({self.overlap_end:.0%})")
        if self.iteration_cap and self.final_iterations >= self.iteration_cap:
            doubtful.append(f"stopped at the iteration cap ({self.iteration_cap}) without "
                            "converging")
        if self.clear_win is False:
            doubtful.append(f"another start reached a different pose within "
                            f"{(self.runner_up_gap or 0):.1%} of the best metric")
        if self.affine_rejected:
            doubtful.append("the affine result was implausible; the rigid result is used")
        self.verdict = "failed" if failed else "doubtful" if doubtful else "good"
        self.reasons = failed + doubtful
        return self

    def summary(self) -> str:
        """One line: verdict, metric start -> end, overlap, iterations, reasons."""
        text = (f"{self.verdict}: {self.transform}, start {self.start}, Mattes MI "
                f"{self.metric_start:.4f} -> {self.metric_end:.4f}, overlap "
                f"{self.overlap_end:.0%}, {self.final_iterations}/{self.iteration_cap} "
                f"iterations at the finest level")
        if self.reasons:
            text += " (" + "; ".join(self.reasons) + ")"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats rounded)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = round(value, 6)
            elif isinstance(value, list) and value and isinstance(value[0], float):
                out[key] = [round(v, 6) for v in value]
        return out


def affine_shape(matrix: np.ndarray) -> tuple[float, list[float], float]:
    """(determinant, singular values, largest |shear|) of an affine matrix."""
    m = np.asarray(matrix, dtype=float)
    det = float(np.linalg.det(m))
    scales = [float(s) for s in np.linalg.svd(m, compute_uv=False)]
    _, upper = np.linalg.qr(m)
    diag = np.abs(np.diag(upper))
    shear = 0.0
    for i in range(len(diag)):
        for j in range(i + 1, len(diag)):
            shear = max(shear, abs(upper[i, j]) / max(diag[i], 1e-12))
    return det, scales, float(shear)


def affine_problem(matrix: np.ndarray) -> str | None:
    """Why an affine matrix is implausible for one patient (None: it is sane)."""
    det, scales, shear = affine_shape(matrix)
    if det <= 0:
        return f"determinant {det:.3g} (a reflection or collapse)"
    lo, hi = AFFINE_SCALES
    if min(scales) < lo or max(scales) > hi:
        return (f"scale factors {', '.join(f'{s:.2f}' for s in scales)} outside "
                f"{lo}-{hi}")
    if shear > AFFINE_SHEAR:
        return f"shear {shear:.2f} above {AFFINE_SHEAR}"
    return None


def linear_part(tx: sitk.Transform) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(matrix, centre, translation) of a matrix-offset transform; None for others."""
    try:
        dim = tx.GetDimension()
        matrix = np.reshape(tx.GetMatrix(), (dim, dim))
        return matrix, np.asarray(tx.GetCenter()), np.asarray(tx.GetTranslation())
    except (AttributeError, RuntimeError):
        return None


def map_points(tx: sitk.Transform, pts: np.ndarray) -> np.ndarray:
    """Apply a transform to physical points (n, dim)."""
    lin = linear_part(tx)
    if lin is not None:
        m, c, t = lin
        return (pts - c) @ m.T + c + t
    return np.array([tx.TransformPoint(tuple(map(float, p))) for p in pts])


def mean_distance(a: sitk.Transform, b: sitk.Transform, pts: np.ndarray) -> float:
    """Mean distance (mm) between the images of ``pts`` under two transforms."""
    if len(pts) == 0:
        return 0.0
    return float(np.linalg.norm(map_points(a, pts) - map_points(b, pts), axis=1).mean())


def rotation_angle_deg(tx: sitk.Transform) -> float:
    """Rotation angle (degrees) of the linear part (of its nearest rotation for affine)."""
    lin = linear_part(tx)
    if lin is None:
        return 0.0
    m = lin[0]
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    if m.shape[0] == 2:
        return float(abs(np.degrees(np.arctan2(r[1, 0], r[0, 0]))))
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0))))
