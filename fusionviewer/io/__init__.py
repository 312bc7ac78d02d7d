"""Loading medical images: DICOM (pydicom), NIfTI/MHA/NRRD (SimpleITK), PNG/JPEG/TIFF (Pillow).

``load_image`` picks the reader from the path: a folder or a file with the DICOM preamble is
DICOM, ``.nii``/``.nii.gz``/``.mha``/``.mhd``/``.nrrd`` go to SimpleITK, rasters to Pillow.
Every failure raises ``InputError`` naming the path and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..image import Image, canonical_modality, check_geometry, checked_direction
from ..progress import CancelFlag, ProgressCallback
from ._common import MAX_VOXELS
from .dicom import (SeriesInfo, describe_series, is_dicom_file, list_series, read_dicom,
                    series_members)
from .raster import RASTER_SUFFIXES, read_raster
from .volume import is_volume_path, read_volume

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

__all__ = ["load_image", "list_series", "describe", "SeriesInfo", "MAX_VOXELS"]


def load_image(path: str | Path, *, series_uid: str | None = None, modality: str | None = None,
               progress: ProgressCallback | None = None,
               cancel: CancelFlag | None = None) -> Image:
    """Load an image/volume in its own units (CT in HU, 8-bit rasters 0..255); geometry checked."""
    path = Path(path)
    try:
        image = _load(path, series_uid=series_uid, modality=modality, progress=progress,
                      cancel=cancel)
    except InputError as exc:
        if exc.path is None:  # raised where the file was not known (e.g. Image()): name it
            raise InputError(str(exc), str(path)) from None
        raise
    return check_geometry(image, str(path))


def _load(path: Path, *, series_uid: str | None, modality: str | None,
          progress: ProgressCallback | None, cancel: CancelFlag | None) -> Image:
    """The image at ``path`` as its reader gives it."""
    hint = canonical_modality(modality) if modality else None
    if not path.exists():
        raise InputError("path does not exist", str(path))
    if path.is_dir():
        return read_dicom(path, series_uid=series_uid, modality=hint, progress=progress,
                          cancel=cancel)
    if not path.is_file():
        raise InputError("not a regular file", str(path))
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes)", str(path))
    if is_dicom_file(path) or path.suffix.lower() in (".dcm", ".dicom", ".ima"):
        return read_dicom(path, series_uid=series_uid, modality=hint, progress=progress,
                          cancel=cancel)
    if is_volume_path(path):
        return read_volume(path, modality=hint or "OT")
    if path.suffix.lower() in RASTER_SUFFIXES:
        return read_raster(path, modality=hint or "OT")
    # Unknown suffix: let Pillow sniff the content, then SimpleITK.
    try:
        return read_raster(path, modality=hint or "OT")
    except InputError:
        pass
    try:
        return read_volume(path, modality=hint or "OT")
    except InputError:
        raise InputError("not an image file (not DICOM, NIfTI, MHA, NRRD, PNG, JPEG or TIFF)",
                         str(path)) from None


def _image_summary(image: Image) -> dict[str, Any]:
    arr = image.array
    z, y, x = image.shape
    summary: dict[str, Any] = {
        "modality": image.modality,
        "size": [x, y, z],
        "spacing": [round(v, 6) for v in image.spacing],
        "origin": [round(v, 6) for v in image.origin],
        "direction": [round(v, 6) for v in image.direction],
        "dtype": str(arr.dtype),
        "color": image.is_color,
        "min": float(np.min(arr)),
        "max": float(np.max(arr)),
        "window": list(image.window) if image.window else None,
    }
    prov = image.provenance
    if prov.series_instance_uid:
        summary["series_uid"] = prov.series_instance_uid
        summary["study_uid"] = prov.study_instance_uid
        summary["description"] = prov.attributes.get("SeriesDescription", "")
    if prov.description:
        summary["notes"] = prov.description
    return summary


def describe(path: str | Path, *, series_uid: str | None = None,
             modality: str | None = None) -> dict[str, Any]:
    """What a path holds: format, modality, size (x, y, z), spacing (mm), DICOM series list."""
    path = Path(path)
    if not path.exists():
        raise InputError("path does not exist", str(path))
    info: dict[str, Any] = {"path": str(path)}
    dicom = path.is_dir() or is_dicom_file(path) or path.suffix.lower() == ".dcm"
    if dicom:
        series = list_series(path)
        info["format"] = "DICOM folder" if path.is_dir() else "DICOM file"
        info["series"] = [s.__dict__.copy() for s in series]
        if not series:
            load_image(path)  # raises the precise error (empty folder, no DICOM files...)
        if len(series) > 1 and series_uid is None:
            return info
    elif is_volume_path(path):
        info["format"] = "volume (SimpleITK)"
    else:
        info["format"] = "raster (Pillow)"
    if dicom:  # headers for the geometry, pixels streamed for the range: no volume held
        info.update(_dicom_summary(path, series_uid, modality))
        return info
    info.update(_image_summary(load_image(path, series_uid=series_uid, modality=modality)))
    return info


def _dicom_summary(path: Path, series_uid: str | None, modality: str | None) -> dict[str, Any]:
    """``_image_summary`` of a DICOM series without loading its volume."""
    hint = canonical_modality(modality) if modality else None
    try:
        d = describe_series(series_members(path, series_uid), modality=hint)
        direction, note = checked_direction(d["spacing"], d["origin"],
                                            d.get("direction", IDENTITY), str(path))
    except InputError as exc:
        if exc.path is None:
            raise InputError(str(exc), str(path)) from None
        raise
    prov = d["provenance"]
    notes = "; ".join(n for n in (prov.description, note) if n)
    summary: dict[str, Any] = {
        "modality": d["modality"],
        "size": list(d["size"]),
        "spacing": [round(v, 6) for v in d["spacing"]],
        "origin": [round(v, 6) for v in d["origin"]],
        "direction": [round(v, 6) for v in direction],
        "dtype": str(d["dtype"]),
        "color": bool(d["color"]),
        "min": float(d["low"]),
        "max": float(d["high"]),
        "window": list(d["window"]) if d["window"] else None,
    }
    if prov.series_instance_uid:
        summary["series_uid"] = prov.series_instance_uid
        summary["study_uid"] = prov.study_instance_uid
        summary["frame_of_reference_uid"] = prov.frame_of_reference_uid
        summary["description"] = prov.attributes.get("SeriesDescription", "")
    if notes:
        summary["notes"] = notes
    return summary
