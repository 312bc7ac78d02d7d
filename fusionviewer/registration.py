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

from .errors import Cancelled, InputError
from .image import Image
from .pipeline.options import INITS, REGISTRATIONS, choice_error
from .progress import CancelFlag, ProgressCallback, check_cancel, report, sub_progress

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
    """The moving image on the fixed grid, the fixed->moving transform and the final metric."""

    image: Image
    transform: sitk.Transform
    metric_value: float  # Mattes MI (negative; lower is better)
    iterations: int  # optimizer iterations over all levels


def register(fixed: Image, moving: Image, *, transform: str = "rigid", init: str = "geometry",
             progress: ProgressCallback | None = None, cancel: CancelFlag | None = None,
             **tuning: Any) -> RegistrationResult:
    """Register ``moving`` onto ``fixed`` (rigid or affine, Mattes MI, multi-resolution)."""
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
    fixed_s = _gray_sitk(fixed, dim, fixed)
    moving_s = _gray_sitk(moving, dim, fixed)
    mask = None
    rigid = _initial_transform(fixed_s, moving_s, init)
    # Affine starts from the rigid optimum: fitting all 6/12 parameters from the centred start
    # stopped short of the known motion on the Harvard pairs.
    split = 1.0 if transform == "rigid" else 0.5
    metric, iterations = _optimize(fixed_s, moving_s, rigid, opts, mask,
                                   sub_progress(progress, 0.0, split), cancel, _label(moving),
                                   _label(fixed))
    final: sitk.Transform = rigid
    if transform == "affine":
        final = sitk.AffineTransform(dim)
        final.SetCenter(rigid.GetCenter())
        final.SetMatrix(rigid.GetMatrix())
        final.SetTranslation(rigid.GetTranslation())
        metric, more = _optimize(fixed_s, moving_s, final, opts, mask,
                                 sub_progress(progress, split, 1.0), cancel, _label(moving),
                                 _label(fixed))
        iterations += more

    image = resample_to(moving, fixed, final,
                        description=f"registered ({transform}, Mattes MI, {init} init) onto "
                                    f"{_label(fixed)}")
    report(progress, STAGE, 1.0)
    return RegistrationResult(image=image, transform=final, metric_value=metric,
                              iterations=iterations)


def _optimize(fixed_s, moving_s, transform: sitk.Transform, opts: dict[str, Any], mask,
              progress, cancel, moving_name: str, fixed_name: str) -> tuple[float, int]:
    """Optimize ``transform`` in place; return the final metric and the iteration count."""
    method = _registration_method(opts, fixed_s.GetSize())
    method.SetInitialTransform(transform, inPlace=True)
    if mask is not None:
        method.SetMetricFixedMask(mask)
    state = _Observer(method, len(opts["shrink_factors"]), opts["iterations"], progress, cancel)
    method.AddCommand(sitk.sitkIterationEvent, state.on_iteration)
    method.AddCommand(sitk.sitkMultiResolutionIterationEvent, state.on_level)
    error = _execute_cancellable(method, fixed_s, moving_s, state, cancel)
    if state.cancelled or (cancel is not None and cancel.is_set()):
        raise Cancelled("registration cancelled by the user")
    if error is not None:
        raise InputError(f"registration of {moving_name} onto {fixed_name} failed: "
                         f"{_first_line(error)}") from None
    return float(method.GetMetricValue()), state.total_iterations


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
    from .io.guard import atomic_path

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
