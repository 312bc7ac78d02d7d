"""``fusionviewer batch DIR_A DIR_B [DIR_C ...] -o OUT_DIR``: fuse same-named files pair by pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..pipeline import BATCH_CSV, run_batch
from ._common import ProgressBar, add_fusion_options, options_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch", help="fuse same-named files across folders",
        description="Pair files with the same name across two or more folders and fuse each "
                    "pair into OUT_DIR (PNG in, PNG out unless --format says otherwise), with a "
                    f"CSV summary ({BATCH_CSV}). A failing pair is reported and skipped.")
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="source folders (two or more)")
    add_fusion_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args, args.dirs)
    with ProgressBar(enabled=not args.no_progress, desc="batch") as bar:
        rows = run_batch(args.dirs, args.output, options, fmt=args.format, force=args.force,
                         with_metrics=args.metrics, progress=bar, cancel=args.cancel)
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
