"""Read the tags SUV needs from the first DICOM file of a PET series (header only)."""

from __future__ import annotations

from pathlib import Path

from ..analysis.suv import SuvFactors, suv_factor
from ..image import Image

SERIES_TAGS = ("Units", "DecayCorrection", "CorrectedImage", "PatientWeight", "PatientSize",
               "PatientSex", "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime")
DRUG_TAGS = ("RadionuclideTotalDose", "RadionuclideHalfLife", "RadiopharmaceuticalStartTime",
             "RadiopharmaceuticalStartDateTime")


def first_dicom_file(image: Image) -> Path | None:
    """The first DICOM file among the image's source paths (a folder: its first .dcm/any file)."""
    for p in image.provenance.source_paths:
        path = Path(p)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
            if files:
                return files[0]
        elif path.is_file():
            return path
    return None


def read_suv_tags(path: str | Path) -> dict:
    """A flat dict of the SUV tags of one DICOM file ({} if unreadable)."""
    import pydicom

    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - not DICOM: no SUV
        return {}
    tags = {k: ds.get(k) for k in SERIES_TAGS if ds.get(k) not in (None, "")}
    seq = ds.get("RadiopharmaceuticalInformationSequence")
    if seq:
        item = seq[0]
        tags.update({k: item.get(k) for k in DRUG_TAGS if item.get(k) not in (None, "")})
    return {k: (str(v) if not isinstance(v, (int, float)) else v) for k, v in tags.items()}


def image_suv(image: Image) -> SuvFactors | None:
    """SUV factors of a PET image loaded from DICOM, None for other images."""
    if image.modality != "PT":
        return None
    path = first_dicom_file(image)
    if path is None:
        return None
    tags = read_suv_tags(path)
    if not tags:
        return None
    return suv_factor(tags)
