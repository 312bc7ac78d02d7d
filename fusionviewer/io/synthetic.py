"""Build small DICOM series from arrays with pydicom (demo data and tests, not for clinical use).

``write_series`` writes one file per slice (CT/MR/PET/NM/SC storage) or one multi-frame file,
with consistent patient/study/frame-of-reference identifiers and full plane geometry.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Sequence

import numpy as np

SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "NM": "1.2.840.10008.5.1.4.1.1.20",
    "OT": "1.2.840.10008.5.1.4.1.1.7",
}
MULTIFRAME_GRAY_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"
MULTIFRAME_GRAY_BYTE_SC = "1.2.840.10008.5.1.4.1.1.7.2"
MULTIFRAME_COLOR_SC = "1.2.840.10008.5.1.4.1.1.7.4"


def _base_dataset(sop_class: str, sop_uid: str):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    return ds


def _set_pixels(ds, arr: np.ndarray, bits_stored: int | None) -> None:
    """PixelData and the image pixel module for uint8/uint16/int16 gray or uint8 RGB."""
    colour = arr.shape[-1] == 3 and arr.ndim in (3, 4) and arr.dtype == np.uint8 and \
        getattr(ds, "_fv_colour", False)
    frame_shape = arr.shape[-3:-1] if colour else arr.shape[-2:]
    ds.Rows, ds.Columns = int(frame_shape[0]), int(frame_shape[1])
    if colour:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
    bits = arr.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()


def write_series(slices: np.ndarray, folder: str | Path, *, modality: str = "CT",
                 pixel_spacing: tuple[float, float] = (1.0, 1.0), slice_spacing: float = 1.0,
                 origin: Sequence[float] = (0.0, 0.0, 0.0),
                 orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
                 rescale: tuple[float, float] | None = None,
                 window: tuple[float, float] | None = None,
                 study_uid: str | None = None, series_uid: str | None = None,
                 frame_of_reference_uid: str | None = None,
                 patient_name: str = "DEMO^ATLAS", patient_id: str = "FV-DEMO",
                 series_number: int = 1, description: str = "", multiframe: bool = False,
                 colour: bool = False, bits_stored: int | None = None,
                 prefix: str = "IM", study_date: str = "20000101",
                 uid_seed: str | None = None) -> list[Path]:
    """Write ``slices`` (stored values, [z, y, x] or [z, y, x, 3] RGB) as a DICOM series.

    With ``uid_seed`` every generated UID is derived from it, so the files are reproducible.
    """
    from pydicom.uid import generate_uid as _random_uid

    counter = iter(range(1 << 30))

    def generate_uid() -> str:
        if uid_seed is None:
            return _random_uid()
        return _random_uid(entropy_srcs=[uid_seed, series_uid or "", str(next(counter))])

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    slices = np.asarray(slices)
    if slices.ndim == (3 if colour else 2):
        slices = slices[np.newaxis]
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    for_uid = frame_of_reference_uid or generate_uid()
    ori = np.asarray(orientation, dtype=float)
    normal = np.cross(ori[:3], ori[3:])
    positions = [np.asarray(origin, float) + k * slice_spacing * normal
                 for k in range(len(slices))]
    now = datetime.datetime(2000, 1, 1, 12, 0, 0)

    def common(ds, number: int) -> None:
        ds.PatientName, ds.PatientID = patient_name, patient_id
        ds.PatientBirthDate, ds.PatientSex = "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.StudyDate, ds.StudyTime = study_date, now.strftime("%H%M%S")
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.StudyDescription = "FusionViewer synthetic study"
        ds.Modality = modality
        ds.SeriesNumber, ds.InstanceNumber = series_number, number
        ds.SeriesDescription = description
        ds.Manufacturer = "FusionViewer synthetic"
        ds.PixelSpacing = [f"{pixel_spacing[0]:g}", f"{pixel_spacing[1]:g}"]
        ds.ImageOrientationPatient = [f"{v:g}" for v in ori]
        ds.SliceThickness = f"{slice_spacing:g}"
        if rescale is not None:
            ds.RescaleSlope, ds.RescaleIntercept = f"{rescale[0]:g}", f"{rescale[1]:g}"
            if modality == "CT":
                ds.RescaleType = "HU"
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = f"{window[0]:g}", f"{window[1]:g}"
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds._fv_colour = colour

    paths: list[Path] = []
    if multiframe:
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence as Seq

        sop_class = (MULTIFRAME_COLOR_SC if colour else
                     MULTIFRAME_GRAY_BYTE_SC if slices.dtype == np.uint8 else
                     MULTIFRAME_GRAY_WORD_SC)
        ds = _base_dataset(sop_class, generate_uid())
        common(ds, 1)
        ds.NumberOfFrames = len(slices)
        per_frame = []
        for pos in positions:
            item, plane = Dataset(), Dataset()
            plane.ImagePositionPatient = [f"{v:.6g}" for v in pos]
            item.PlanePositionSequence = Seq([plane])
            per_frame.append(item)
        ds.PerFrameFunctionalGroupsSequence = Seq(per_frame)
        shared, plane_ori, measures = Dataset(), Dataset(), Dataset()
        plane_ori.ImageOrientationPatient = [f"{v:g}" for v in ori]
        measures.PixelSpacing = ds.PixelSpacing
        measures.SliceThickness = ds.SliceThickness
        measures.SpacingBetweenSlices = f"{slice_spacing:g}"
        shared.PlaneOrientationSequence = Seq([plane_ori])
        shared.PixelMeasuresSequence = Seq([measures])
        ds.SharedFunctionalGroupsSequence = Seq([shared])
        _set_pixels(ds, slices, bits_stored)
        path = folder / f"{prefix}_multiframe.dcm"
        ds.save_as(path, enforce_file_format=True)
        return [path]
    for k, arr in enumerate(slices):
        ds = _base_dataset(SOP_CLASSES.get(modality, SOP_CLASSES["OT"]), generate_uid())
        common(ds, k + 1)
        ds.ImagePositionPatient = [f"{v:.6g}" for v in positions[k]]
        ds.SliceLocation = f"{float(positions[k] @ normal):.6g}"
        _set_pixels(ds, arr, bits_stored)
        path = folder / f"{prefix}_{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
