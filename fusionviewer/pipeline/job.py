"""One fusion from top to bottom: load -> geometry (decide, resample or register onto the fixed
grid) -> normalize -> fuse -> compose.

The geometry step brings every source onto the fixed source's grid by patient coordinates
(``fusionviewer.geometry``): identity resampling when the sources share one frame (or "none"),
registration when the DICOM Frames of Reference differ (or "rigid"/"affine"), pixel by pixel
for rasters without geometry. ``originals`` keep each source on that grid in its own units.

Both fallbacks live in the fusion step, so neither redoes loading or registration: a CNN
without usable weights fuses with guided filtering, a GPU failure reruns the CNN on the CPU.
Progress is ``progress(stage, fraction)`` with a stage of ``STAGES`` and the job's overall
fraction, 0..1.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import __version__
from ..errors import Cancelled, FusionViewerError, InputError, ModelError
from ..fusion import CNN_OPTIONS, FALLBACK_METHOD, get_method
from ..geometry import (PIXEL_GRID, RegistrationDecision, check_overlap, decide_registration,
                        on_fixed_frame, to_fixed_grid)
from ..image import Image, Normalization
from ..progress import ProgressCallback, check_cancel, report, sub_progress
from .options import FusionOptions
from .sources import load_sources

# Overall progress share of each stage (renormalised over the stages that run).
_STAGE_WEIGHTS = {"loading": 0.1, "registering": 0.5, "normalizing": 0.05, "fusing": 0.35}

FUSED_NORMALIZATION = Normalization("identity", 0.0, 1.0, "fused image, [0, 1]")


@dataclass
class FusionResult:
    """The fused image and everything that led to it."""

    fused: Image  # float32 [0, 1] on the fixed grid; RGB if a source is colour
    fused_gray: np.ndarray  # [z, y, x] float32 [0, 1], the fused luminance
    sources: list[Image]  # registered + normalized, on the fixed grid
    registrations: list[Any]  # RegistrationResult per source (None for the fixed one / "none")
    method: str  # the method actually used (after any fallback)
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    inputs: list[Image] = field(default_factory=list)  # the sources as loaded (raw units)
    options: FusionOptions | None = None
    # Each source on the fixed grid in its original values and units (HU, Bq/ml, counts, MR
    # units): what cursor values, ROI statistics and CSV exports read, never ``sources``.
    originals: list[Image] = field(default_factory=list)
    decision: RegistrationDecision | None = None  # how the sources came onto the fixed grid

    def registration_verdicts(self) -> dict[int, str]:
        """Source index -> verdict of its registration (good/doubtful/failed, or "given" for a
        transform the user gave); only registered sources."""
        out = {}
        for k, reg in enumerate(self.registrations):
            if reg is not None:
                report = getattr(reg, "report", None)
                out[k] = report.verdict if report is not None else "given"
        return out

    @property
    def description(self) -> str:
        """One line for DICOM DerivationDescription / reports: method, version, registration."""
        if self.decision is not None:
            regtext = self.decision.text()
        else:
            reg = "none" if self.options is None else self.options.register
            fixed = 1 if self.options is None else self.options.fixed_index + 1
            regtext = ("no registration" if reg == "none"
                       else f"{reg} registration onto source {fixed}")
        verdicts = self.registration_verdicts()
        if verdicts:
            regtext += " (" + ", ".join(f"source {k + 1}: {v}" for k, v in verdicts.items()) + ")"
        return f"FusionViewer {__version__} fusion, method {self.method}, {regtext}"


@dataclass
class PreparedSources:
    """Sources registered and normalized onto the fixed grid, ready to fuse."""

    inputs: list[Image]
    sources: list[Image]
    registrations: list[Any]
    gray: list[np.ndarray]  # luminance [z, y, x] float32 [0, 1] per source
    timings: dict[str, float]
    originals: list[Image] = field(default_factory=list)  # on the fixed grid, original units
    decision: RegistrationDecision | None = None


class FusionJob:
    """Fuse N >= 2 sources (Images or paths) with ``options``; ``run()`` does the work.

    ``modalities`` / ``series_uids`` are shortcuts for the options' fields of the same names.
    """

    def __init__(self, sources: Sequence[Image | str | Path], options: FusionOptions | None = None,
                 *, modalities: Sequence[str | None] | None = None,
                 series_uids: Sequence[str | None] | None = None):
        options = options or FusionOptions()
        if modalities is not None or series_uids is not None:
            options = dataclasses.replace(
                options, modalities=options.modalities if modalities is None else modalities,
                series_uids=options.series_uids if series_uids is None else series_uids)
        self.sources = list(sources)
        self.options = options

    def run(self, progress: ProgressCallback | None = None, cancel=None) -> FusionResult:
        """Do the whole job; raises InputError (bad input) or Cancelled. A CNN without usable
        weights falls back to GFF, a failing GPU to the CPU, each with a notice."""
        prepared = self.prepare(progress, cancel)
        check_cancel(cancel)
        return self.fuse(prepared, progress, cancel)

    def prepare(self, progress: ProgressCallback | None = None, cancel=None) -> PreparedSources:
        """Load, check, register and normalize the sources (everything but the fusion)."""
        opts = self.options
        opts.validate(len(self.sources))
        ranges = self._stage_ranges()
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        inputs = self._load(ranges, progress, cancel)
        if "loading" in ranges:
            timings["loading"] = time.perf_counter() - t0
        fixed = inputs[opts.fixed_index]
        decision = decide_registration(inputs, opts.register, opts.fixed_index)
        given = opts.per_source("transforms", len(inputs))
        norms = [self._normalization(img, k) for k, img in enumerate(inputs)]

        registrations: list[Any] = [None] * len(inputs)
        t0 = time.perf_counter()
        if decision.registers or any(g is not None for g in given):
            on_grid = self._geometry(inputs, decision, cancel, skip=given) \
                if not decision.registers else list(inputs)
            lo, hi = ranges.get("registering", (0.0, 1.0))
            self._register(fixed, inputs, on_grid, registrations, decision,
                           sub_progress(progress, lo, hi), cancel)
            timings["registering"] = time.perf_counter() - t0
        else:
            on_grid = self._geometry(inputs, decision, cancel)
            if decision.transform != PIXEL_GRID:
                timings["geometry"] = time.perf_counter() - t0
                if "registering" in ranges:  # resampled instead of registered: share done
                    report(progress, "registering", ranges["registering"][1])

        check_cancel(cancel)
        t0 = time.perf_counter()
        sources = [_apply_normalization(img, norm, already=inputs[k].normalization is norm)
                   for k, (img, norm) in enumerate(zip(on_grid, norms))]
        gray = [s.luminance() for s in sources]
        report(progress, "normalizing", ranges["normalizing"][1])
        timings["normalizing"] = time.perf_counter() - t0
        return PreparedSources(inputs, sources, registrations, gray, timings, on_grid, decision)

    def fuse(self, prepared: PreparedSources, progress: ProgressCallback | None = None,
             cancel=None) -> FusionResult:
        """Fuse prepared sources' luminance (with the fallbacks) and recombine colour."""
        lo, hi = self._stage_ranges()["fusing"]
        t0 = time.perf_counter()
        fused_gray, method, notices = fuse_gray(prepared.gray, self.options,
                                                sub_progress(progress, lo, hi), cancel)
        result = compose_result(prepared, fused_gray, method, notices, self.options)
        result.timings = {**prepared.timings, "fusing": time.perf_counter() - t0}
        report(progress, "fusing", 1.0)
        return result

    # --- steps -----------------------------------------------------------------------------
    def _stage_ranges(self) -> dict[str, tuple[float, float]]:
        stages = dict(_STAGE_WEIGHTS)
        if self.options.register == "none" and not any(self.options.transforms or ()):
            stages.pop("registering")
        if all(isinstance(s, Image) for s in self.sources):
            stages.pop("loading")
        total = sum(stages.values())
        ranges, start = {}, 0.0
        for name, w in stages.items():
            ranges[name] = (start / total, (start + w) / total)
            start += w
        return ranges

    def _load(self, ranges, progress, cancel) -> list[Image]:
        n = len(self.sources)
        todo = [k for k, s in enumerate(self.sources) if not isinstance(s, Image)]
        out = list(self.sources)
        if todo:
            lo, hi = ranges["loading"]
            mods = self.options.per_source("modalities", n)
            uids = self.options.per_source("series_uids", n)
            loaded = load_sources([self.sources[k] for k in todo], [mods[k] for k in todo],
                                  [uids[k] for k in todo], progress=sub_progress(progress, lo, hi),
                                  cancel=cancel)
            for k, image in zip(todo, loaded):
                out[k] = image
        for k, img in enumerate(out):
            img.check_finite(_label(img, k))
        return out

    def _geometry(self, inputs: list[Image], decision: RegistrationDecision, cancel,
                  skip: Sequence[Any] = ()) -> list[Image]:
        """Every source on the fixed grid without registration: pixel grids of one size, or
        identity resampling by patient coordinates (overlapping extents required). Sources
        with an entry in ``skip`` (a given transform) are left as they are."""
        k0 = self.options.fixed_index
        skipped = {k for k, g in enumerate(skip) if g is not None}
        if decision.transform == PIXEL_GRID:
            _check_same_grid_size(inputs, k0, skip=skipped)
            return list(inputs)
        labels = [_label(img, k) for k, img in enumerate(inputs)]
        check_overlap([img for k, img in enumerate(inputs) if k not in skipped],
                      k0 - sum(1 for k in skipped if k < k0),
                      [lab for k, lab in enumerate(labels) if k not in skipped])
        out = []
        for k, img in enumerate(inputs):
            check_cancel(cancel)
            keep = k == k0 or k in skipped
            out.append(img if keep else to_fixed_grid(img, inputs[k0], labels[k0]))
        return out

    def _register(self, fixed: Image, inputs: list[Image], on_grid: list[Image],
                  registrations: list[Any], decision: RegistrationDecision, progress,
                  cancel) -> None:
        """Register the moving sources (or apply the transforms the user gave)."""
        from ..registration import apply_transform, register

        opts = self.options
        given = opts.per_source("transforms", len(inputs))
        movers = [k for k in range(len(inputs)) if k != opts.fixed_index]
        for j, k in enumerate(movers):
            check_cancel(cancel)
            part = sub_progress(progress, j / len(movers), (j + 1) / len(movers))
            if given[k] is not None:
                res = apply_transform(fixed, inputs[k], given[k])
            elif not decision.registers:
                continue  # already on the fixed grid by patient coordinates
            else:
                res = register(fixed, inputs[k], transform=decision.transform, init=opts.init,
                               progress=part, cancel=cancel)
            registrations[k] = res
            on_grid[k] = on_fixed_frame(res.image, fixed)

    def _normalization(self, image: Image, k: int) -> Normalization:
        from ..normalization import CT_PRESETS, MODES, choose_normalization

        setting = self.options.per_source("normalization", len(self.sources))[k]
        if image.normalization is not None and setting is None:
            return image.normalization
        if setting is None:
            kwargs: dict[str, Any] = {}
        elif isinstance(setting, dict):
            kwargs = dict(setting)
        elif isinstance(setting, str) and setting in MODES:
            kwargs = {"mode": setting}
        elif isinstance(setting, str) and setting.strip().lower() in CT_PRESETS:
            kwargs = {"preset": setting}
        elif isinstance(setting, Normalization):
            return setting
        else:
            raise InputError(f"unknown normalization setting {setting!r} for source {k + 1}")
        return choose_normalization(image, **kwargs)


def fuse_gray(gray: list[np.ndarray], options: FusionOptions, progress=None, cancel=None
              ) -> tuple[np.ndarray, str, list[str]]:
    """Fuse luminance arrays with ``options.method``: (fused float32 [0, 1], method used, notices).

    A CNN ModelError falls back to GFF; a RuntimeError of the CNN off the CPU (CUDA out of
    memory, driver errors) reruns the CNN on the CPU. Each adds a notice.
    """
    method = options.method
    kwargs = dict(options.method_options)
    if method == "cnn":
        kwargs.update(block_size=options.block_size, device=options.device,
                      batch_size=options.batch_size)
    elif set(kwargs) & set(CNN_OPTIONS):
        raise InputError(f"method '{method}' has no option "
                         f"{', '.join(sorted(set(kwargs) & set(CNN_OPTIONS)))}")
    notices: list[str] = []
    try:
        fused = _call_method(method, gray, kwargs, progress, cancel)
    except ModelError as exc:
        if method != "cnn":
            raise
        notices.append(f"CNN unavailable ({exc}); fused with {FALLBACK_METHOD} instead")
        method = FALLBACK_METHOD
        fused = _call_method(method, gray, {}, progress, cancel)
    except (Cancelled, FusionViewerError):
        raise
    except RuntimeError as exc:
        if method != "cnn" or options.device == "cpu":
            raise
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        notices.append(f"GPU failed ({why}); fused on the CPU")
        fused = _call_method(method, gray, {**kwargs, "device": "cpu"}, progress, cancel)
    fused = np.clip(np.asarray(fused, dtype=np.float32), 0.0, 1.0)
    return fused.reshape(gray[0].shape), method, notices


def _call_method(method: str, gray, kwargs: dict, progress, cancel) -> np.ndarray:
    try:
        return get_method(method)(gray, progress=progress, cancel=cancel, **kwargs)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise InputError(f"method '{method}': {exc}") from None
        raise


def compose_result(prepared: PreparedSources, fused_gray: np.ndarray, method: str,
                   notices: list[str], options: FusionOptions) -> FusionResult:
    """Build the fused Image on the fixed grid (colour from the first colour source's chroma)."""
    from ..fusion.color import recolor

    fixed = prepared.sources[options.fixed_index]
    colour = next((s for s in prepared.sources if s.is_color), None)
    array = fused_gray if colour is None else recolor(fused_gray, colour.array)
    all_paths = tuple(p for s in prepared.inputs for p in s.provenance.source_paths)
    result = FusionResult(fused=fixed, fused_gray=fused_gray, sources=prepared.sources,
                          registrations=prepared.registrations, method=method,
                          notices=list(notices), inputs=prepared.inputs, options=options,
                          originals=prepared.originals, decision=prepared.decision)
    provenance = dataclasses.replace(fixed.provenance, source_paths=all_paths,
                                     description=result.description)
    result.fused = fixed.with_array(array.astype(np.float32), modality="OT", window=(0.5, 1.0),
                                    provenance=provenance, normalization=FUSED_NORMALIZATION)
    return result


def _apply_normalization(image: Image, norm: Normalization, already: bool = False) -> Image:
    """Map to [0, 1] with ``norm``; ``already``: the voxels are normalized (only record it)."""
    if already:
        array = np.clip(image.array.astype(np.float32, copy=False), 0.0, 1.0)
        return dataclasses.replace(image, array=array, window=None, normalization=norm)
    return dataclasses.replace(image, array=norm.apply(image.array), window=None,
                               normalization=norm)


def _check_same_grid_size(inputs: list[Image], fixed_index: int, skip=frozenset()) -> None:
    fixed = inputs[fixed_index]
    for k, img in enumerate(inputs):
        if k not in skip and img.shape != fixed.shape:
            raise InputError(f"mismatched sizes: {_size(img)} vs {_size(fixed)} of "
                             f"{_label(fixed, fixed_index)}; use --register rigid (or affine)",
                             _label(img, k))


def _label(image: Image, index: int) -> str:
    paths = image.provenance.source_paths
    return paths[0] if paths else f"source {index + 1}"


def _size(image: Image) -> str:
    z, y, x = image.shape
    return f"{x}x{y}" if z == 1 else f"{x}x{y}x{z}"
