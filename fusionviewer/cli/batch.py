"""``fusionviewer batch DIR_A DIR_B [...] -o OUT_DIR`` (or ``--manifest pairs.csv``): fuse pair by
pair, in this process or on Dask workers (``--workers N``, ``--cluster ADDRESS``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..pipeline import BATCH_CSV, run_batch
from ._common import ProgressBar, add_fusion_options, options_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch", help="fuse same-named files across folders",
        description="Pair files with the same name across two or more folders and fuse each "
                    "pair into OUT_DIR (PNG in, PNG out unless --format says otherwise), with a "
                    f"CSV summary ({BATCH_CSV}). A failing pair is reported and skipped. "
                    "Pairs can also come from a CSV manifest, and run on Dask workers.")
    parser.add_argument("dirs", nargs="*", metavar="DIR",
                        help="source folders (two or more; or give --manifest)")
    parser.add_argument("--manifest", metavar="CSV",
                        help="one row per pair: columns source1, source2, ... (paths, relative "
                             "to the CSV's folder), optional name and modality1, modality2, ...")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=int, metavar="N",
                        help="run the pairs on a local Dask cluster of N worker processes "
                             "(needs fusionviewer[cluster])")
    engine.add_argument("--cluster", metavar="ADDRESS",
                        help="run the pairs on an existing Dask scheduler, e.g. "
                             "tcp://scheduler:8786 (workers must see the same paths)")
    add_fusion_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.manifest is not None and args.dirs:
        raise InputError("give source folders or --manifest, not both")
    if args.manifest is not None:
        from ..pipeline.manifest import read_manifest

        sources = [str(p) for p in read_manifest(args.manifest)[0].inputs]
    else:
        sources = args.dirs
    options = options_from_args(args, sources)
    with ProgressBar(enabled=not args.no_progress, desc="batch") as bar:
        rows = run_batch(args.dirs, args.output, options, manifest=args.manifest,
                         fmt=args.format, force=args.force, with_metrics=args.metrics,
                         progress=bar, cancel=args.cancel, workers=args.workers,
                         cluster=args.cluster)
    ok = [r for r in rows if r.status == "ok"]
    bad = [r for r in rows if r.status != "ok"]
    for r in bad:
        print(f"fusionviewer: {r.status}: {r.name}: {r.message}", file=sys.stderr)
    for r in ok:
        if any(v in r.registration for v in ("doubtful", "failed")):
            print(f"warning: {r.name}: registration {r.registration}", file=sys.stderr)
    notices = sorted({r.message for r in ok if r.message})
    for n in notices:
        print(f"fusionviewer: notice: {n}", file=sys.stderr)
    print(f"fused {len(ok)} of {len(rows)} pair(s) into {args.output}; "
          f"{len(bad)} failed or skipped; summary: {Path(args.output) / BATCH_CSV}")
    return 0
