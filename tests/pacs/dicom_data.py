"""Build CT and MR DICOM series (one patient, one study) from consecutive Harvard ct-mri slices."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

HARVARD = Path(__file__).resolve().parents[3] / "shared" / "data" / "harvard"
PATIENT = {"PatientName": "Harvard^Atlas^Case2", "PatientID": "FV-PACS-0002",
           "PatientBirthDate": "19500101", "PatientSex": "O"}


@dataclass
class StudySeries:
    study_uid: str
    ct_uid: str
    mr_uid: str
    ct_files: list[Path]
    mr_files: list[Path]
    ct_pixels: np.ndarray  # [z, y, x] uint16, as stored
    mr_pixels: np.ndarray


def ct_mri_case_slices(case: str = "2") -> list[str]:
    """File names of one ct-mri case, in slice order."""
    with open(HARVARD / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["task"] == "ct-mri" and r["case"] == case]
    return [r["name"] for r in sorted(rows, key=lambda r: int(r["slice"]))]


def _gray(path: Path) -> np.ndarray:
    arr = np.asarray(PILImage.open(path))
    if arr.ndim == 3:
        arr = np.rint(arr[..., :3].astype(np.float64) @ [0.299, 0.587, 0.114])
    return arr.astype(np.uint16)


def _slice(pixels: np.ndarray, modality: str, *, index: int, study_uid: str, series_uid: str,
           frame_uid: str, series_number: int, description: str, accession: str,
           patient: dict, study_date: str) -> FileDataset:
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for key, value in patient.items():
        setattr(ds, key, value)
    ds.StudyInstanceUID = study_uid
    ds.StudyDate, ds.StudyTime, ds.StudyID = study_date, "101500", "1"
    ds.AccessionNumber = accession
    ds.StudyDescription = "Brain CT + MR (FusionViewer PACS test)"
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "FusionViewer tests"
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientPosition = "HFS"
    ds.ImagePositionPatient = [-128.0, -128.0, 5.0 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1.0, 1.0]
    ds.SliceThickness = 5.0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    if modality == "CT":
        # 8-bit atlas values mapped onto a brain window (HU = value * 80/255 + 0)
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 80 / 255, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 80
        ds.KVP = 120
    else:
        ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "SE", "NONE", "2D"
        ds.EchoTime, ds.RepetitionTime, ds.MagneticFieldStrength = 80, 3000, 1.5
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def build_ct_mr_study(folder: Path, n_slices: int | None = None, case: str = "2",
                      accession: str = "ACC-FV-2", patient_id: str | None = None,
                      study_date: str = "20240315") -> StudySeries:
    """Write a CT and an MR series of consecutive slices (cycled to n_slices) into folder/ct|mr.

    The default patient is the one the search tests look for; other tests pass their own
    ``patient_id`` (and get another name and date) so that they don't show up in those searches.
    """
    patient = dict(PATIENT)
    if patient_id is not None:
        patient.update(PatientID=patient_id, PatientName=f"Other^Test^{patient_id}")
        study_date = "20250101" if study_date == "20240315" else study_date
    names = ct_mri_case_slices(case)
    n = n_slices or len(names)
    study_uid, frame_uid = generate_uid(), generate_uid()
    ct_uid, mr_uid = generate_uid(), generate_uid()
    out = {}
    for modality, sub, series_uid, number in (("CT", "ct", ct_uid, 1), ("MR", "mri", mr_uid, 2)):
        target = folder / sub
        target.mkdir(parents=True, exist_ok=True)
        files, stack = [], []
        for i in range(n):
            pixels = _gray(HARVARD / "ct-mri" / sub / names[i % len(names)])
            ds = _slice(pixels, modality, index=i, study_uid=study_uid, series_uid=series_uid,
                        frame_uid=frame_uid, series_number=number,
                        description=f"{modality} axial (atlas case {case})", accession=accession,
                        patient=patient, study_date=study_date)
            path = target / f"{i:04d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            files.append(path)
            stack.append(pixels)
        out[modality] = (files, np.stack(stack))
    return StudySeries(study_uid, ct_uid, mr_uid, out["CT"][0], out["MR"][0], out["CT"][1],
                       out["MR"][1])
