"""Robust, fast registration of volumes: multi-start orientation search on a pyramid in mm.

The pyramid's levels are set in millimetres (``levels_mm``; each level bins voxels by an integer
factor per axis, then smooths with sigma = half the level's spacing). At the coarsest level the
24 axis-aligned orientations (every 90-degree rotation about the patient axes) are tried from
the image centres and from the anatomy's centres of mass; the ``search_top`` best after a short
optimisation are refined at every level but the last, the best of those is refined at the
finest level. Padding and air are masked out of the metric (fixed-image mask). Rigid motion is
optimised as a versor (no gimbal lock at 90/180 degrees) and returned as Euler3D; affine starts
from the rigid optimum. Sources sharing a Frame of Reference start at the identity, refine with
a small step, and keep the identity unless the metric improves clearly within a small range.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..progress import sub_progress
from . import core as _core
from .masks import anatomy_mask, index_to_physical, inside_fraction, mask_points
from .quality import (CLEAR_WIN, DISTINCT_MM, RegistrationReport, affine_problem, affine_shape,
                      map_points, mean_distance, rotation_angle_deg)


def _rotations() -> list[np.ndarray]:
    """The 24 proper rotations that map patient axes onto patient axes (identity first)."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, s) in enumerate(zip(perm, signs)):
                m[row, col] = s
            if np.linalg.det(m) > 0:
                out.append(m)
    out.sort(key=lambda m: -np.trace(m))  # identity first, then the smallest turns
    return out


ROTATIONS_3D = _rotations()


@dataclass
class Level:
    """One pyramid level: both images at ~``mm`` spacing, the fixed mask, the sampling rate."""

    mm: float
    fixed: sitk.Image
    moving: sitk.Image
    mask: sitk.Image
    percentage: float


def shrink_to(image: sitk.Image, mm: float) -> sitk.Image:
    """``image`` binned to about ``mm`` per axis (integer factor, never finer, no axis below 4
    voxels) and smoothed with sigma = mm / 2 (axes of fewer than 4 voxels unsmoothed)."""
    factors = [max(1, min(int(mm / s + 1e-6), n // 4))
               for s, n in zip(image.GetSpacing(), image.GetSize())]
    out = sitk.BinShrink(image, factors) if max(factors) > 1 else image
    if max(factors) > 1 or min(out.GetSpacing()) < 0.99 * mm:
        if min(out.GetSize()) >= 4:
            out = sitk.SmoothingRecursiveGaussian(out, [0.5 * mm] * image.GetDimension())
        else:
            variance = [(0.5 * mm) ** 2 if n >= 4 else 0.0 for n in out.GetSize()]
            out = sitk.DiscreteGaussian(out, variance, 32, 0.01, True)
    return sitk.Cast(out, sitk.sitkFloat32)


def build_levels(fixed: sitk.Image, moving: sitk.Image, fixed_threshold: float,
                 opts: dict[str, Any]) -> list[Level]:
    """The pyramid (coarse to fine); levels no finer than the previous one are dropped."""
    levels: list[Level] = []
    for mm in opts["levels_mm"]:
        f, m = shrink_to(fixed, float(mm)), shrink_to(moving, float(mm))
        if levels and f.GetSpacing() == levels[-1].fixed.GetSpacing() and \
                m.GetSpacing() == levels[-1].moving.GetSpacing():
            continue
        mask = anatomy_mask(f, fixed_threshold)
        n = max(1, int(np.count_nonzero(sitk.GetArrayViewFromImage(mask))))
        # A few per cent of the voxels, but at least min_samples inside the mask.
        pct = min(1.0, max(float(opts["sampling_fraction"]), float(opts["min_samples"]) / n))
        levels.append(Level(float(mm), f, m, mask, pct))
    return levels


def _method(level: Level, opts: dict[str, Any], iterations: int, learning_rate: float
            ) -> sitk.ImageRegistrationMethod:
    method = sitk.ImageRegistrationMethod()
    if opts["threads"]:
        method.SetNumberOfThreads(int(opts["threads"]))
        method.SetNumberOfWorkUnits(int(opts["threads"]))
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=int(opts["histogram_bins"]))
    if level.percentage >= 1.0:
        method.SetMetricSamplingStrategy(method.NONE)
    else:
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(level.percentage, int(opts["seed"]))
    method.SetMetricFixedMask(level.mask)
    # Gradients by central differences at the samples: no gradient image per call (cheaper for
    # the 48 short searches, and thin slabs of < 4 voxels need no recursive filter).
    method.SetMetricUseMovingImageGradientFilter(False)
    method.SetMetricUseFixedImageGradientFilter(False)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=float(learning_rate), minStep=float(opts["min_step_mm"]),
        numberOfIterations=int(iterations), relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([1])
    method.SetSmoothingSigmasPerLevel([0.0])
    return method


def optimise(level: Level, pose: sitk.AffineTransform, opts: dict[str, Any], iterations: int,
             learning_rate: float, progress, cancel, names: tuple[str, str],
             kind: str = "rigid") -> tuple[float, int]:
    """Improve ``pose`` in place at one level by a rigid (versor) or affine step; (final metric,
    iterations). The step is optimised from the identity on top of the pose, so a start turned
    by 180 degrees is no singular point of the versor."""
    method = _method(level, opts, iterations, learning_rate)
    delta = sitk.VersorRigid3DTransform() if kind == "rigid" else sitk.AffineTransform(3)
    delta.SetCenter(pose.GetCenter())
    method.SetMovingInitialTransform(pose)
    method.SetInitialTransform(delta, inPlace=True)
    state = _core.run_observed(method, level.fixed, level.moving, 1, iterations, progress,
                               cancel, names)
    _compose_into(pose, delta)
    return float(method.GetMetricValue()), int(state.total_iterations)


def _affine_parts(tx: sitk.Transform) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) with tx(p) = A p + b."""
    a = np.reshape(tx.GetMatrix(), (3, 3))
    c, t = np.asarray(tx.GetCenter()), np.asarray(tx.GetTranslation())
    return a, t + c - a @ c


def _compose_into(pose: sitk.AffineTransform, delta: sitk.Transform) -> None:
    """pose := pose o delta (delta applied first), keeping the pose's centre."""
    a1, b1 = _affine_parts(pose)
    a2, b2 = _affine_parts(delta)
    a, b = a1 @ a2, a1 @ b2 + b1
    c = np.asarray(pose.GetCenter())
    pose.SetMatrix(tuple(map(float, a.ravel())))
    pose.SetTranslation(tuple(map(float, a @ c + b - c)))


def evaluate(level: Level, tx: sitk.Transform, opts: dict[str, Any]) -> float:
    """Mattes MI of ``tx`` at ``level`` on the level's fixed samples (0.0 if nothing overlaps)."""
    method = _method(level, opts, 1, 1.0)
    method.SetInitialTransform(tx, inPlace=False)
    try:
        return float(method.MetricEvaluate(level.fixed, level.moving))
    except RuntimeError:  # too few samples inside the moving image
        return 0.0


def _versor(rotation: np.ndarray, centre: np.ndarray, target: np.ndarray
            ) -> sitk.AffineTransform:
    """The pose turning by ``rotation`` about ``centre`` and moving ``centre`` onto ``target``."""
    tx = sitk.AffineTransform(3)
    tx.SetCenter(tuple(map(float, centre)))
    tx.SetMatrix(tuple(map(float, rotation.ravel())))
    tx.SetTranslation(tuple(map(float, target - centre)))
    return tx


def _copy(tx: sitk.AffineTransform) -> sitk.AffineTransform:
    return sitk.AffineTransform(tx)


def _euler(tx: sitk.Transform) -> sitk.Euler3DTransform:
    out = sitk.Euler3DTransform()
    out.SetCenter(tx.GetCenter())
    out.SetMatrix(tx.GetMatrix(), 1e-5)
    out.SetTranslation(tx.GetTranslation())
    return out


def _relative(a: sitk.AffineTransform, b: sitk.AffineTransform) -> sitk.AffineTransform:
    """The linear part of a relative to b (for the angle between two poses)."""
    out = sitk.AffineTransform(3)
    m = np.reshape(a.GetMatrix(), (3, 3)) @ np.linalg.inv(np.reshape(b.GetMatrix(), (3, 3)))
    out.SetMatrix(tuple(map(float, m.ravel())))
    return out


def _geometric_centre(image: sitk.Image) -> np.ndarray:
    size = np.asarray(image.GetSize(), dtype=float)
    return index_to_physical(image, ((size - 1) / 2)[np.newaxis])[0]


def overlap(tx: sitk.Transform, fixed_pts: np.ndarray, moving_pts: np.ndarray,
            fixed: sitk.Image, moving: sitk.Image) -> float:
    """Fraction of the smaller anatomy inside the other image's field of view under ``tx``."""
    a = inside_fraction(map_points(tx, fixed_pts), moving)
    inverse = None
    try:
        inverse = tx.GetInverse()
    except RuntimeError:
        pass
    b = inside_fraction(map_points(inverse, moving_pts), fixed) if inverse is not None else 0.0
    return max(a, b)


def register_volumes(fixed: sitk.Image, moving: sitk.Image, thresholds: tuple[float, float], *,
                     transform: str, init: str, same_frame: bool, opts: dict[str, Any],
                     progress, cancel, names: tuple[str, str]
                     ) -> tuple[sitk.Transform, RegistrationResultParts]:
    """Register two prepared float32 volumes; (fixed->moving transform, report parts)."""
    levels = build_levels(fixed, moving, thresholds[0], opts)
    coarse, fine = levels[0], levels[-1]
    fixed_pts = mask_points(coarse.mask)
    moving_pts = mask_points(anatomy_mask(coarse.moving, thresholds[1], dilate=0))
    centres_f = {"geometry": _geometric_centre(fixed), "moments": fixed_pts.mean(axis=0)}
    centres_m = {"geometry": _geometric_centre(moving), "moments": moving_pts.mean(axis=0)}
    iters = int(opts["level_iterations"])
    total_iterations = 0

    if same_frame:
        reference = _versor(np.eye(3), centres_f["geometry"], centres_f["geometry"])
        starts = [reference]
        start_text = "identity (same Frame of Reference)"
    elif init == "search":
        starts = [_versor(r, centres_f[c], centres_m[c]) for c in ("geometry", "moments")
                  for r in ROTATIONS_3D]
        reference = starts[0]
        start_text = f"orientation search ({len(starts)} starts)"
    else:
        reference = _versor(np.eye(3), centres_f[init], centres_m[init])
        starts = [reference]
        start_text = {"geometry": "image centres", "moments": "centres of mass"}[init]

    def covered(tx) -> float:
        # MI ignores samples that fall outside the moving image: a pose that pushes most of
        # the anatomy out of the moving field of view can score well on the few left. Starts
        # are therefore ranked by MI x the fraction of the fixed anatomy inside that field.
        return inside_fraction(map_points(tx, fixed_pts), moving)

    clear_win, gap = None, None
    middle = levels[:-1]
    if len(starts) > 1:
        # Search: a short optimisation of every start at the coarsest level, on fewer samples.
        scored = []
        n_mask = max(1, int(np.count_nonzero(sitk.GetArrayViewFromImage(coarse.mask))))
        search_level = Level(coarse.mm, coarse.fixed, coarse.moving, coarse.mask,
                             min(1.0, float(opts["search_samples"]) / n_mask))
        search = sub_progress(progress, 0.0, 0.35)
        failure: InputError | None = None
        for j, tx in enumerate(starts):
            tx = _copy(tx)
            try:
                metric, n = optimise(search_level, tx, opts, int(opts["search_iterations"]),
                                     coarse.mm / 2, sub_progress(search, j / len(starts),
                                                                 (j + 1) / len(starts)),
                                     cancel, names)
            except InputError as exc:  # a turn that leaves no sample in view: not a candidate
                failure = exc
                continue
            total_iterations += n
            scored.append((metric * covered(tx), j, tx))
        if not scored:
            raise failure
        scored.sort(key=lambda s: (s[0], s[1]))
        keep: list[sitk.Transform] = []
        for _, _, tx in scored:
            if all(mean_distance(tx, k, fixed_pts) > DISTINCT_MM for k in keep):
                keep.append(tx)
            if len(keep) >= int(opts["search_top"]):
                break
        # The best start without a turn is always refined too: a turn must win clearly.
        upright = next((tx for _, j, tx in scored if j % len(ROTATIONS_3D) == 0), keep[0])
        if all(mean_distance(upright, k, fixed_pts) > DISTINCT_MM for k in keep):
            keep.append(upright)
        upright_index = next(i for i, k in enumerate(keep)
                             if mean_distance(upright, k, fixed_pts) <= DISTINCT_MM)
        # Refine them at every level but the last; compare on the same samples.
        refine = sub_progress(progress, 0.35, 0.6)
        finals = []
        judge_level = middle[-1] if middle else fine
        for j, tx in enumerate(keep):
            part = sub_progress(refine, j / len(keep), (j + 1) / len(keep))
            for i, level in enumerate(middle or [fine]):
                _, n = optimise(level, tx, opts, iters, level.mm / 4,
                                sub_progress(part, i / max(len(middle), 1),
                                             (i + 1) / max(len(middle), 1)), cancel, names)
                total_iterations += n
            finals.append((evaluate(judge_level, tx, opts) * covered(tx), j, tx))
        finals.sort(key=lambda s: (s[0], s[1]))
        chosen = finals[0]
        no_turn = next(f for f in finals if f[1] == upright_index)
        turned = rotation_angle_deg(_relative(chosen[2], no_turn[2])) > 45.0
        if turned and (no_turn[0] - chosen[0]) <= CLEAR_WIN * abs(chosen[0]):
            chosen = no_turn  # a turn that does not win clearly is not taken
        best = chosen[2]
        rivals = [f for f in finals if f is not chosen
                  and mean_distance(f[2], best, fixed_pts) > DISTINCT_MM]
        if rivals:
            gap = (min(f[0] for f in rivals) - chosen[0]) / max(abs(chosen[0]), 1e-12)
            clear_win = gap > CLEAR_WIN
        else:
            clear_win, gap = True, None
        rigid = best
    else:
        rigid = _copy(starts[0])
        step = 1.0 if same_frame else None
        part = sub_progress(progress, 0.0, 0.6)
        for i, level in enumerate(middle):
            _, n = optimise(level, rigid, opts, iters, step or level.mm / 2,
                            sub_progress(part, i / len(middle), (i + 1) / len(middle)),
                            cancel, names)
            total_iterations += n

    # Finest level.
    final_step = 1.0 if same_frame else fine.mm / 4
    _, final_iterations = optimise(fine, rigid, opts, iters, final_step,
                                   sub_progress(progress, 0.6, 0.8), cancel, names)
    total_iterations += final_iterations

    parts = RegistrationResultParts(start=start_text, starts_tried=len(starts),
                                    clear_win=clear_win, runner_up_gap=gap,
                                    same_frame_of_reference=same_frame)
    if same_frame:
        m_id, m_found = evaluate(fine, reference, opts), evaluate(fine, rigid, opts)
        moved = mean_distance(rigid, reference, fixed_pts)
        gain = (m_id - m_found) / max(abs(m_id), 1e-12)
        if gain > float(opts["same_frame_gain"]) and moved <= float(opts["same_frame_range_mm"]):
            parts.identity_kept = False
            parts.notes.append(f"same Frame of Reference: moved {moved:.1f} mm from the hardware "
                               f"alignment (metric {gain:.1%} better)")
        else:
            parts.identity_kept = True
            rigid = _copy(reference)
            parts.notes.append(f"same Frame of Reference: the hardware alignment (identity) is "
                               f"kept (the metric found {moved:.1f} mm away is only {gain:.1%} "
                               "better)")
    result: sitk.Transform = _euler(rigid)
    kind = "rigid"
    if transform in ("affine", "deformable_affine"):
        affine = _copy(rigid)
        aff_levels = levels[-2:]
        part = sub_progress(progress, 0.8, 0.97)
        for i, level in enumerate(aff_levels):
            _, n = optimise(level, affine, opts, iters, level.mm / 4,
                            sub_progress(part, i / len(aff_levels), (i + 1) / len(aff_levels)),
                            cancel, names, kind="affine")
            total_iterations += n
        final_iterations = n
        matrix = np.reshape(affine.GetMatrix(), (3, 3))
        parts.determinant, parts.scales, parts.shear = affine_shape(matrix)
        problem = affine_problem(matrix)
        if problem is None:
            result, kind = affine, "affine"
        else:
            parts.affine_rejected = True
            parts.notes.append(f"affine result rejected ({problem}); the rigid result is used")

    parts.kind = kind
    parts.metric_start = evaluate(fine, reference, opts)
    parts.metric_end = evaluate(fine, result, opts)
    # as acquired: the two in patient space without any transform
    parts.overlap_start = overlap(sitk.Euler3DTransform(), fixed_pts, moving_pts, fixed, moving)
    parts.overlap_end = overlap(result, fixed_pts, moving_pts, fixed, moving)
    parts.iterations = total_iterations
    parts.final_iterations = final_iterations
    parts.iteration_cap = iters
    parts.rotation_deg = rotation_angle_deg(result)
    centre = centres_f["geometry"][np.newaxis]
    parts.translation_mm = float(np.linalg.norm(map_points(result, centre) - centre))
    parts.levels = levels
    parts.fixed_pts, parts.moving_pts = fixed_pts, moving_pts
    return result, parts


class RegistrationResultParts:
    """What ``register_volumes`` learnt, turned into a RegistrationReport by the caller."""

    def __init__(self, **fields: Any):
        self.kind = "rigid"
        self.notes: list[str] = []
        self.identity_kept = None
        self.determinant = self.scales = self.shear = None
        self.affine_rejected = False
        self.levels: list[Level] = []
        for key, value in fields.items():
            setattr(self, key, value)

    def report(self, requested: str) -> RegistrationReport:
        """The judged report."""
        keys = [f for f in RegistrationReport.__dataclass_fields__
                if f not in ("transform", "requested", "verdict", "reasons") and hasattr(self, f)]
        return RegistrationReport(transform=self.kind, requested=requested,
                                  **{k: getattr(self, k) for k in keys}).judge()
