"""``fusionviewer --selftest``: fuse the demo pair with the CNN, measure, export, read back."""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np


def _check(name: str, ok: bool, detail: str = "") -> bool:
    print(f"{'OK  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    return ok


def run_selftest() -> int:
    """Run the headless self-test; prints one line per check and returns 0 (all OK) or 1."""
    from .demo import fuse_demo

    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="fusionviewer-selftest-") as tmp:
            out = Path(tmp)
            result, written = fuse_demo(out, method="cnn")
            results.append(_check("CNN fusion", result.method == "cnn",
                                  "; ".join(result.notices) or f"{result.fused_gray.shape}"))
            fused = result.fused_gray
            results.append(_check("fused range", bool(np.isfinite(fused).all()
                                                      and fused.min() >= 0 and fused.max() <= 1)))

            import json

            metrics = json.loads((out / "metrics.json").read_text())
            finite = [k for k, v in metrics.items() if np.isfinite(v)]
            results.append(_check("metrics", len(finite) >= 10, f"{len(finite)} finite values"))

            from PIL import Image as PILImage

            png = np.asarray(PILImage.open(out / "fused.png"))
            results.append(_check("PNG read back", png.shape[:2] == fused.shape[1:],
                                  f"{png.shape} {png.dtype}"))

            import pydicom
            import SimpleITK as sitk

            dcm = sorted((out / "fused_dicom").glob("*.dcm")) or sorted(
                p for p in (out / "fused_dicom").iterdir() if p.is_file())
            ds = pydicom.dcmread(dcm[0])
            results.append(_check("DICOM read back (pydicom)",
                                  ds.pixel_array.shape[:2] == fused.shape[1:]
                                  and "DERIVED" in list(ds.ImageType),
                                  f"{len(dcm)} file(s), {ds.SOPClassUID.name}"))
            img = sitk.ReadImage(str(dcm[0]))
            results.append(_check("DICOM read back (SimpleITK)",
                                  img.GetSize()[:2] == (fused.shape[2], fused.shape[1])))
            del written
    except Exception as exc:  # noqa: BLE001 - a self-test reports, it does not crash
        traceback.print_exc(file=sys.stderr)
        results.append(_check("self-test", False, f"{type(exc).__name__}: {exc}"))
    ok = all(results)
    print("selftest OK" if ok else "selftest FAIL")
    return 0 if ok else 1
