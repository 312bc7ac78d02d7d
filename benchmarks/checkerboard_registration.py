"""Checkerboard of the shared CT (fixed) and MR T2 registered onto it, three planes, as a PNG.

Usage: python benchmarks/checkerboard_registration.py OUT.png [--transform T.tfm]
Without --transform it registers (rigid, default options) first. Tiles of 20 mm; CT shown with
a soft-tissue window, MR with its 1-99 percentiles; planes through the CT's centre (axial,
coronal, sagittal; pixels resampled to 0.5 mm).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fusionviewer.io import load_image  # noqa: E402
from fusionviewer.registration import load_transform, register, resample_to  # noqa: E402

REAL3D = ROOT.parent / "shared" / "data" / "real3d" / "mridir-porcine-head"


def _scale(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip((a - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


PIXEL_MM = 0.5


def _plane(vol: np.ndarray, axis: int, spacing) -> np.ndarray:
    """Middle plane along axis (0 z, 1 y, 2 x) of [z, y, x], stretched to 0.5 mm pixels."""
    k = vol.shape[axis] // 2
    img = np.take(vol, k, axis=axis)
    sx, sy, sz = spacing
    rows, cols = {0: (sy, sx), 1: (sz, sx), 2: (sz, sy)}[axis]
    pil = PILImage.fromarray(img)
    pil = pil.resize((int(img.shape[1] * cols / PIXEL_MM), int(img.shape[0] * rows / PIXEL_MM)),
                     PILImage.BILINEAR)
    out = np.asarray(pil)
    return out[::-1] if axis else out  # coronal/sagittal: head up


def checker(a: np.ndarray, b: np.ndarray, tile: int = 40) -> np.ndarray:
    yy, xx = np.indices(a.shape)
    return np.where(((yy // tile + xx // tile) % 2) == 0, a, b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--transform")
    args = parser.parse_args()
    ct, mr = load_image(str(REAL3D / "CT")), load_image(str(REAL3D / "MR_T2"))
    if args.transform:
        tx = load_transform(args.transform)
    else:
        result = register(ct, mr)
        tx = result.transform
        print(result.report.summary())
    on_ct = resample_to(mr, ct, tx)
    a = _scale(ct.array.astype(np.float32), -160, 240)
    lo, hi = np.percentile(on_ct.array[on_ct.array > 0], [1, 99])
    b = _scale(on_ct.array.astype(np.float32), lo, hi)
    panels = [checker(_plane(a, ax, ct.spacing), _plane(b, ax, ct.spacing)) for ax in (0, 1, 2)]
    h = max(p.shape[0] for p in panels)
    row = np.concatenate([np.pad(p, ((0, h - p.shape[0]), (0, 4))) for p in panels], axis=1)
    PILImage.fromarray(row).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
