"""Small real inputs for the cohort tests: Harvard PNG pairs in folders or a manifest, and 3-D
NIfTI pairs made from the real porcine CT / MR T2 series (downsampled, the MR moved by a
known shift)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from harvard_data import SHARED, harvard_pair_paths, harvard_rows

REAL3D = SHARED / "data" / "real3d" / "mridir-porcine-head"
SIZE_3D = (64, 64, 20)  # x, y, z voxels of the small volumes


def harvard_folders(root: Path, per_task: int = 3, tasks=("ct-mri", "spect-mri")
                    ) -> tuple[Path, Path, list[str]]:
    """Folders a/ and b/ of same-named Harvard pairs (name = task-file) and their names."""
    a, b = root / "a", root / "b"
    a.mkdir(parents=True)
    b.mkdir()
    names = []
    for task in tasks:
        for r in harvard_rows(task, "val")[:per_task]:
            pa, pb = harvard_pair_paths(task, r["name"])
            name = f"{task}-{r['name']}"
            shutil.copy(pa, a / name)
            shutil.copy(pb, b / name)
            names.append(name)
    return a, b, names


def write_manifest(path: Path, rows: list[dict]) -> Path:
    """A manifest CSV with the union of the rows' keys as columns."""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def small_volume_pair(folder: Path, shift_mm=(4.0, -3.0, 0.0)) -> tuple[Path, Path]:
    """ct.nii.gz and mr.nii.gz (64 x 64 x 20) from the real series; the MR moved by shift_mm."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for series, name, shift in (("CT", "ct.nii.gz", (0.0, 0.0, 0.0)),
                                ("MR_T2", "mr.nii.gz", shift_mm)):
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(REAL3D / series)))
        image = reader.Execute()
        size = image.GetSize()
        spacing = [sp * n / m for sp, n, m in zip(image.GetSpacing(), size, SIZE_3D)]
        moved = sitk.TranslationTransform(3, [-s for s in shift])
        small = sitk.Resample(image, SIZE_3D, moved, sitk.sitkLinear, image.GetOrigin(),
                              spacing, image.GetDirection(), 0.0, sitk.sitkFloat32)
        path = folder / name
        sitk.WriteImage(small, str(path))
        out.append(path)
    return out[0], out[1]
