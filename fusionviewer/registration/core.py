"""Rigid/affine intensity registration (Mattes mutual information, SimpleITK) and resampling.

``register(fixed, moving)`` finds the transform mapping points of the fixed image's physical
space into the moving image's space (ITK convention), then resamples the moving image onto the
fixed grid. One-slice images are registered in 2-D (Euler2D / 2-D affine on the slice), volumes
in 3-D (Euler3D / 3-D affine); axial slices are registered in physical x, y, other slice
orientations in the fixed slice's own in-plane frame. Colour images are registered on their
luminance and resampled per channel. The metric is sampled with a fixed seed and summed in one
work unit, so results repeat bit for bit.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..errors import Cancelled, InputError
from ..image import Image
from ..pipeline.options import INITS, REGISTRATIONS, choice_error
from ..progress import CancelFlag, ProgressCallback, check_cancel, report, sub_progress
from .quality import RegistrationReport

TRANSFORMS = tuple(k for k in REGISTRATIONS if k not in ("none", "auto"))

# Defaults that register the 256 x 256 Harvard pairs to well under a pixel; every key can be
# overridden through ``register(..., **tuning)``.
DEFAULT_TUNING: dict[str, Any] = {
    "histogram_bins": 32,
    # Fraction of the fixed image's voxels sampled per level (a number or one per level),
    # capped at max_samples; random with a fixed seed.
    "sampling_percentage": (1.0, 1.0, 0.5, 0.25),
    "max_samples": 50_000,
    "seed": 20240601,
    "shrink_factors": (8, 4, 2, 1),
    "smoothing_sigmas": (4.0, 2.0, 1.0, 0.5),  # in voxels of the full-resolution image
    "learning_rate": 2.0,  # largest step, in mm (scales from physical shift)
    "min_step": 1e-3,
    "iterations": 200,  # maximum per level
    "relaxation": 0.9,  # a slow step decay: 0.5 stopped several slices short of 8 degrees
    "gradient_tolerance": 1e-8,
    "sigmas_in_mm": False,  # smoothing_sigmas in mm instead of full-resolution voxels
    "min_level_size": 2,  # no axis is shrunk below this many voxels
    # One work unit: the metric then sums in a fixed order and results repeat bit for bit
    # (several threads gave parameters differing in the 6th digit); 0 = ITK's default.
    "threads": 1,
    # Volumes (3-D): pyramid levels in mm (coarse to fine), the orientation search, sampling.
    "levels_mm": (8.0, 4.0, 2.0),
    "search_iterations": 20,  # short optimisation of each of the 48 starts, coarsest level
    "search_samples": 3000,  # random samples inside the fixed mask for that search
    "search_top": 3,  # starts refined at every level after the search
    "level_iterations": 100,  # cap per level (the report says when the finest level hit it)
    "sampling_fraction": 0.03,  # of a level's voxels, random with ``seed``
    "min_samples": 6000,  # at least this many samples inside the fixed mask
    "min_step_mm": 0.01,  # convergence: the step fell below this
    # Same Frame of Reference: the identity stays unless the metric improves by this fraction
    # within this mean distance (mm).
    "same_frame_gain": 0.05,
    "same_frame_range_mm": 10.0,
    # Deformable: B-spline control-point spacing (mm) on top of the rigid/affine result.
    "bspline_grid_mm": 40.0,
    "bspline_iterations": 50,
    "bspline_step_mm": 2.0,  # largest control-point step
}

STAGE = "registering"
_CANCEL_POLL_S = 0.05
# Cancelled registrations still finishing in ITK; a process must not exit under them (ITK's
# threads abort the interpreter's shutdown), see ``abandoned_work``.
ABANDONED: list[threading.Thread] = []


def abandoned_work() -> bool:
    """True while a cancelled registration is still running in a worker thread."""
    ABANDONED[:] = [t for t in ABANDONED if t.is_alive()]
    return bool(ABANDONED)


@dataclass(frozen=True)
class RegistrationResult:
    """The moving image on the fixed grid, the fixed->moving transform, the final metric and
    the quality report (verdict good / doubtful / failed, see ``quality``)."""

    image: Image
    transform: sitk.Transform
    metric_value: float  # Mattes MI (negative; lower is better)
    iterations: int  # optimizer iterations over all levels and starts
    report: RegistrationReport | None = None

    @property
    def verdict(self) -> str:
        return self.report.verdict if self.report is not None else "good"


def register(fixed: Image, moving: Image, *, transform: str = "rigid", init: str = "search",
             progress: ProgressCallback | None = None, cancel: CancelFlag | None = None,
             **tuning: Any) -> RegistrationResult:
    """Register ``moving`` onto ``fixed`` (rigid, affine or deformable; Mattes MI) with a report.

    Sources in one patient space (same Frame of Reference, or either without one) that do not
    overlap there raise InputError. Sources sharing a Frame of Reference start at the identity.
    """
    if transform not in TRANSFORMS:
        raise choice_error("transform", transform, TRANSFORMS)
    if init not in INITS:
        raise choice_error("initialisation", init, INITS)
    unknown = set(tuning) - set(DEFAULT_TUNING)
    if unknown:
        raise TypeError(f"unknown tuning option(s): {', '.join(sorted(unknown))}")
    opts = {**DEFAULT_TUNING, **tuning}
    fixed.check_finite(_name(fixed))
    moving.check_finite(_name(moving))
    dim = _registration_dimension(fixed, moving)
    check_cancel(cancel)
    report(progress, STAGE, 0.0)

    _check_structure(fixed)
    _check_structure(moving)
    same_frame = _same_frame(fixed, moving)
    if dim == 3:
        from .masks import prepare_intensities
        from .volume import register_volumes

        f_arr, f_thr = prepare_intensities(fixed.luminance())
        fixed_s = _sitk_from_array(f_arr, fixed, 3)
        del f_arr
        m_arr, m_thr = prepare_intensities(moving.luminance())
        moving_s = _sitk_from_array(m_arr, moving, 3)
        del m_arr
        _check_patient_overlap(fixed, moving, fixed_s, moving_s, (f_thr, m_thr))
        rigid_or_affine = "affine" if transform in ("affine", "deformable") else "rigid"
        split = 0.8 if transform == "deformable" else 1.0
        final, parts = register_volumes(
            fixed_s, moving_s, (f_thr, m_thr), transform=rigid_or_affine, init=init,
            same_frame=same_frame and transform == "rigid", opts=opts,
            progress=sub_progress(progress, 0.0, split), cancel=cancel,
            names=(_label(moving), _label(fixed)))
        if transform == "deformable":
            from .deformable import refine_bspline

            from .volume import evaluate

            bulk_metric = evaluate(parts.levels[-1], final, opts)
            refined, n = refine_bspline(parts.levels[-1], final, opts,
                                        sub_progress(progress, split, 0.99), cancel,
                                        (_label(moving), _label(fixed)))
            parts.iterations += n
            refined_metric = evaluate(parts.levels[-1], refined, opts)
            if refined_metric < bulk_metric:
                final = refined
                parts.kind = "deformable"
                parts.metric_end = refined_metric
                parts.final_iterations = n
                parts.iteration_cap = int(opts["bspline_iterations"])
            else:
                parts.notes.append(f"B-spline refinement did not improve the metric "
                                   f"({bulk_metric:.4f} -> {refined_metric:.4f}); the "
                                   f"{parts.kind} result is kept")
        rep = parts.report(transform)
        metric = rep.metric_end
        iterations = rep.iterations
        kind = rep.transform
    else:
        final, metric, iterations, rep = _register_2d(fixed, moving, transform, init, opts,
                                                      progress, cancel)
        kind = rep.transform
    start = rep.start
    image = resample_to(moving, fixed, final,
                        description=f"registered ({kind}, Mattes MI, {start}) onto "
                                    f"{_label(fixed)}; {rep.verdict}")
    report(progress, STAGE, 1.0)
    return RegistrationResult(image=image, transform=final, metric_value=metric,
                              iterations=iterations, report=rep)


def apply_transform(fixed: Image, moving: Image, transform) -> RegistrationResult:
    """``moving`` on the fixed grid through a given fixed->moving transform (a SimpleITK
    transform or a .tfm path); no optimisation, no report (the user's own alignment)."""
    tx = load_transform(transform) if isinstance(transform, (str, os.PathLike)) else transform
    dim = 2 if fixed.is_2d and moving.is_2d else 3
    if tx.GetDimension() != dim:
        raise InputError(f"a {tx.GetDimension()}-D transform cannot place {_label(moving)} "
                         f"({dim}-D registration)")
    image = resample_to(moving, fixed, tx, description=f"placed by a given transform onto "
                                                       f"{_label(fixed)}")
    return RegistrationResult(image=image, transform=tx, metric_value=float("nan"),
                              iterations=0, report=None)


def _same_frame(fixed: Image, moving: Image) -> bool:
    a = fixed.provenance.frame_of_reference_uid
    b = moving.provenance.frame_of_reference_uid
    return bool(a) and a == b


def _comparable_frames(fixed: Image, moving: Image) -> bool:
    """Patient coordinates of the two relate directly: same Frame of Reference, or either has
    none (files without one are taken to be in one scanner space)."""
    a = fixed.provenance.frame_of_reference_uid
    b = moving.provenance.frame_of_reference_uid
    return not a or not b or a == b


def _check_patient_overlap(fixed: Image, moving: Image, fixed_s, moving_s, thresholds) -> None:
    """InputError when two images in one patient space do not overlap there at all."""
    if not _comparable_frames(fixed, moving):
        return
    from .masks import anatomy_mask, inside_fraction, mask_points
    from .volume import shrink_to

    pts_f = mask_points(anatomy_mask(shrink_to(fixed_s, 8.0), thresholds[0], dilate=0))
    pts_m = mask_points(anatomy_mask(shrink_to(moving_s, 8.0), thresholds[1], dilate=0))
    if max(inside_fraction(pts_f, moving_s), inside_fraction(pts_m, fixed_s)) == 0.0:
        frame = ("share a Frame of Reference" if _same_frame(fixed, moving)
                 else "have no Frame of Reference, so their positions are taken as given")
        raise InputError(f"{_label(moving)} and {_label(fixed)} do not overlap in patient space "
                         f"(they {frame}); nothing to register", _name(moving))


def _register_2d(fixed: Image, moving: Image, transform: str, init: str, opts, progress, cancel):
    """One-slice images: 4 orientations x 2 centres scored at the coarsest level, then the
    multi-resolution optimisation from the best start (rigid, then affine)."""
    from .quality import RegistrationReport, affine_problem, affine_shape, rotation_angle_deg

    fixed_s = _gray_sitk(fixed, 2, fixed)
    moving_s = _gray_sitk(moving, 2, fixed)
    names = (_label(moving), _label(fixed))
    centres = ("geometry", "moments") if init == "search" else (init,)
    starts = []
    for c in centres:
        base = _initial_transform(fixed_s, moving_s, c)
        for quarter in range(4 if init == "search" else 1):
            tx = sitk.Euler2DTransform(base)
            tx.SetAngle(quarter * np.pi / 2)
            starts.append(tx)
    coarse = {**opts, "shrink_factors": opts["shrink_factors"][:1],
              "smoothing_sigmas": opts["smoothing_sigmas"][:1], "sampling_percentage":
              np.atleast_1d(opts["sampling_percentage"])[:1].tolist(), "iterations": 60}
    scored = []
    search_share = 0.2 if len(starts) > 1 else 0.0
    for j, tx in enumerate(starts if len(starts) > 1 else []):
        trial = sitk.Euler2DTransform(tx)
        part = sub_progress(progress, search_share * j / len(starts),
                            search_share * (j + 1) / len(starts))
        metric, _, _ = _optimize(fixed_s, moving_s, trial, coarse, None, part, cancel, *names)
        scored.append((metric, j))
    scored.sort()
    best = scored[0][1] if scored else 0
    clear = None
    gap = None
    if len(scored) > 1:
        # Rivals: starts turned differently from the best (>= 90 degrees away: distinct poses).
        from .quality import CLEAR_WIN

        rivals = [m for m, j in scored if j % 4 != best % 4]
        gap = (min(rivals) - scored[0][0]) / max(abs(scored[0][0]), 1e-12)
        clear = gap > CLEAR_WIN
    reference = sitk.Euler2DTransform(starts[0])
    rigid = sitk.Euler2DTransform(starts[best])
    split = 1.0 if transform == "rigid" else 0.6
    metric, iterations, last = _optimize(fixed_s, moving_s, rigid, opts, None,
                                   sub_progress(progress, search_share, split), cancel, *names)
    final: sitk.Transform = rigid
    kind = "rigid"
    extra: dict[str, Any] = {}
    notes: list[str] = []
    if transform in ("affine", "deformable"):
        affine = sitk.AffineTransform(2)
        affine.SetCenter(rigid.GetCenter())
        affine.SetMatrix(rigid.GetMatrix())
        affine.SetTranslation(rigid.GetTranslation())
        a_metric, more, last = _optimize(fixed_s, moving_s, affine, opts, None,
                                   sub_progress(progress, split, 1.0), cancel, *names)
        iterations += more
        matrix = np.reshape(affine.GetMatrix(), (2, 2))
        det, scales, shear = affine_shape(matrix)
        extra = {"determinant": det, "scales": scales, "shear": shear}
        problem = affine_problem(matrix)
        if problem is None:
            final, metric, kind = affine, a_metric, "affine"
        else:
            extra["affine_rejected"] = True
            notes.append(f"affine result rejected ({problem}); the rigid result is used")
        if transform == "deformable":
            notes.append("deformable refinement is for volumes; one-slice images get affine")
    from .masks import inside_fraction, mask_points, anatomy_mask
    from .masks import intensity_range

    m_start = _evaluate_2d(fixed_s, moving_s, reference, opts)
    m_end = _evaluate_2d(fixed_s, moving_s, final, opts)
    thr_f = intensity_range(sitk.GetArrayViewFromImage(fixed_s))[1]
    thr_m = intensity_range(sitk.GetArrayViewFromImage(moving_s))[1]
    pts_f = mask_points(anatomy_mask(fixed_s, thr_f, dilate=0))
    pts_m = mask_points(anatomy_mask(moving_s, thr_m, dilate=0))
    from .quality import map_points

    def _overlap(tx):
        return max(inside_fraction(map_points(tx, pts_f), moving_s),
                   inside_fraction(map_points(tx.GetInverse(), pts_m), fixed_s))

    centre = np.asarray(fixed_s.TransformContinuousIndexToPhysicalPoint(
        [(n - 1) / 2 for n in fixed_s.GetSize()]))[np.newaxis]
    rep = RegistrationReport(
        transform=kind, requested=transform,
        start=(f"orientation search ({len(starts)} starts)" if len(starts) > 1 else
               {"geometry": "image centres", "moments": "centres of mass"}[init]),
        starts_tried=len(starts), metric_start=m_start, metric_end=m_end,
        overlap_start=_overlap(sitk.Euler2DTransform()), overlap_end=_overlap(final),
        iterations=iterations, final_iterations=last, iteration_cap=int(opts["iterations"]),
        clear_win=clear,
        runner_up_gap=gap, rotation_deg=rotation_angle_deg(final),
        translation_mm=float(np.linalg.norm(map_points(final, centre) - centre)),
        same_frame_of_reference=_same_frame(fixed, moving), notes=notes, **extra).judge()
    return final, metric, iterations, rep


def _evaluate_2d(fixed_s, moving_s, tx, opts) -> float:
    method = _registration_method({**opts, "shrink_factors": (1,), "smoothing_sigmas": (0.0,),
                                   "sampling_percentage": 1.0}, fixed_s.GetSize())
    method.SetInitialTransform(tx, inPlace=False)
    try:
        return float(method.MetricEvaluate(fixed_s, moving_s))
    except RuntimeError:
        return 0.0


def _optimize(fixed_s, moving_s, transform: sitk.Transform, opts: dict[str, Any], mask,
              progress, cancel, moving_name: str, fixed_name: str) -> tuple[float, int]:
    """Optimize ``transform`` in place; return the final metric and the iteration count."""
    method = _registration_method(opts, fixed_s.GetSize())
    method.SetInitialTransform(transform, inPlace=True)
    if mask is not None:
        method.SetMetricFixedMask(mask)
    state = run_observed(method, fixed_s, moving_s, len(opts["shrink_factors"]),
                         opts["iterations"], progress, cancel, (moving_name, fixed_name))
    return float(method.GetMetricValue()), state.total_iterations, state.level_iterations


def run_observed(method, fixed_s, moving_s, levels: int, max_iterations: int, progress, cancel,
                 names: tuple[str, str]) -> "_Observer":
    """Execute ``method`` with progress and cancel (one observer, ITK in a worker thread);
    Cancelled or InputError naming (moving, fixed) when it stops early; returns the observer."""
    state = _Observer(method, levels, max_iterations, progress, cancel)
    method.AddCommand(sitk.sitkIterationEvent, state.on_iteration)
    method.AddCommand(sitk.sitkMultiResolutionIterationEvent, state.on_level)
    error = _execute_cancellable(method, fixed_s, moving_s, state, cancel)
    _raise_if_stopped(state, cancel, error, *names)
    return state


def _raise_if_stopped(state, cancel, error, moving_name: str, fixed_name: str) -> None:
    """Cancelled when the user cancelled; InputError when ITK failed."""
    if state.cancelled or (cancel is not None and cancel.is_set()):
        raise Cancelled("registration cancelled by the user")
    if error is not None:
        raise InputError(f"registration of {moving_name} onto {fixed_name} failed: "
                         f"{_first_line(error)}") from None


def _execute_cancellable(method, fixed_s, moving_s, state: "_Observer", cancel
                         ) -> RuntimeError | None:
    """Run ``method.Execute`` in a worker thread (ITK releases the GIL) while this thread
    watches ``cancel``: ITK prepares each level (smoothing, scales) for seconds without an
    event, so a cancel must not wait for the next iteration. A cancelled run is left to stop
    at its next event; the caller raises Cancelled at once."""
    done = threading.Event()
    box: dict[str, BaseException] = {}

    def work() -> None:
        try:
            method.Execute(fixed_s, moving_s)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="registration", daemon=True)
    worker.start()
    try:
        while not done.wait(_CANCEL_POLL_S):
            if cancel is not None and cancel.is_set():
                state.cancelled = True
                break
    except KeyboardInterrupt:
        state.cancelled = True
    if not done.is_set():
        method.StopRegistration()
        ABANDONED.append(worker)
    error = box.get("error")
    if error is not None and not isinstance(error, RuntimeError):
        raise error
    return error


class _Observer:
    """Turns SimpleITK iteration events into monotonic progress and cancellation."""

    def __init__(self, method, levels: int, max_iterations: int, progress, cancel):
        self.method, self.levels, self.max_iterations = method, levels, max_iterations
        self.progress, self.cancel = progress, cancel
        self.level = -1
        self.total_iterations = 0
        self.level_iterations = 0  # of the level running (or the last one)
        self.fraction = 0.0
        self.cancelled = False

    def on_level(self) -> None:
        try:
            self.level += 1
            self._report(self.level / self.levels)
            self._check()
        except KeyboardInterrupt:  # raised inside ITK it would become "registration failed"
            self._stop()

    def on_iteration(self) -> None:
        try:
            self.total_iterations += 1
            self.level_iterations = self.method.GetOptimizerIteration() + 1
            done = min(1.0, (self.method.GetOptimizerIteration() + 1) / self.max_iterations)
            self._report((max(self.level, 0) + done) / self.levels)
            self._check()
        except KeyboardInterrupt:
            self._stop()

    def _report(self, fraction: float) -> None:
        # Levels often stop early, so the raw fraction can jump back; keep it monotonic and
        # leave the last percent for resampling.
        fraction = min(0.99, fraction)
        if fraction > self.fraction:
            self.fraction = fraction
        report(self.progress, STAGE, self.fraction)

    def _check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            self._stop()

    def _stop(self) -> None:
        self.cancelled = True
        self.method.StopRegistration()


def _registration_method(opts: dict[str, Any], size) -> sitk.ImageRegistrationMethod:
    shrink = [int(v) for v in opts["shrink_factors"]]
    sigmas = [float(v) for v in opts["smoothing_sigmas"]]
    if len(shrink) != len(sigmas) or not shrink or min(shrink) < 1:
        raise InputError("shrink_factors and smoothing_sigmas need one positive entry per level")
    # SimpleITK shrinks all axes alike; cap the factor so that no axis of a thin slab drops
    # below two voxels.
    shrink = [min(v, max(1, min(size) // int(opts["min_level_size"]))) for v in shrink]
    pct = opts["sampling_percentage"]
    per_level = [float(p) for p in (pct if np.ndim(pct) else [pct] * len(shrink))]
    if len(per_level) != len(shrink) or not all(0.0 < p <= 1.0 for p in per_level):
        raise InputError("sampling_percentage needs one value in (0, 1] (or one per level)")
    voxels = float(np.prod(size))
    per_level = [min(p, float(opts["max_samples"]) * v ** len(size) / voxels)
                 for p, v in zip(per_level, shrink)]

    method = sitk.ImageRegistrationMethod()
    if opts["threads"]:
        method.SetNumberOfThreads(int(opts["threads"]))
        method.SetNumberOfWorkUnits(int(opts["threads"]))
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=int(opts["histogram_bins"]))
    if min(per_level) >= 1.0:
        method.SetMetricSamplingStrategy(method.NONE)
    else:
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentagePerLevel(per_level, int(opts["seed"]))
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=float(opts["learning_rate"]), minStep=float(opts["min_step"]),
        numberOfIterations=int(opts["iterations"]),
        relaxationFactor=float(opts["relaxation"]),
        gradientMagnitudeTolerance=float(opts["gradient_tolerance"]))
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(shrink)
    method.SetSmoothingSigmasPerLevel(sigmas)
    if opts["sigmas_in_mm"]:
        method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    else:
        method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    return method


def _initial_transform(fixed_s, moving_s, init: str) -> sitk.Transform:
    """A centred rigid transform (Euler2D/3D), centre and translation by geometry or moments."""
    dim = fixed_s.GetDimension()
    base = sitk.Euler2DTransform() if dim == 2 else sitk.Euler3DTransform()
    mode = (sitk.CenteredTransformInitializerFilter.MOMENTS if init == "moments"
            else sitk.CenteredTransformInitializerFilter.GEOMETRY)
    try:
        initial = sitk.CenteredTransformInitializer(fixed_s, moving_s, base, mode)
    except RuntimeError as exc:
        raise InputError(f"cannot initialise the registration ({init}): "
                         f"{_first_line(exc)}") from None
    # The initializer returns the generic wrapper; rebuild the concrete type for the caller.
    return _concrete(initial)


def _concrete(tx: sitk.Transform) -> sitk.Transform:
    """The transform as its concrete SimpleITK class (Euler2D/3D, Affine, ...)."""
    try:
        return tx.Downcast()
    except (AttributeError, RuntimeError):
        return tx


def _registration_dimension(fixed: Image, moving: Image) -> int:
    if fixed.is_2d and moving.is_2d:
        return 2
    if fixed.is_2d or moving.is_2d:
        raise InputError(f"cannot register a 2-D image with a 3-D volume ({_label(moving)} has "
                         f"{moving.num_slices} slice(s), {_label(fixed)} has "
                         f"{fixed.num_slices})")
    return 3


def _plane_frame(image: Image, fixed: Image) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """2-D (origin, direction) of a one-slice image for 2-D registration against ``fixed``.

    Axial slices use physical x, y (so transforms are in patient mm); other orientations
    (sagittal, coronal, oblique) use the fixed slice's own in-plane axes and origin.
    """
    d_img = np.reshape(image.direction, (3, 3))
    d_fix = np.reshape(fixed.direction, (3, 3))
    if all(abs(np.linalg.det(d[:2, :2])) > 0.999 for d in (d_img, d_fix)):
        return tuple(image.origin[:2]), tuple(d_img[:2, :2].ravel())
    axes = d_fix[:, :2]  # columns: the fixed slice's x and y directions
    origin = axes.T @ (np.asarray(image.origin) - np.asarray(fixed.origin))
    direction = axes.T @ d_img[:, :2]
    if abs(np.linalg.det(direction)) < 0.999:
        raise InputError(f"{_label(image)} and {_label(fixed)} are single slices in different "
                         "planes; 2-D registration needs parallel slices")
    return tuple(origin), tuple(direction.ravel())


def _sitk_from_array(arr: np.ndarray, image: Image, dim: int, is_vector: bool = False,
                     fixed: Image | None = None):
    if dim == 2:
        img = sitk.GetImageFromArray(arr[0], isVector=is_vector)
        origin, direction = _plane_frame(image, fixed if fixed is not None else image)
        img.SetSpacing(image.spacing[:2])
        img.SetOrigin(origin)
        img.SetDirection(direction)
    else:
        img = sitk.GetImageFromArray(arr, isVector=is_vector)
        img.SetSpacing(image.spacing)
        img.SetOrigin(image.origin)
        img.SetDirection(image.direction)
    return img


def _gray_sitk(image: Image, dim: int, fixed: Image):
    return _sitk_from_array(image.luminance().astype(np.float32, copy=False), image, dim,
                            fixed=fixed)


def _check_structure(image: Image) -> None:
    lum = image.luminance()
    if float(lum.max()) <= float(lum.min()):
        raise InputError("image is constant: nothing to register", _name(image) or
                         f"{image.modality} image")


def resample_to(moving: Image, fixed: Image, transform: sitk.Transform | None = None, *,
                description: str | None = None) -> Image:
    """The moving image on the fixed image's grid (linear; fixed->moving transform, or identity).

    Integer data is rounded back to its dtype, colour is resampled per channel, and points
    outside the moving image get its minimum value. Modality, window and provenance stay the
    moving image's; the geometry becomes the fixed image's.
    """
    dim = transform.GetDimension() if transform is not None else (
        2 if fixed.is_2d and moving.is_2d else 3)
    if dim == 2 and not (fixed.is_2d and moving.is_2d):
        raise InputError("a 2-D transform can only resample one-slice images")
    if transform is None:
        transform = sitk.Transform(dim, sitk.sitkIdentity)
    reference = _sitk_from_array(np.zeros(fixed.shape, dtype=np.uint8), fixed, dim, fixed=fixed)
    src = moving.array
    outside = float(np.min(src))
    channels = [src[..., c] for c in range(3)] if moving.is_color else [src]
    out = []
    for chan in channels:
        img = _sitk_from_array(chan.astype(np.float32, copy=False), moving, dim, fixed=fixed)
        res = sitk.Resample(img, reference, transform, sitk.sitkLinear, outside, sitk.sitkFloat32)
        arr = sitk.GetArrayFromImage(res)
        out.append(arr[np.newaxis] if dim == 2 else arr)
    arr = np.stack(out, axis=-1) if moving.is_color else out[0]
    arr = _cast_like(arr, src.dtype)
    desc = description or ("resampled onto the grid of " + _label(fixed))
    prov = moving.provenance
    prov = dataclasses.replace(prov, description="; ".join(p for p in (prov.description, desc)
                                                           if p))
    return dataclasses.replace(moving, array=arr, spacing=fixed.spacing, origin=fixed.origin,
                               direction=fixed.direction, provenance=prov)


def _cast_like(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(arr), info.min, info.max).astype(dtype)
    if np.issubdtype(dtype, np.floating):
        return arr.astype(dtype, copy=False)
    return arr


def save_transform(transform: sitk.Transform, path: str | os.PathLike) -> Path:
    """Write a transform as an ITK .tfm text file (atomically) and return its path."""
    path = Path(path)
    if path.suffix.lower() not in (".tfm", ".txt"):
        raise InputError("transform files must end in .tfm", str(path))
    from ..io.guard import atomic_path

    if not path.parent.is_dir():
        raise InputError("folder does not exist", str(path.parent))
    with atomic_path(path) as tmp:
        try:
            sitk.WriteTransform(transform, str(tmp))
        except RuntimeError as exc:
            raise InputError(f"cannot write transform: {_first_line(exc)}", str(path)) from None
    return path


def load_transform(path: str | os.PathLike) -> sitk.Transform:
    """Read an ITK transform file (.tfm) written by ``save_transform``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("transform file not found", str(path))
    try:
        tx = sitk.ReadTransform(str(path))
    except RuntimeError as exc:
        raise InputError(f"not a readable ITK transform: {_first_line(exc)}", str(path)) from None
    return _concrete(tx)


def _label(image: Image) -> str:
    name = _name(image)
    return Path(name).name if name else f"{image.modality} image"


def _name(image: Image) -> str | None:
    paths = image.provenance.source_paths
    return paths[0] if paths else None


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # ITK messages are "file:line: ... description"; the description is the useful part.
    for ln in reversed(lines):
        if ln.lower().startswith("itk::error") or "description:" in ln.lower():
            return ln.split("escription:")[-1].strip()
    return lines[-1] if lines else type(exc).__name__
