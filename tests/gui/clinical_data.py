"""Test data of the clinical viewer: an anisotropic CT volume and a PET DICOM series with SUV
tags on the same grid (hot spot of known value)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from fusionviewer.io.synthetic import write_series

SHAPE = (16, 48, 40)                 # z, y, x
PIXEL, SLICE = 0.98, 5.0             # mm
DOSE, HALF_LIFE, WEIGHT = 370e6, 6586.2, 75.0
DELAY_S = 3600.0
SUV_BW = WEIGHT * 1000 / (DOSE * 2 ** (-DELAY_S / HALF_LIFE))
HOT = (9, 30, 12)                    # z, y, x of the PET hot spot


def ct_array() -> np.ndarray:
    z, y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1], 0:SHAPE[2]]
    body = ((y - 24) / 20.0) ** 2 + ((x - 20) / 17.0) ** 2 < 1
    ct = np.where(body, 40, -1000).astype(np.int16)
    ct[body & (((y - 24) / 6.0) ** 2 + ((x - 20) / 5.0) ** 2 < 1)] = 1200   # "bone"
    ct[:, 5:10, 18:24] = 2500                                              # metal, beyond W/L
    return ct + (z % 3).astype(np.int16)


def pet_array() -> np.ndarray:
    z, y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1], 0:SHAPE[2]]
    d2 = (z - HOT[0]) ** 2 * 4 + (y - HOT[1]) ** 2 + (x - HOT[2]) ** 2
    return (200 + 3000 * np.exp(-d2 / 8.0)).astype(np.int16)  # stored; slope 10 -> Bq/ml


def write_pair(folder: Path) -> tuple[Path, Path]:
    """CT and PET DICOM series of one hybrid scanner (same geometry and Frame of Reference,
    patient DOE^JANE / PID-4711)."""
    common = dict(pixel_spacing=(PIXEL, PIXEL), slice_spacing=SLICE, origin=(-20, -24, -40),
                  patient_name="DOE^JANE", patient_id="PID-4711", study_date="19991231",
                  study_uid="1.2.826.0.1.3680043.8.498.1",
                  frame_of_reference_uid="1.2.826.0.1.3680043.8.498.2")
    ct_dir, pet_dir = folder / "ct", folder / "pet"
    write_series(ct_array(), ct_dir, modality="CT", **common)
    paths = write_series(pet_array(), pet_dir, modality="PT", rescale=(10.0, 0.0), **common)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["DECY", "ATTN"]
        ds.SeriesDate = ds.AcquisitionDate = "19991231"
        ds.SeriesTime = ds.AcquisitionTime = "101500"
        ds.PatientWeight, ds.PatientSize, ds.PatientSex = str(WEIGHT), "1.80", "M"
        drug = Dataset()
        drug.RadionuclideTotalDose, drug.RadionuclideHalfLife = str(DOSE), str(HALF_LIFE)
        drug.RadiopharmaceuticalStartTime = "091500"
        ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
        ds.save_as(p)
    return ct_dir, pet_dir
