"""``fusionviewer demo --out DIR``: fuse a bundled sample pair; write PNG, DICOM and metrics."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from ..errors import InputError
from ..fusion import DEFAULT_METHOD, available_methods
from ..pipeline import (FusionJob, FusionOptions, FusionResult, demo_pair, export_result, measure,
                        write_text)
from ..pipeline.sources import SAMPLE_TASKS
from ._common import ProgressBar


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="fuse a bundled sample pair and write PNG, DICOM and metrics",
        description="Headless demo: fuse a bundled registered pair (Harvard Whole Brain Atlas) "
                    "with the default method and write fused.png, a DICOM series folder and "
                    "metrics (JSON and CSV) into DIR.")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--method", default=DEFAULT_METHOD, choices=available_methods(),
                        help="fusion method (default: %(default)s)")
    parser.add_argument("--pair", choices=SAMPLE_TASKS, default=SAMPLE_TASKS[0],
                        help="which bundled pair to fuse (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite files in DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("output exists and is not a folder", str(out))
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError("output folder is not empty (use --force to overwrite)", str(out))


def write_metrics(metrics: dict[str, float], json_path: Path, csv_path: Path,
                  force: bool = False) -> None:
    """Metrics as a JSON object and as a two-column CSV (metric, value)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["metric", "value"])
    for key in sorted(metrics):
        writer.writerow([key, f"{metrics[key]:.6g}"])
    write_text(json_path, json.dumps(metrics, indent=2, sort_keys=True) + "\n", force=force)
    write_text(csv_path, buf.getvalue(), force=force)


def fuse_demo(out: Path, method: str = DEFAULT_METHOD, force: bool = False,
              progress=None, pair: str | None = None, cancel=None
              ) -> tuple[FusionResult, list[Path]]:
    """Fuse a bundled pair into ``out``; returns the result and the files written."""
    files, modalities = demo_pair(task=pair)
    result = FusionJob(files, FusionOptions(method=method, modalities=modalities)).run(
        progress=progress, cancel=cancel)
    out.mkdir(parents=True, exist_ok=True)
    written = export_result(result, out / "fused.png", "png", force=force)
    written += export_result(result, out / "fused_dicom", "dicom", force=force)
    metrics = measure(result, cancel=cancel)
    json_path, csv_path = out / "metrics.json", out / "metrics.csv"
    write_metrics(metrics, json_path, csv_path, force=force)
    return result, written + [json_path, csv_path]


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _check_out_dir(out, args.force)
    with ProgressBar(enabled=not args.no_progress, desc="demo") as bar:
        result, written = fuse_demo(out, args.method, args.force, progress=bar, pair=args.pair,
                                    cancel=args.cancel)
    sources = ", ".join(p for s in result.inputs for p in s.provenance.source_paths)
    print(f"fused {sources} with {result.method}")
    for notice in result.notices:
        print(f"notice: {notice}")
    print(f"wrote into {out}:")
    dicoms = [p for p in written if p.parent.name == "fused_dicom"]
    for p in written:
        if p not in dicoms:
            print(f"  {p}")
    if dicoms:
        print(f"  {dicoms[0].parent}/ (DICOM series, {len(dicoms)} file(s))")
    return 0
