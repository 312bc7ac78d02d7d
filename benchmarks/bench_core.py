"""Time load + register (rigid) + fuse (GFF) through the pipeline; prints JSON.

Usage: python benchmarks/bench_core.py [--repeat N]
Cases: a 256 x 256 CT-MRI pair (PNG files) and a 256 x 256 x 20 volume pair (NIfTI files)
stacked from 20 consecutive slices of CT-MRI case 34 in ../shared/data/harvard. The MRI is moved
by a known rigid transform first (2-D: 8 degrees, (6, -4) px; 3-D: 5 degrees in-plane,
(4, -3) px), so registration has real work to do. Times are seconds, the median over
``--repeat`` runs of FusionJob's per-stage wall timings, plus the median total wall and CPU
time (CPU time is the fairer number when other processes share the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusionviewer.pipeline import FusionJob, FusionOptions  # noqa: E402

HARVARD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "harvard"


def _read(path: Path) -> np.ndarray:
    from PIL import Image as PILImage

    return np.asarray(PILImage.open(path))


def _move(arr: np.ndarray, angle: float, shift: tuple[float, float]) -> np.ndarray:
    """Rotate (degrees) and shift (y, x pixels) every slice of a [z, y, x] or [y, x] array."""
    out = ndimage.rotate(arr.astype(np.float64), angle, axes=(-1, -2), reshape=False, order=1)
    out = ndimage.shift(out, (0,) * (arr.ndim - 2) + tuple(shift), order=1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _write_cases(folder: Path) -> dict[str, list[Path]]:
    from PIL import Image as PILImage
    import SimpleITK as sitk

    ct_png, mri_png = (HARVARD / "ct-mri" / m / "34014.png" for m in ("ct", "mri"))
    moved_png = folder / "mri_moved.png"
    PILImage.fromarray(_move(_read(mri_png), 8.0, (6.0, -4.0))).save(moved_png)

    names = [f"340{k:02d}.png" for k in range(3, 23)]  # slices 3..22 of case 34
    ct = np.stack([_read(HARVARD / "ct-mri" / "ct" / n) for n in names])
    mri = _move(np.stack([_read(HARVARD / "ct-mri" / "mri" / n) for n in names]), 5.0,
                (4.0, -3.0))
    vols = []
    for name, arr in (("ct.nii.gz", ct), ("mri_moved.nii.gz", mri)):
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing((0.9375, 0.9375, 5.0))
        sitk.WriteImage(img, str(folder / name))
        vols.append(folder / name)
    return {"pair_256x256": [ct_png, moved_png], "volume_256x256x20": vols}


def _bench(paths: list[Path], repeat: int) -> dict[str, float]:
    options = FusionOptions(method="gff", register="rigid")
    stages: dict[str, list[float]] = {}
    totals, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = FusionJob(paths, options, modalities=["CT", "MR"]).run()
        totals.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        for key, value in result.timings.items():
            stages.setdefault(key, []).append(value)
    out = {f"{k}_s": round(float(np.median(v)), 4) for k, v in stages.items()}
    out["total_s"] = round(float(np.median(totals)), 4)
    out["total_cpu_s"] = round(float(np.median(cpu)), 4)  # all threads of this process
    out["registration_metric"] = round(float(result.registrations[1].metric_value), 4)
    out["shape_zyx"] = list(result.fused_gray.shape)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = _write_cases(Path(tmp))
        results = {name: _bench(paths, args.repeat) for name, paths in cases.items()}
    print(json.dumps({
        "benchmark": "load + register (rigid, Mattes MI) + normalize + fuse (gff)",
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or
                    platform.machine(), "python": platform.python_version()},
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
