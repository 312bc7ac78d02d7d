"""Time and accuracy of ``register`` on Harvard CT-MRI case 34 moved by known rigid motions; JSON.

Usage: python benchmarks/bench_registration.py [--repeat N]
Cases: 2-D slice 34012 (256 x 256, rigid and affine; 8 degrees, (6, -4) px) and 3-D volumes
stacked from slices 8-17 (128 x 128 x 10 at 2 mm, and 256 x 256 x 20 from slices 3-22 at
1 x 1 x 5 mm; 2, -1.5, 8 degrees, (6, -4, 2) mm). Error: mean |known(T(p)) - p| over the head
(CT or MRI > 20), in pixels/voxels of the in-plane spacing. Times: median wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    known2 = sitk.Euler2DTransform((127.5, 127.5), np.deg2rad(8.0), (6.0, -4.0))
    ct2, mr2 = load([12], 1, (1.0, 1.0, 1.0))
    results = [case("2d-rigid", ct2, mr2, known2, args.repeat),
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
    print(json.dumps({"benchmark": "registration", "machine": platform.machine(),
                      "cpu_count": __import__("os").cpu_count(), "simpleitk":
                      sitk.Version_VersionString(), "repeat": args.repeat, "results": results},
                     indent=2))


if __name__ == "__main__":
    main()
