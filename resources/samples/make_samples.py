"""Regenerate the bundled demo data in resources/samples/ from ../shared/data/harvard.

Run from the repository root:  .venv/bin/python resources/samples/make_samples.py [--harvard DIR]

Writes (see README.md beside this script):
- three registered PNG pairs copied byte for byte (val split): ct-mri, pet-mri, spect-mri;
- dicom/ct-mri-34/ct/ and dicom/ct-mri-34/mr/: a CT and an MR series of 8 consecutive slices
  (case 34, slices 10-17) in one study and frame of reference;
- nifti/ct-mri-34/ct.nii.gz and mr.nii.gz: the same slices as uint8 volumes.
UIDs are derived from fixed seeds, so a rerun gives the same DICOM files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from fusionviewer.io.synthetic import write_series  # noqa: E402

PAIRS = {  # task -> (folder a, folder b, file name); all from the val split
    "ct-mri": ("ct", "mri", "34014.png"),
    "pet-mri": ("mri", "pet", "30070.png"),
    "spect-mri": ("mri", "spect", "29015.png"),
}
CASE, SLICES = 34, range(10, 18)  # CT-MRI case 34, 8 consecutive slices
PIXEL_SPACING = 0.9375  # mm, assumed (240 mm field of view); the atlas does not record it
SLICE_SPACING = 5.0  # mm, assumed
ORIGIN = (-120.0, -120.0, 0.0)
# CT: stored = 8 v + 24 (12 bits), HU = stored - 1024 = 8 v - 1000, so window 20/2040 maps HU
# back onto the atlas grey levels v exactly: (HU - (20 - 1020)) / 2040 * 255 = v.
CT_WINDOW = (20.0, 2040.0)


def _stack(harvard: Path, folder: str) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(harvard / "ct-mri" / folder / f"{CASE}{k:03d}.png"))
                     for k in SLICES])


def make_pngs(harvard: Path, out: Path) -> None:
    for task, (fa, fb, name) in PAIRS.items():
        for folder in (fa, fb):
            dest = out / task / folder
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(harvard / task / folder / name, dest / name)


def make_dicom(harvard: Path, out: Path) -> None:
    from pydicom.uid import generate_uid

    root = out / "dicom" / f"ct-mri-{CASE}"
    shutil.rmtree(root, ignore_errors=True)
    study = generate_uid(entropy_srcs=["fusionviewer-demo", "study"])
    frame = generate_uid(entropy_srcs=["fusionviewer-demo", "frame"])
    common = dict(pixel_spacing=(PIXEL_SPACING, PIXEL_SPACING), slice_spacing=SLICE_SPACING,
                  origin=ORIGIN, study_uid=study, frame_of_reference_uid=frame,
                  patient_name="DEMO^ATLAS", patient_id=f"FV-ATLAS-{CASE}")
    write_series(_stack(harvard, "ct").astype(np.uint16) * 8 + 24, root / "ct", modality="CT",
                 rescale=(1.0, -1024.0), window=CT_WINDOW, bits_stored=12, series_number=1,
                 description="CT (Whole Brain Atlas, demo)", uid_seed="fusionviewer-demo-ct",
                 **common)
    write_series(_stack(harvard, "mri"), root / "mr", modality="MR", window=(127.5, 256.0),
                 series_number=2, description="MR (Whole Brain Atlas, demo)",
                 uid_seed="fusionviewer-demo-mr", **common)


def make_nifti(harvard: Path, out: Path) -> None:
    import SimpleITK as sitk

    root = out / "nifti" / f"ct-mri-{CASE}"
    root.mkdir(parents=True, exist_ok=True)
    for folder, name in (("ct", "ct.nii.gz"), ("mri", "mr.nii.gz")):
        img = sitk.GetImageFromArray(_stack(harvard, folder))
        img.SetSpacing((PIXEL_SPACING, PIXEL_SPACING, SLICE_SPACING))
        img.SetOrigin(ORIGIN)
        sitk.WriteImage(img, str(root / name), useCompression=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harvard", type=Path,
                        default=REPO.parent / "shared" / "data" / "harvard",
                        help="the Harvard pairs folder (default: ../shared/data/harvard)")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    args = parser.parse_args(argv)
    if not (args.harvard / "manifest.csv").is_file():
        parser.error(f"{args.harvard}: not the Harvard pairs folder (no manifest.csv)")
    make_pngs(args.harvard, args.out)
    make_dicom(args.harvard, args.out)
    make_nifti(args.harvard, args.out)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"samples written to {args.out} ({total / 1e6:.2f} MB in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
