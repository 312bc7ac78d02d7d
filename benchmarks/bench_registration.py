"""Time and accuracy of ``register`` on Harvard CT-MRI case 34 moved by known rigid motions; JSON.

Usage: python benchmarks/bench_registration.py [--repeat N] [--only harvard|real3d]
Cases: 2-D slice 34012 (256 x 256, rigid and affine; 8 degrees, (6, -4) px) and 3-D volumes
stacked from slices 8-17 (128 x 128 x 10 at 2 mm, and 256 x 256 x 20 from slices 3-22 at
1 x 1 x 5 mm; 2, -1.5, 8 degrees, (6, -4, 2) mm). Error: mean |known(T(p)) - p| over the head
(CT or MRI > 20), in pixels/voxels of the in-plane spacing. Times: median wall and CPU seconds.

Real 3-D pair (shared/data/real3d/mridir-porcine-head: CT 512 x 512 x 103 feet-first, MR T2
512 x 512 x 94 head-first, different Frames of Reference; MR onto CT), each case in its own
process (peak RSS = that process's maximum resident memory, loading included): "real3d-tuned-
sitk" is a tuned single-start SimpleITK script (Mattes MI 32 bins, 2 % random sampling, shrink
4/2/1, smoothing 2/1/0 voxels, geometry init, regular-step gradient descent, all threads);
"real3d-rigid" is ``register(ct, mr)`` (rigid, orientation search). ``ratio`` = our wall time /
the tuned script's, same run; ``rotation_deg`` is the found rotation (the right answer is about
180 degrees).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fusionviewer.image import Image  # noqa: E402
from fusionviewer.registration import register, resample_to  # noqa: E402

HARVARD = ROOT.parent / "shared" / "data" / "harvard" / "ct-mri"


def load(slices, step: int, spacing) -> tuple[Image, Image]:
    """CT and MR of case 34 as volumes (uint8) with the given spacing (x, y, z) mm."""
    vols = [np.stack([np.asarray(PILImage.open(HARVARD / f / f"340{k:02d}.png"))[::step, ::step]
                      for k in slices]) for f in ("ct", "mri")]
    return Image(vols[0], spacing=spacing, modality="CT"), Image(vols[1], spacing=spacing,
                                                                 modality="MR")


def error_px(known, found, ct: Image, mr: Image) -> float:
    """Mean displacement error over the head, in units of the in-plane spacing."""
    z, y, x = np.nonzero((ct.array > 20) | (mr.array > 20))
    pts = np.stack([x, y, z], 1)[::7] * np.asarray(ct.spacing)
    if ct.is_2d:
        pts = pts[:, :2]
    back = np.array([known.TransformPoint(found.TransformPoint(tuple(p))) for p in pts])
    return float(np.linalg.norm(back - pts, axis=1).mean() / ct.spacing[0])


def case(name, ct, mr, known, repeat, **kwargs) -> dict:
    moved = resample_to(mr, ct, known)
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        res = register(ct, moved, **kwargs)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"case": name, "size_xyz": list(ct.shape[::-1]), "spacing_mm": list(ct.spacing),
            "options": kwargs, "wall_s": round(float(np.median(walls)), 3),
            "cpu_s": round(float(np.median(cpus)), 3), "iterations": res.iterations,
            "mean_error_px": round(error_px(known, res.transform, ct, mr), 3)}


REAL3D = ROOT.parent / "shared" / "data" / "real3d" / "mridir-porcine-head"


def tuned_sitk(ct, mr):
    """The single-start SimpleITK script the issue compares against (fixed -> moving rigid)."""
    f = sitk.Cast(ct.to_sitk(), sitk.sitkFloat32)
    m = sitk.Cast(mr.to_sitk(), sitk.sitkFloat32)
    init = sitk.CenteredTransformInitializer(f, m, sitk.Euler3DTransform(),
                                             sitk.CenteredTransformInitializerFilter.GEOMETRY)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.02, 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(2.0, 1e-3, 200, relaxationFactor=0.7)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    method.SetInitialTransform(init, inPlace=False)
    return method.Execute(f, m)


def _rotation_deg(tx) -> float:
    """Rotation angle (degrees) of any transform's linear part, from mapped points."""
    o = np.asarray(tx.TransformPoint((0.0, 0.0, 0.0)))
    m = np.stack([np.asarray(tx.TransformPoint(tuple(e))) - o for e in np.eye(3)], axis=1)
    u, _, vt = np.linalg.svd(m)
    return float(np.degrees(np.arccos(np.clip((np.trace(u @ vt) - 1) / 2, -1, 1))))


def real3d_case(name: str) -> dict:
    """One real-pair case in this process: times, memory, found rotation, report."""
    from fusionviewer.io import load_image
    t0 = time.perf_counter()
    ct, mr = load_image(str(REAL3D / "CT")), load_image(str(REAL3D / "MR_T2"))
    load_s = time.perf_counter() - t0
    w, c = time.perf_counter(), time.process_time()
    report = None
    if name == "real3d-tuned-sitk":
        tx = tuned_sitk(ct, mr)
    else:
        res = register(ct, mr, transform="rigid")
        tx, report = res.transform, res.report.to_dict()
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    out = {"case": name, "load_s": round(load_s, 2), "wall_s": round(wall, 2),
           "cpu_s": round(cpu, 2),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           "rotation_deg": round(_rotation_deg(tx), 1)}
    if report is not None:
        out["report"] = {k: report[k] for k in ("verdict", "metric_start", "metric_end",
                                                 "overlap_end", "final_iterations",
                                                 "iteration_cap", "clear_win",
                                                 "runner_up_gap", "iterations")}
    return out


def real3d_cases() -> list[dict]:
    results = []
    for name in ("real3d-tuned-sitk", "real3d-rigid"):
        proc = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True,
                              text=True, check=True, env=dict(os.environ))
        results.append(json.loads(proc.stdout))
    results[1]["ratio_to_tuned_sitk"] = round(results[1]["wall_s"] / results[0]["wall_s"], 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("harvard", "real3d"))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(real3d_case(args.case)))
        return
    results = []
    if args.only != "harvard" and REAL3D.is_dir():
        results += real3d_cases()
    if args.only == "real3d":
        print(json.dumps({"benchmark": "registration", "machine": platform.machine(),
                          "cpu_count": os.cpu_count(), "simpleitk": sitk.Version_VersionString(),
                          "results": results}, indent=2))
        return
    known2 = sitk.Euler2DTransform((127.5, 127.5), np.deg2rad(8.0), (6.0, -4.0))
    ct2, mr2 = load([12], 1, (1.0, 1.0, 1.0))
    results += [case("2d-rigid", ct2, mr2, known2, args.repeat),
               case("2d-affine", ct2, mr2, known2, args.repeat, transform="affine"),
               case("2d-rigid-moments", ct2, mr2, known2, args.repeat, init="moments")]
    for slices, step, spacing in ((range(8, 18), 2, (2.0, 2.0, 2.0)),
                                  (range(3, 23), 1, (1.0, 1.0, 5.0))):
        ct, mr = load(slices, step, spacing)
        center = [(n - 1) * s / 2 for n, s in zip(ct.shape[::-1], ct.spacing)]
        known = sitk.Euler3DTransform(center, np.deg2rad(2.0), np.deg2rad(-1.5), np.deg2rad(8.0),
                                      (6.0, -4.0, 2.0))
        results.append(case("3d-rigid", ct, mr, known, args.repeat))
        results.append(case("3d-rigid-threads0", ct, mr, known, args.repeat, threads=0))
        results.append(case("3d-rigid-image-centres", ct, mr, known, args.repeat,
                            init="geometry"))
    print(json.dumps({"benchmark": "registration", "machine": platform.machine(),
                      "cpu_count": __import__("os").cpu_count(), "simpleitk":
                      sitk.Version_VersionString(), "repeat": args.repeat, "results": results},
                     indent=2))


if __name__ == "__main__":
    main()
