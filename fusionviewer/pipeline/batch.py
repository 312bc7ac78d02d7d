"""Batch fusion: same-named files across folders (or a manifest's rows), with a summary CSV.

Serially, consecutive one-slice pairs of one shape are fused in groups with one method call
(the CNN batches them); with ``workers``/``cluster`` each pair is one Dask task running
``fuse_pair`` (``cohort.py``). A failing pair is recorded and skipped, never fatal.
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import Cancelled, InputError
from ..progress import ProgressCallback, check_cancel, report
from .export import export_result, write_text
from .job import FusionJob, PreparedSources, compose_result, fuse_gray
from .measure import measure
from .options import FORMATS, FusionOptions, choice_error

BATCH_CSV = "summary.csv"
_SOURCE_SUFFIXES = (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".mha", ".mhd",
                    ".nrrd", ".dcm")


@dataclass
class BatchRow:
    """One pair of a batch run: its name, inputs, outcome and output (a line of the CSV)."""

    name: str
    inputs: list[str]
    status: str  # "ok", "failed", "skipped" (no partner) or "cancelled"
    output: str = ""
    method: str = ""
    message: str = ""  # error or notices
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    registration: str = ""  # verdict per registered source: "good", "2: doubtful; 3: good"
    registration_detail: str = ""  # per moving source: final Mattes MI and optimizer iterations
    worker: str = ""  # host:pid of the Dask worker that ran it ("" in-process)


@dataclass(frozen=True)
class BatchPair:
    """One unit of a batch: its name (the output is named after it), source paths and
    per-source modality hints (None: the batch options' own)."""

    name: str
    inputs: tuple[Path, ...]
    modalities: tuple[str | None, ...] | None = None

    def new_row(self) -> BatchRow:
        """Its summary row before anything ran ("cancelled" until it finishes)."""
        return BatchRow(self.name, [str(p) for p in self.inputs], "cancelled")


@dataclass
class BatchItem:
    """A pair prepared (loaded, registered, normalized) and waiting for its group's fusion."""

    row: BatchRow
    job: FusionJob
    prepared: PreparedSources
    out: Path
    fmt: str
    prepare_seconds: float

    def group_key(self):
        """One-slice pairs with the same number of sources and shape share one method call."""
        shape = self.prepared.gray[0].shape
        return (len(self.prepared.gray), shape) if shape[0] == 1 else None


def pair_files(dirs: Sequence[str | Path]) -> tuple[list[BatchPair], list[BatchRow]]:
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
    pairs = [BatchPair(name, tuple(e[name] for e in entries)) for name in sorted(common)]
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
    for suffix in _SOURCE_SUFFIXES:
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


def run_batch(dirs: Sequence[str | Path] | None, out_dir: str | Path,
              options: FusionOptions | None = None, *, manifest: str | Path | None = None,
              fmt: str | None = None, force: bool = False, with_metrics: bool = False,
              progress: ProgressCallback | None = None, cancel=None, group_size: int = 16,
              workers: int | None = None, cluster: str | None = None) -> list[BatchRow]:
    """Fuse every same-named pair across ``dirs`` (or every row of the CSV ``manifest``) into
    ``out_dir``; write ``summary.csv`` there.

    Serial and in-process unless ``workers`` (a local Dask cluster of that many processes)
    or ``cluster`` (a Dask scheduler address) is given; both run the same ``fuse_pair``.
    On cancel the summary is still written (unfinished pairs "cancelled") and Cancelled is
    raised. Rows come back in name order; unmatched names are "skipped".
    """
    options = options or FusionOptions()
    out_dir = Path(out_dir)
    if fmt is not None and fmt not in FORMATS:
        raise choice_error("output format", fmt, FORMATS)
    if (manifest is None) == (not dirs):
        raise InputError("give either source folders or a manifest (--manifest), not both"
                         if manifest is not None else "batch needs at least two folders, got 0")
    if manifest is not None:
        from .manifest import read_manifest

        pairs, unmatched = read_manifest(manifest), []
        options.validate(len(pairs[0].inputs))
        source_dirs = sorted({p.parent for pair in pairs for p in pair.inputs})
    else:
        options.validate(len(dirs))
        pairs, unmatched = pair_files(dirs)
        source_dirs = [Path(d) for d in dirs]
    if any(out_dir.resolve() == d.resolve() for d in source_dirs):
        raise InputError("the output folder is one of the source folders (outputs are named "
                         "after the sources); choose another -o", str(out_dir))
    summary = out_dir / BATCH_CSV
    if summary.exists() and not force:
        raise InputError("output exists (use --force to overwrite)", str(summary))
    distributed = workers is not None or cluster is not None
    if distributed:
        from .cohort import check_engine

        check_engine(workers, cluster)
    out_dir.mkdir(parents=True, exist_ok=True)

    rows = {pair.name: pair.new_row() for pair in pairs}
    if distributed:
        from .cohort import dask_client, run_on_dask

        engine = dask_client(workers, cluster)
    else:
        engine = nullcontext()
    with engine as client:  # a local cluster closes after the summary is written
        try:
            if client is None:
                _run_serial(pairs, rows, out_dir, options, fmt, force, with_metrics, progress,
                            cancel, group_size)
            else:
                run_on_dask(client, pairs, rows, out_dir, options, fmt=fmt, force=force,
                            with_metrics=with_metrics, progress=progress, cancel=cancel)
        finally:  # also on Cancelled: the summary lists what was done ("cancelled" the rest)
            result_rows = sorted(list(rows.values()) + unmatched, key=lambda r: r.name)
            write_batch_csv(result_rows, summary)
    report(progress, "fusing", 1.0)
    return result_rows


def fuse_pair(pair: BatchPair, out_dir: Path, options: FusionOptions, fmt: str | None,
              force: bool, with_metrics: bool, cancel=None) -> BatchRow:
    """Load, register, normalize, fuse, export (and measure) one pair: the serial batch's
    steps for a group of one, and what each Dask task runs. Raises only Cancelled."""
    row = pair.new_row()
    item = _prepare(row, pair, out_dir, options, fmt, force, cancel)
    if item is not None:
        _fuse_and_export([item], options, force, with_metrics, cancel)
    return row


def _run_serial(pairs: list[BatchPair], rows: dict[str, BatchRow], out_dir: Path,
                options: FusionOptions, fmt: str | None, force: bool, with_metrics: bool,
                progress, cancel, group_size: int) -> None:
    """Pairs one after another in this process, one-slice pairs of one shape fused in groups."""
    done = [0]

    def step() -> None:
        report(progress, "fusing", done[0] / max(len(pairs), 1))

    def flush(group: list[BatchItem]) -> None:
        _fuse_and_export(group, options, force, with_metrics, cancel)
        done[0] += len(group)
        step()

    group: list[BatchItem] = []
    for pair in pairs:
        check_cancel(cancel)
        item = _prepare(rows[pair.name], pair, out_dir, options, fmt, force, cancel)
        if item is None:
            done[0] += 1
            step()
            continue
        if group and not (item.group_key() is not None and len(group) < group_size
                          and group[0].group_key() == item.group_key()):
            flush(group)
            group = []
        group.append(item)
    if group:
        flush(group)


def pair_options(options: FusionOptions, pair: BatchPair) -> FusionOptions:
    """The batch options with the pair's own modality hints (a manifest's) where it has them."""
    if pair.modalities is None:
        return options
    base = options.per_source("modalities", len(pair.inputs))
    merged = [own or default for own, default in zip(pair.modalities, base)]
    return dataclasses.replace(options, modalities=merged)


def _prepare(row: BatchRow, pair: BatchPair, out_dir: Path, options: FusionOptions,
             fmt: str | None, force: bool, cancel) -> BatchItem | None:
    """Load/register/normalize one pair; a failure is recorded in its row (None returned)."""
    t0 = time.perf_counter()
    try:
        out, pair_fmt = batch_output_path(pair.name, pair.inputs[0], out_dir, fmt)
        if out.exists() and not force:
            raise InputError("output exists (use --force to overwrite)", str(out))
        job = FusionJob(list(pair.inputs), pair_options(options, pair))
        prepared = job.prepare(cancel=cancel)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - a failing pair is reported, never fatal
        row.status, row.message = "failed", _one_line(exc)
        row.seconds = time.perf_counter() - t0
        return None
    return BatchItem(row, job, prepared, out, pair_fmt, time.perf_counter() - t0)


def _fuse_and_export(group: list[BatchItem], options: FusionOptions, force: bool,
                     with_metrics: bool, cancel) -> None:
    """Fuse a group of prepared pairs with one method call, then export each and fill its row."""
    t0 = time.perf_counter()
    try:
        fused_list, method, notices = _fuse_group([g.prepared for g in group], options, cancel)
    except Cancelled:
        raise
    except Exception:  # noqa: BLE001 - isolate the failing pair by fusing one at a time
        fused_list = None
    share = (time.perf_counter() - t0) / len(group)
    for j, item in enumerate(group):
        check_cancel(cancel)
        row = item.row
        t1 = time.perf_counter()
        try:
            if fused_list is None:
                result = item.job.fuse(item.prepared, cancel=cancel)
            else:
                result = compose_result(item.prepared, fused_list[j], method, notices,
                                        item.job.options)
            written = export_result(result, item.out, item.fmt, force=force)
            row.status, row.method = "ok", result.method
            row.output = str(written[0] if len(written) == 1 else item.out)
            row.message = "; ".join(result.notices)
            row.registration = _verdicts(result.registration_verdicts())
            row.registration_detail = registration_summary(result.registrations)
            if with_metrics:
                row.metrics = measure(result, cancel=cancel)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001
            row.status, row.message = "failed", _one_line(exc)
        row.seconds = item.prepare_seconds + share + time.perf_counter() - t1


def registration_summary(registrations) -> str:
    """'source 2: MI -0.512, 87 iterations' per registered source ("" without registration)."""
    return "; ".join(f"source {k + 1}: MI {r.metric_value:.4g}, {r.iterations} iterations"
                     for k, r in enumerate(registrations) if r is not None)


def _fuse_group(prepared: list[PreparedSources], options: FusionOptions, cancel
                ) -> tuple[list[np.ndarray], str, list[str]]:
    """Fuse several one-slice pairs as one stack of slices; split the result back per pair."""
    n_src = len(prepared[0].gray)
    stacked = [np.concatenate([p.gray[i] for p in prepared], axis=0) for i in range(n_src)]
    fused, method, notices = fuse_gray(stacked, options, cancel=cancel)
    offsets = np.cumsum([0] + [p.gray[0].shape[0] for p in prepared])
    return [fused[a:b] for a, b in zip(offsets[:-1], offsets[1:])], method, notices


def _verdicts(verdicts: dict[int, str]) -> str:
    """The registration column: one verdict, or "source: verdict" per registered source."""
    if len(verdicts) == 1:
        return next(iter(verdicts.values()))
    return "; ".join(f"{k + 1}: {v}" for k, v in verdicts.items())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    return msg if isinstance(exc, InputError) else f"{type(exc).__name__}: {msg}"


def write_batch_csv(rows: list[BatchRow], path: Path) -> None:
    """The batch summary: one line per pair (name, status, output, method, seconds, message,
    inputs, registration verdict and detail, worker, then any metrics), written atomically;
    only the client (never a Dask worker) writes it."""
    metric_keys: list[str] = []
    for r in rows:
        metric_keys += [k for k in r.metrics if k not in metric_keys]
    buf = _io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["name", "status", "output", "method", "seconds", "message", "inputs",
                     "registration", "registration_detail", "worker"] + metric_keys)
    for r in rows:
        writer.writerow([r.name, r.status, r.output, r.method, f"{r.seconds:.3f}", r.message,
                         " | ".join(r.inputs), r.registration, r.registration_detail, r.worker]
                        + [_fmt(r.metrics.get(k)) for k in metric_keys])
    write_text(path, buf.getvalue(), force=True)


def _fmt(value) -> str:
    return "" if value is None else f"{value:.6g}"


__all__ = ["BATCH_CSV", "BatchItem", "BatchPair", "BatchRow", "batch_output_path", "fuse_pair",
           "pair_files", "pair_options", "registration_summary", "run_batch", "write_batch_csv"]
