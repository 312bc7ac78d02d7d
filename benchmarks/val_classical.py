"""Score the classical methods on the val split like ../shared/docs/baselines_val.md; prints JSON.

Usage: python benchmarks/val_classical.py [--methods average,laplacian,gff] [--step 1]
Gray protocol of baselines_val.md: 8-bit gray sources (RGB -> rounded BT.601 luma), fused in
[0, 1], scored on the 0..255 scale with compute_metrics (the fused image rounded as an 8-bit
PNG). For each task and method: our mean over the pairs, the baseline row's value and the gap.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fusionviewer.fusion import get_method  # noqa: E402
from fusionviewer.metrics import compute_metrics  # noqa: E402
from fusionviewer.experiments.data import read_baseline_tables  # noqa: E402
from fusionviewer.training.data import FUNCTIONAL_INDEX, TASK_FOLDERS, read_gray_u8  # noqa: E402

SHARED = ROOT.parent / "shared"
HARVARD = SHARED / "data" / "harvard"
ROW_NAMES = {"average": "Average", "laplacian": "LP-4", "gff": "GFF"}
KEYS = ["EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM", "Q0", "QW", "QE", "CClow"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="average,laplacian,gff")
    parser.add_argument("--step", type=int, default=1, help="use every STEP-th val pair")
    args = parser.parse_args()
    methods = args.methods.split(",")
    with open(HARVARD / "manifest.csv", newline="") as fh:
        manifest = [r for r in csv.DictReader(fh) if r["split"] == "val"]
    base = read_baseline_tables(SHARED / "docs" / "baselines_val.md")
    report: dict = {}
    for task, (fa, fb) in TASK_FOLDERS.items():
        names = [r["name"] for r in manifest if r["task"] == task][::args.step]
        scores: dict[str, list[dict]] = {m: [] for m in methods}
        for name in names:
            a, b = (read_gray_u8(HARVARD / task / f / name).astype(np.float64) for f in (fa, fb))
            for m in methods:
                fused = get_method(m)([a / 255.0, b / 255.0]) * 255.0
                scores[m].append(compute_metrics(fused, [a, b], functional=FUNCTIONAL_INDEX[task]))
        for m in methods:
            ours = {k: float(np.mean([s[k] for s in scores[m]])) for k in KEYS}
            ref = next((v for row, v in base.get(task, {}).items()
                        if row.startswith(ROW_NAMES.get(m, "?"))), {})
            report.setdefault(task, {})[m] = {
                "pairs": len(names),
                "ours": {k: round(v, 4) for k, v in ours.items()},
                "baseline": {k: ref[k] for k in KEYS if k in ref},
                "gap": {k: round(ours[k] - ref[k], 4) for k in KEYS if k in ref},
            }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
