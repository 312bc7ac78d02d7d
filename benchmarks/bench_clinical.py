"""Clinical-size fusion against plain SimpleITK (read + resample + average + write); prints JSON.

Usage: python benchmarks/bench_clinical.py [--slices 400] [--cases real,synthetic]
       [--methods cnn,average]

Cases:
- ``real``: the CT (512 x 512 x 103) and MR T2 (512 x 512 x 94) of
  ../shared/data/real3d/mridir-porcine-head (different Frames of Reference: ``auto`` registers
  rigidly; the plain pipeline only resamples by the header geometry, so it has less to do).
- ``synthetic``: a 512 x 512 x N CT phantom (int16 HU) and a 128 x 128 x 100 functional volume
  (uint16 counts, hot spots) on a 4.8 mm grid tilted 5 deg, one Frame of Reference, as DICOM
  series written first (not timed).

Each pipeline runs in its own process (peak RSS is that process's ``ru_maxrss``): FusionViewer
(``FusionJob`` with defaults, ``export_result`` to .nii.gz; per-stage timings) and the plain
SimpleITK pipeline (ImageSeriesReader, Resample linear onto the fixed grid, min-max average in
numpy, WriteImage .nii.gz). Seconds are wall time; the machine may be shared, so the JSON also
gives the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REAL3D = ROOT.parent / "shared" / "data" / "real3d" / "mridir-porcine-head"
FRAME = "1.2.826.0.1.3680043.8.498.4242"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_synthetic(folder: Path, slices: int) -> tuple[Path, Path]:
    """The synthetic CT phantom and tilted functional volume as DICOM series (one frame)."""
    from fusionviewer.io.synthetic import write_series

    rng = np.random.default_rng(0)
    ct_dir, nm_dir = folder / "CT", folder / "NM"
    y, x = np.mgrid[:512, :512].astype(np.float32)
    for start in range(0, slices, 50):  # in chunks: the writer holds one chunk
        z = np.arange(start, min(slices, start + 50), dtype=np.float32)[:, None, None]
        r = ((x - 256) / 200) ** 2 + ((y - 256) / 160) ** 2 + ((z - slices / 2) / (slices / 1.8)) ** 2
        hu = np.where(r < 1, 40.0, -1000.0) + np.where((r > 0.85) & (r < 1), 660.0, 0.0)
        hu = hu + rng.normal(0, 10, hu.shape)
        stored = np.clip(np.rint(hu + 1024), 0, 4095).astype(np.uint16)
        write_series(stored, ct_dir, modality="CT", rescale=(1.0, -1024.0), bits_stored=12,
                     pixel_spacing=(0.98, 0.98), slice_spacing=1.25,
                     origin=(-250.0, -250.0, -250.0 + 1.25 * start), window=(40, 400),
                     frame_of_reference_uid=FRAME, study_uid=FRAME + ".1",
                     series_uid=FRAME + ".2", prefix=f"CT{start:04d}", uid_seed=f"ct{start}")
    a = np.radians(5.0)
    d = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    size = np.array([128, 128, 100])
    centre = np.array([-250 + 0.98 * 255.5, -250 + 0.98 * 255.5, -250 + 1.25 * (slices - 1) / 2])
    origin = centre - (d * 4.8) @ ((size - 1) / 2.0)
    k, j, i = np.mgrid[:100, :128, :128].astype(np.float64)
    pts = origin + np.stack([i, j, k], -1) @ (d * 4.8).T
    counts = 40.0 * (np.linalg.norm((pts - centre) / [196, 157, 1.25 * slices / 1.8], axis=-1) < 1)
    for spot in ([40, 20, 10], [-60, -30, -40], [0, 50, 60]):
        counts += 8000.0 * np.exp(-((pts - centre - spot) ** 2).sum(-1) / (2 * 8.0 ** 2))
    write_series(np.rint(rng.poisson(counts)).astype(np.uint16), nm_dir, modality="NM",
                 pixel_spacing=(4.8, 4.8), slice_spacing=4.8, origin=tuple(origin),
                 orientation=tuple(d[:, 0]) + tuple(d[:, 1]), frame_of_reference_uid=FRAME,
                 study_uid=FRAME + ".1")
    return ct_dir, nm_dir


def child_fusionviewer(fixed: str, moving: str, out: str, method: str) -> dict:
    from fusionviewer.pipeline import FusionJob, FusionOptions, export_result

    t0 = time.perf_counter()
    result = FusionJob([fixed, moving], FusionOptions(method=method)).run()
    t1 = time.perf_counter()
    export_result(result, out, force=True)
    t2 = time.perf_counter()
    stages = {k: round(v, 2) for k, v in result.timings.items()}
    stages["writing"] = round(t2 - t1, 2)
    return {"pipeline": f"fusionviewer ({method})", "method_used": result.method,
            "registration": result.decision.text() if result.decision else "",
            "stages_s": stages, "total_s": round(t2 - t0, 2), "peak_rss_mib": round(_peak_mib()),
            "fused_shape": list(result.fused_gray.shape)}


def child_plain(fixed: str, moving: str, out: str) -> dict:
    import SimpleITK as sitk

    def read(folder: str):
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
        return reader.Execute()

    t0 = time.perf_counter()
    f, m = read(fixed), read(moving)
    t1 = time.perf_counter()
    m_on_f = sitk.Resample(m, f, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    t2 = time.perf_counter()
    a = sitk.GetArrayViewFromImage(f).astype(np.float32)
    b = sitk.GetArrayViewFromImage(m_on_f)
    fused = 0.5 * ((a - a.min()) / max(np.ptp(a), 1e-6) + (b - b.min()) / max(np.ptp(b), 1e-6))
    img = sitk.GetImageFromArray(fused.astype(np.float32))
    img.CopyInformation(f)
    t3 = time.perf_counter()
    sitk.WriteImage(img, out, useCompression=True)
    t4 = time.perf_counter()
    return {"pipeline": "plain SimpleITK (read, resample, average)",
            "stages_s": {"loading": round(t1 - t0, 2), "geometry": round(t2 - t1, 2),
                         "fusing": round(t3 - t2, 2), "writing": round(t4 - t3, 2)},
            "total_s": round(t4 - t0, 2), "peak_rss_mib": round(_peak_mib())}


def _run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--cases", default="real,synthetic")
    parser.add_argument("--methods", default="cnn,average")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        out = child_plain(*rest) if kind == "plain" else child_fusionviewer(*rest[:3], kind)
        print(json.dumps(out))
        return
    report: dict = {"benchmark": "clinical-size fuse vs plain SimpleITK", "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "load_average_start": [round(v, 2) for v in os.getloadavg()]}, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="bench_clinical_") as tmp:
        tmp = Path(tmp)
        cases = {}
        if "real" in args.cases:
            cases["real CT 512x512x103 + MR T2 512x512x94 (different FoR)"] = (
                REAL3D / "CT", REAL3D / "MR_T2")
        if "synthetic" in args.cases:
            t0 = time.perf_counter()
            pair = write_synthetic(tmp / "synthetic", args.slices)
            report["machine"]["synthetic_write_s"] = round(time.perf_counter() - t0, 1)
            cases[f"synthetic CT 512x512x{args.slices} + NM 128x128x100 tilted 4.8 mm "
                  "(one FoR)"] = pair
        for name, (fixed, moving) in cases.items():
            runs = [_run_child("plain", str(fixed), str(moving), str(tmp / "plain.nii.gz"))]
            for method in args.methods.split(","):
                runs.append(_run_child(method, str(fixed), str(moving),
                                       str(tmp / f"fv_{method}.nii.gz")))
            plain = runs[0].get("total_s")
            for r in runs[1:]:
                if plain and "total_s" in r:
                    r["x_plain"] = round(r["total_s"] / plain, 2)
            report["cases"][name] = runs
    report["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
