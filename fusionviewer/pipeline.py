"""The one fusion flow (load -> register -> normalize -> fuse -> recolour) that the CLI, the GUI
worker, batch runs and the experiments all call; plus export and batch processing.

Progress is reported as ``progress(stage, fraction)`` with the stage one of "loading",
"registering", "normalizing", "fusing" (and "exporting" in batch runs) and ``fraction`` the
overall fraction of the job, 0..1.
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import __version__
from .errors import Cancelled, InputError, ModelError
from .fusion import FALLBACK_METHOD, available_methods, get_method
from .image import FUNCTIONAL_MODALITIES, Image, Normalization, canonical_modality
from .progress import ProgressCallback, check_cancel, report, sub_progress

REGISTRATIONS = ("none", "rigid", "affine")
FORMATS = ("png", "nifti", "dicom")
INITS = ("geometry", "moments")

# Overall progress share of each stage (renormalised over the stages that run).
_STAGE_WEIGHTS = {"loading": 0.1, "registering": 0.5, "normalizing": 0.05, "fusing": 0.35}

FUSED_NORMALIZATION = Normalization("identity", 0.0, 1.0, "fused image, [0, 1]")


@dataclass(frozen=True)
class FusionOptions:
    """What to do with the sources; ``fixed_index`` is 0-based (the CLI's ``--fixed`` is 1-based).

    ``normalization``: None (automatic for every source) or one entry per source, each None
    (automatic), a mode name ("auto", "window", "percentile", "fixed"), a CT preset name
    ("brain", "soft tissue", "bone") or a dict of ``normalize()`` keyword arguments.
    ``method_options`` are passed to the fusion method (e.g. ``{"levels": 3}``).
    """

    method: str = "cnn"
    register: str = "none"
    fixed_index: int = 0
    init: str = "geometry"
    block_size: int | None = None
    device: str = "auto"
    normalization: Sequence[Any] | None = None
    batch_size: int | None = None
    method_options: dict[str, Any] = field(default_factory=dict)

    def validate(self, n_sources: int | None = None) -> None:
        """Raise InputError for an unknown method/registration or a fixed index out of range."""
        if self.method not in available_methods():
            raise InputError(f"unknown fusion method '{self.method}' (choose from "
                             f"{', '.join(available_methods())})")
        if self.register not in REGISTRATIONS:
            raise InputError(f"unknown registration '{self.register}' (choose from "
                             f"{', '.join(REGISTRATIONS)})")
        if self.init not in INITS:
            raise InputError(f"unknown initialisation '{self.init}' (choose from "
                             f"{', '.join(INITS)})")
        if self.block_size is not None and self.block_size < 1:
            raise InputError(f"block size must be a positive number, got {self.block_size}")
        if n_sources is not None:
            if not 0 <= self.fixed_index < n_sources:
                raise InputError(f"fixed source {self.fixed_index + 1} out of range "
                                 f"1..{n_sources}")
            if self.normalization is not None and len(self.normalization) != n_sources:
                raise InputError(f"{len(self.normalization)} normalization setting(s) given for "
                                 f"{n_sources} sources")


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

    @property
    def description(self) -> str:
        """One line for DICOM DerivationDescription / reports: method, version, registration."""
        reg = "none" if self.options is None else self.options.register
        fixed = 1 if self.options is None else self.options.fixed_index + 1
        regtext = "no registration" if reg == "none" else f"{reg} registration onto source {fixed}"
        return f"FusionViewer {__version__} fusion, method {self.method}, {regtext}"


# --- loading ------------------------------------------------------------------------------------

def load_sources(paths: Sequence[str | Path], modalities: Sequence[str | None] | None = None,
                 series_uids: Sequence[str | None] | None = None, *,
                 progress: ProgressCallback | None = None, cancel=None) -> list[Image]:
    """Load every source (any supported format); modality hints and series choices per source."""
    from .io import load_image

    paths = [Path(p) for p in paths]
    modalities = _per_source(modalities, len(paths), "modality")
    series_uids = _per_source(series_uids, len(paths), "series")
    images = []
    for k, (path, modality, uid) in enumerate(zip(paths, modalities, series_uids)):
        check_cancel(cancel)
        if not path.exists():
            raise InputError("file or folder not found", str(path))
        hint = canonical_modality(modality) if modality else None
        image = load_image(path, series_uid=uid or None, modality=hint)
        image.check_finite(str(path))
        images.append(image)
        report(progress, "loading", (k + 1) / len(paths))
    return images


def _per_source(values, n: int, what: str) -> list:
    if values is None:
        return [None] * n
    values = list(values)
    if len(values) == 1 and n > 1 and what == "modality":
        raise InputError(f"one {what} given for {n} sources: give one per source, "
                         "comma-separated (leave an entry empty to use the file's own)")
    if len(values) != n:
        raise InputError(f"{len(values)} {what} value(s) given for {n} sources")
    return values


# --- the job ------------------------------------------------------------------------------------

@dataclass
class PreparedSources:
    """Sources registered and normalized onto the fixed grid, ready to fuse."""

    inputs: list[Image]
    sources: list[Image]
    registrations: list[Any]
    gray: list[np.ndarray]  # luminance [z, y, x] float32 [0, 1] per source
    timings: dict[str, float]


class FusionJob:
    """Fuse N >= 2 sources (Images or paths) with ``options``; ``run()`` does the work."""

    def __init__(self, sources: Sequence[Image | str | Path], options: FusionOptions | None = None,
                 *, modalities: Sequence[str | None] | None = None,
                 series_uids: Sequence[str | None] | None = None):
        self.sources = list(sources)
        self.options = options or FusionOptions()
        self.modalities = modalities
        self.series_uids = series_uids

    def _weights(self) -> dict[str, float]:
        stages = dict(_STAGE_WEIGHTS)
        if self.options.register == "none":
            stages.pop("registering")
        if all(isinstance(s, Image) for s in self.sources):
            stages.pop("loading")
        total = sum(stages.values())
        ranges, start = {}, 0.0
        for name, w in stages.items():
            ranges[name] = (start / total, (start + w) / total)
            start += w
        return ranges

    def prepare(self, progress: ProgressCallback | None = None, cancel=None) -> PreparedSources:
        """Load, check, register and normalize the sources (everything but the fusion)."""
        if len(self.sources) < 2:
            raise InputError(f"fusion needs at least two sources, got {len(self.sources)}")
        opts = self.options
        opts.validate(len(self.sources))
        ranges = self._weights()
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        inputs = self._load(ranges, progress, cancel)
        if "loading" in ranges:
            timings["loading"] = time.perf_counter() - t0
        fixed = inputs[opts.fixed_index]

        if opts.register == "none":
            for k, img in enumerate(inputs):
                if img.shape != fixed.shape:
                    raise InputError(
                        f"mismatched sizes: {_size(img)} vs {_size(fixed)} of "
                        f"{_label(fixed, opts.fixed_index)}; use --register rigid (or affine)",
                        _label(img, k))

        norms = [self._normalization(img, k) for k, img in enumerate(inputs)]

        registrations: list[Any] = [None] * len(inputs)
        on_grid = list(inputs)
        if opts.register != "none":
            from .registration import register

            t0 = time.perf_counter()
            movers = [k for k in range(len(inputs)) if k != opts.fixed_index]
            lo, hi = ranges["registering"]
            for j, k in enumerate(movers):
                check_cancel(cancel)
                part = sub_progress(progress, lo + (hi - lo) * j / len(movers),
                                    lo + (hi - lo) * (j + 1) / len(movers))
                res = register(fixed, inputs[k], transform=opts.register, init=opts.init,
                               progress=_renamed(part, "registering"), cancel=cancel)
                registrations[k] = res
                on_grid[k] = res.image
            timings["registering"] = time.perf_counter() - t0

        check_cancel(cancel)
        t0 = time.perf_counter()
        sources = [_apply_normalization(img, norm, already=inputs[k].normalization is norm)
                   for k, (img, norm) in enumerate(zip(on_grid, norms))]
        gray = [s.luminance() for s in sources]
        report(progress, "normalizing", ranges["normalizing"][1])
        timings["normalizing"] = time.perf_counter() - t0
        return PreparedSources(inputs, sources, registrations, gray, timings)

    def _load(self, ranges, progress, cancel) -> list[Image]:
        paths = [s for s in self.sources if not isinstance(s, Image)]
        if not paths:
            for k, img in enumerate(self.sources):
                img.check_finite(_label(img, k))
            return list(self.sources)
        lo, hi = ranges["loading"]
        loaded = iter(load_sources(paths, self.modalities if len(paths) == len(self.sources)
                                   else None, self.series_uids if len(paths) == len(self.sources)
                                   else None, progress=sub_progress(progress, lo, hi),
                                   cancel=cancel))
        out = [s if isinstance(s, Image) else next(loaded) for s in self.sources]
        for k, img in enumerate(out):
            img.check_finite(_label(img, k))
        return out

    def _normalization(self, image: Image, k: int) -> Normalization:
        from .normalization import CT_PRESETS, MODES, choose_normalization

        setting = None if self.options.normalization is None else self.options.normalization[k]
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

    def fuse(self, prepared: PreparedSources, progress: ProgressCallback | None = None,
             cancel=None) -> FusionResult:
        """Fuse prepared sources' luminance and recombine colour."""
        opts = self.options
        lo, hi = self._weights()["fusing"]
        t0 = time.perf_counter()
        fused_gray, method, notices = fuse_gray(prepared.gray, opts, _renamed(
            sub_progress(progress, lo, hi), "fusing"), cancel)
        timings = dict(prepared.timings)
        timings["fusing"] = time.perf_counter() - t0
        result = compose_result(prepared, fused_gray, method, notices, opts)
        result.timings = timings
        report(progress, "fusing", 1.0)
        return result

    def run(self, progress: ProgressCallback | None = None, cancel=None) -> FusionResult:
        """Do the whole job; raises InputError (bad input), Cancelled, or ModelError never
        (a CNN without usable weights falls back to GFF with a notice)."""
        prepared = self.prepare(progress, cancel)
        check_cancel(cancel)
        return self.fuse(prepared, progress, cancel)


def fuse_gray(gray: list[np.ndarray], options: FusionOptions, progress=None, cancel=None
              ) -> tuple[np.ndarray, str, list[str]]:
    """Fuse luminance arrays [z, y, x] with the chosen method; CNN ModelError -> GFF + notice."""
    notices: list[str] = []
    method = options.method
    kwargs = dict(options.method_options)
    if method == "cnn":
        kwargs.update(block_size=options.block_size, device=options.device,
                      batch_size=options.batch_size)
    try:
        fused = get_method(method)(gray, progress=progress, cancel=cancel, **kwargs)
    except ModelError as exc:
        if method != "cnn":
            raise
        notices.append(f"CNN unavailable ({exc}); fused with {FALLBACK_METHOD} instead")
        method = FALLBACK_METHOD
        fused = get_method(method)(gray, progress=progress, cancel=cancel)
    fused = np.clip(np.asarray(fused, dtype=np.float32), 0.0, 1.0)
    return fused.reshape(gray[0].shape), method, notices


def compose_result(prepared: PreparedSources, fused_gray: np.ndarray, method: str,
                   notices: list[str], options: FusionOptions) -> FusionResult:
    """Build the fused Image on the fixed grid (colour from the first colour source's chroma)."""
    from .fusion.color import recolor

    fixed = prepared.sources[options.fixed_index]
    colour = next((s for s in prepared.sources if s.is_color), None)
    array = fused_gray if colour is None else recolor(fused_gray, colour.array)
    all_paths = tuple(p for s in prepared.inputs for p in s.provenance.source_paths)
    result = FusionResult(fused=fixed, fused_gray=fused_gray, sources=prepared.sources,
                          registrations=prepared.registrations, method=method,
                          notices=list(notices), inputs=prepared.inputs, options=options)
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


def _renamed(progress: ProgressCallback | None, stage: str) -> ProgressCallback | None:
    """Report a sub-task's progress under the pipeline's own stage name."""
    if progress is None:
        return None
    return lambda _stage, fraction: progress(stage, fraction)


def _label(image: Image, index: int) -> str:
    paths = image.provenance.source_paths
    return paths[0] if paths else f"source {index + 1}"


def _size(image: Image) -> str:
    z, y, x = image.shape
    return f"{x}x{y}" if z == 1 else f"{x}x{y}x{z}"


# --- export -------------------------------------------------------------------------------------

def output_format(out: str | Path, fmt: str | None = None) -> str:
    """The export format: ``fmt`` if given, else from the suffix (.png, .nii[.gz]; none = DICOM)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"unknown output format '{fmt}' (choose from {', '.join(FORMATS)})")
        return fmt
    name = Path(out).name.lower()
    if name.endswith(".png"):
        return "png"
    if name.endswith(".nii") or name.endswith(".nii.gz"):
        return "nifti"
    if Path(out).suffix == "" or Path(out).is_dir():
        return "dicom"
    raise InputError(f"cannot tell the output format from the suffix '{Path(out).suffix}' "
                     "(use .png, .nii, .nii.gz, a folder, or --format)", str(out))


def check_output(out: str | Path, fmt: str | None = None, force: bool = False) -> str:
    """Fail early (InputError) on an unusable output path; returns the format it implies."""
    out = Path(out)
    fmt = output_format(out, fmt)
    if not force and out.exists() and (out.is_file() or any(out.iterdir())):
        raise InputError("output exists (use --force to overwrite)", str(out))
    if out.is_dir() and out.name.lower().endswith((".png", ".nii", ".nii.gz")):
        raise InputError("output is a folder; give a file name", str(out))
    return fmt


def export_result(result: FusionResult, out: str | Path, fmt: str | None = None,
                  force: bool = False) -> list[Path]:
    """Write the fused image as PNG, NIfTI or a DICOM series folder; returns the written paths."""
    from .io import export

    out = Path(out)
    fmt = output_format(out, fmt)
    _refuse_source_overwrite(result, out)
    if fmt == "png":
        if out.suffix.lower() == ".png" or result.fused.is_2d:
            path = out if out.suffix.lower() == ".png" else out.with_suffix(".png")
            export.write_png(result.fused, path, force=force)
            return [path]
        return list(export.write_png_slices(result.fused, out, force=force))
    if fmt == "nifti":
        path = out if out.name.lower().endswith((".nii", ".nii.gz")) else Path(f"{out}.nii.gz")
        export.write_nifti(result.fused, path, force=force)
        return [path]
    return list(export.write_dicom_series(result.fused, out, sources=result.inputs,
                                          description=result.description, force=force))


def _refuse_source_overwrite(result: FusionResult, out: Path) -> None:
    target = out.resolve()
    for img in result.inputs:
        for p in img.provenance.source_paths:
            if Path(p).resolve() == target:
                raise InputError("refusing to overwrite a source file", str(out))


# --- batch --------------------------------------------------------------------------------------

@dataclass
class BatchRow:
    """One pair of a batch run: its name, inputs, outcome and output."""

    name: str
    inputs: list[str]
    status: str  # "ok", "failed", "skipped" (no partner) or "cancelled"
    output: str = ""
    method: str = ""
    message: str = ""  # error or notices
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)


def pair_files(dirs: Sequence[str | Path]) -> tuple[list[tuple[str, list[Path]]], list[BatchRow]]:
    """Files/sub-folders with the same name in every folder, and rows for unmatched names."""
    dirs = [Path(d) for d in dirs]
    if len(dirs) < 2:
        raise InputError(f"batch needs at least two folders, got {len(dirs)}")
    entries = []
    for d in dirs:
        if not d.exists():
            raise InputError("folder not found", str(d))
        if not d.is_dir():
            raise InputError("not a folder", str(d))
        names = {p.name: p for p in d.iterdir() if not p.name.startswith(".")}
        if not names:
            raise InputError("empty folder", str(d))
        entries.append(names)
    common = set.intersection(*(set(e) for e in entries))
    if not common:
        raise InputError(f"no file name is present in all {len(dirs)} folders", str(dirs[0]))
    pairs = [(name, [e[name] for e in entries]) for name in sorted(common)]
    unmatched = []
    for name in sorted(set.union(*(set(e) for e in entries)) - common):
        missing = [str(d) for d, e in zip(dirs, entries) if name not in e]
        unmatched.append(BatchRow(name, [str(e[name]) for e in entries if name in e], "skipped",
                                  message=f"missing in {', '.join(missing)}"))
    return pairs, unmatched


def batch_output_path(name: str, first_input: Path, out_dir: Path, fmt: str | None
                      ) -> tuple[Path, str]:
    """Output path and format for one pair: PNG in -> PNG out, volumes -> NIfTI, DICOM -> folder."""
    stem = name
    for suffix in (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".mha", ".mhd",
                   ".nrrd", ".dcm"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if fmt is None:
        lower = first_input.name.lower()
        if first_input.is_dir() or lower.endswith(".dcm"):
            fmt = "dicom"
        elif lower.endswith((".nii", ".nii.gz", ".mha", ".mhd", ".nrrd")):
            fmt = "nifti"
        else:
            fmt = "png"
    suffix = {"png": ".png", "nifti": ".nii.gz", "dicom": ""}[fmt]
    return out_dir / f"{stem}{suffix}", fmt


BATCH_CSV = "summary.csv"


def run_batch(dirs: Sequence[str | Path], out_dir: str | Path, options: FusionOptions | None = None,
              fmt: str | None = None, force: bool = False, progress: ProgressCallback | None = None,
              cancel=None, *, modalities: Sequence[str | None] | None = None,
              with_metrics: bool = False, group_size: int = 16) -> list[BatchRow]:
    """Fuse every same-named pair across ``dirs`` into ``out_dir``; write ``summary.csv`` there.

    Pairs are processed in name order, streaming: consecutive one-slice pairs of the same shape
    are fused in groups of up to ``group_size`` with one method call (the CNN batches them). A
    failing pair is recorded as "failed" and skipped; the run goes on. On cancel the summary is
    still written (unprocessed pairs "cancelled") and Cancelled is raised. Rows come back in
    name order; unmatched names are "skipped".
    """
    options = options or FusionOptions()
    options.validate(len(dirs))
    out_dir = Path(out_dir)
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown output format '{fmt}' (choose from {', '.join(FORMATS)})")
    pairs, unmatched = pair_files(dirs)
    if any(out_dir.resolve() == Path(d).resolve() for d in dirs):
        raise InputError("the output folder is one of the source folders (outputs are named "
                         "after the sources); choose another -o", str(out_dir))
    summary = out_dir / BATCH_CSV
    if summary.exists() and not force:
        raise InputError("output exists (use --force to overwrite)", str(summary))
    out_dir.mkdir(parents=True, exist_ok=True)

    rows = {name: BatchRow(name, [str(p) for p in paths], "cancelled") for name, paths in pairs}
    state = {"done": 0, "total": len(pairs)}

    def flush(group: list) -> None:
        _fuse_and_export(group, rows, options, force, with_metrics, cancel)
        state["done"] += len(group)
        report(progress, "fusing", state["done"] / max(state["total"], 1))

    try:
        group: list = []
        for name, paths in pairs:
            check_cancel(cancel)
            row = rows[name]
            t0 = time.perf_counter()
            try:
                out, pair_fmt = batch_output_path(name, paths[0], out_dir, fmt)
                if out.exists() and not force:
                    raise InputError("output exists (use --force to overwrite)", str(out))
                job = FusionJob(paths, options, modalities=modalities)
                prepared = job.prepare(cancel=cancel)
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - a failing pair is reported, never fatal
                row.status, row.message = "failed", _one_line(exc)
                row.seconds = time.perf_counter() - t0
                state["done"] += 1
                report(progress, "fusing", state["done"] / max(state["total"], 1))
                continue
            item = (name, job, prepared, out, pair_fmt, time.perf_counter() - t0)
            if group and not _groupable(group, item, group_size):
                flush(group)
                group = []
            group.append(item)
        if group:
            flush(group)
    finally:  # also on Cancelled: the summary lists what was done ("cancelled" for the rest)
        result_rows = sorted(list(rows.values()) + unmatched, key=lambda r: r.name)
        write_batch_csv(result_rows, summary)
    report(progress, "fusing", 1.0)
    return result_rows


def _group_key(prepared: PreparedSources):
    """One-slice pairs with the same number of sources and shape can share one method call."""
    shape = prepared.gray[0].shape
    return (len(prepared.gray), shape) if shape[0] == 1 else None


def _groupable(group: list, item, size: int) -> bool:
    key = _group_key(item[2])
    return key is not None and len(group) < size and _group_key(group[0][2]) == key


def _fuse_and_export(group: list, rows: dict, options: FusionOptions, force: bool,
                     with_metrics: bool, cancel) -> None:
    """Fuse a group of prepared pairs with one method call, then export each and fill its row."""
    t0 = time.perf_counter()
    try:
        fused_list, method, notices = _fuse_group([g[2] for g in group], options, cancel)
    except Cancelled:
        raise
    except Exception:  # noqa: BLE001 - isolate the failing pair by fusing one at a time
        fused_list = None
    share = (time.perf_counter() - t0) / len(group)
    for j, (name, job, prepared, out, pair_fmt, prep_s) in enumerate(group):
        check_cancel(cancel)
        row = rows[name]
        t1 = time.perf_counter()
        try:
            if fused_list is None:
                result = job.fuse(prepared, cancel=cancel)
            else:
                result = compose_result(prepared, fused_list[j], method, notices, options)
            written = export_result(result, out, pair_fmt, force=force)
            row.status, row.method = "ok", result.method
            row.output = str(written[0] if len(written) == 1 else out)
            row.message = "; ".join(result.notices)
            if with_metrics:
                row.metrics = result_metrics(result, cancel=cancel)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001
            row.status, row.message = "failed", _one_line(exc)
        row.seconds = prep_s + share + time.perf_counter() - t1


def _fuse_group(prepared: list[PreparedSources], options: FusionOptions, cancel
                ) -> tuple[list[np.ndarray], str, list[str]]:
    """Fuse several one-slice pairs as one stack of slices; split the result back per pair."""
    n_src = len(prepared[0].gray)
    stacked = [np.concatenate([p.gray[i] for p in prepared], axis=0) for i in range(n_src)]
    fused, method, notices = fuse_gray(stacked, options, cancel=cancel)
    offsets = np.cumsum([0] + [p.gray[0].shape[0] for p in prepared])
    return [fused[a:b] for a, b in zip(offsets[:-1], offsets[1:])], method, notices


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    return msg if isinstance(exc, InputError) else f"{type(exc).__name__}: {msg}"


def write_batch_csv(rows: list[BatchRow], path: Path) -> None:
    """The batch summary: one line per pair (name, status, output, method, seconds, message,
    inputs, then any metrics), written atomically."""
    metric_keys: list[str] = []
    for r in rows:
        metric_keys += [k for k in r.metrics if k not in metric_keys]
    buf = _io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["name", "status", "output", "method", "seconds", "message", "inputs"]
                    + metric_keys)
    for r in rows:
        writer.writerow([r.name, r.status, r.output, r.method, f"{r.seconds:.3f}", r.message,
                         " | ".join(r.inputs)] + [_fmt(r.metrics.get(k)) for k in metric_keys])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(path)


def _fmt(value) -> str:
    return "" if value is None else f"{value:.6g}"


# --- metrics ------------------------------------------------------------------------------------

def result_metrics(result: FusionResult, *, progress: ProgressCallback | None = None,
                   cancel=None) -> dict[str, float]:
    """Fusion-quality metrics of a result on its fixed grid, 0..255 scale (volumes: mean over
    the slices with signal, see ``evaluate_volume``).

    The functional source (for CClow) is the first CT/PET/SPECT source, else the first colour
    source; MI per source is labelled by modality when the modalities differ.
    """
    from .metrics import ALIASES, compute_metrics, evaluate_volume, to_display_u8

    functional = next((k for k, s in enumerate(result.sources)
                       if s.modality in FUNCTIONAL_MODALITIES), None)
    if functional is None:
        functional = next((k for k, s in enumerate(result.inputs) if s.is_color), None)
    names = [s.modality for s in result.sources]
    if len(set(names)) != len(names):
        names = None
    fused = to_display_u8(result.fused_gray)
    sources = [to_display_u8(s.luminance()) for s in result.sources]
    if fused.shape[0] == 1:
        check_cancel(cancel)
        values = compute_metrics(fused[0], [s[0] for s in sources], functional=functional,
                                 names=names)
        report(progress, "metrics", 1.0)
    else:
        values = evaluate_volume(fused, sources, functional=functional, names=names,
                                 progress=progress, cancel=cancel)["mean"]
    return {k: float(v) for k, v in values.items() if k not in ALIASES}
