"""``fusionviewer experiments --out DIR [--quick] [--pairs N] [--seed S] [--data DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..paths import app_root


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "experiments", help="reproduce the paper's experiments: report.md, figures, CSV/JSON",
        description="Run the paper's experiments on the Harvard val pairs with our CNN and the "
                    "classical methods (Tables 1-2, comparison, block size, noise, convergence, "
                    "three-source fusion, speed) and write DIR/report.md with PNG figures and "
                    "CSV/JSON data. The full run takes up to an hour on a 2-core CPU; --quick "
                    "a few minutes.")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--quick", action="store_true",
                        help="fewer pairs, tile sizes, noise levels and repeats (minutes)")
    parser.add_argument("--pairs", type=int, metavar="N",
                        help="val pairs per task for every experiment (default: 10 for the "
                             "tables, all for the comparison; fewer with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of pair choice and noise "
                                                            "(default: %(default)s)")
    parser.add_argument("--data", metavar="DIR",
                        help="Harvard pair folder with manifest.csv (default: "
                             "../shared/data/harvard beside the repository, when present)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                        help="CNN device for the quality experiments (default: %(default)s; the "
                             "speed study also times CUDA when present)")
    parser.add_argument("--only", metavar="K,K", help="run only these experiments (1-7)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)


def _data_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    default = app_root().parent / "shared" / "data" / "harvard"
    if not default.is_dir():
        raise InputError(f"no data folder given and the default {default} does not exist; pass "
                         "--data DIR (a Harvard pair folder with manifest.csv)")
    return default


def _progress():
    state = {"stage": None, "pct": -1}

    def cb(stage: str, fraction: float) -> None:
        pct = int(fraction * 100)
        if stage != state["stage"] or pct >= state["pct"] + 5:
            state.update(stage=stage, pct=pct)
            print(f"[{pct:3d}%] {stage}", file=sys.stderr, flush=True)

    return cb


def run(args: argparse.Namespace) -> int:
    from ..experiments import Config, run_experiments

    if args.pairs is not None and args.pairs < 1:
        raise InputError(f"--pairs {args.pairs}: must be at least 1")
    only = None
    if args.only:
        try:
            only = tuple(int(k) for k in args.only.split(","))
        except ValueError:
            raise InputError(f"--only {args.only}: expected numbers 1-7 separated by commas")
        if not all(1 <= k <= 7 for k in only):
            raise InputError(f"--only {args.only}: experiments are numbered 1-7")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", str(out))
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise InputError("folder is not empty (use --force to write into it)", str(out))
    config = Config(out=out, data=_data_dir(args.data), quick=args.quick, pairs=args.pairs,
                    seed=args.seed, device=args.device)
    path = run_experiments(config, progress=None if args.no_progress else _progress(), only=only)
    print(path)
    return 0
