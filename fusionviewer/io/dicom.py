"""DICOM loading with pydicom: single files, series folders, several series, multi-frame.

Slices are sorted by ImagePositionPatient projected on the slice normal (the cross product of
the ImageOrientationPatient row and column cosines); the modality LUT (RescaleSlope/Intercept)
is applied, so CT comes out in HU. Spacing is ``(PixelSpacing[1], PixelSpacing[0], slice step)``
and the direction matrix has the row cosine, column cosine and normal as its columns, as
SimpleITK's ImageSeriesReader builds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..image import Image, Provenance
from ..progress import CancelFlag, ProgressCallback, check_cancel, report
from ._common import check_voxel_count, one_line, quiet_native
from ._declared import check_pixel_data_length, dicom_compressed

# Patient/study keywords copied into Provenance.attributes (what DICOM export needs), plus a few
# series keywords useful for display.
EXPORT_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
    "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName",
    "StudyDescription", "SeriesDescription", "SeriesNumber", "Modality", "Manufacturer",
    "BodyPartExamined", "PatientPosition", "InstitutionName",
)

MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"  # a DICOMDIR file: load the folder it indexes
_POSITION_TOL = 1e-3  # mm: two slices closer than this along the normal share one position


@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series found in a folder (headers only, no pixel data read)."""

    uid: str
    modality: str
    description: str
    num_instances: int
    patient: str  # one display line: "NAME (ID), study DATE"
    first_path: str
    study_uid: str = ""
    rows: int = 0
    columns: int = 0
    num_frames: int = 0  # total frames over all instances (= slices for most series)

    def line(self) -> str:
        """A one-line summary for error messages and `fusionviewer info`."""
        desc = f" '{self.description}'" if self.description else ""
        return (f"{self.uid} [{self.modality}{desc}, {self.num_instances} file(s), "
                f"{self.columns}x{self.rows}x{self.num_frames}]")


# --- headers ---------------------------------------------------------------------------------

def is_dicom_file(path: Path) -> bool:
    """True if the file starts with the DICOM preamble ('DICM' at byte 128)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _dcmread(path: Path, warnings: list[str] | None = None, **kwargs):
    """pydicom.dcmread with every element parsed now; InputError if the file is corrupt."""
    # Memory-mapped: a corrupt element length cannot make pydicom allocate more than the file
    # holds. pydicom's warnings and log lines go to ``warnings``.
    import mmap

    import pydicom

    try:
        with quiet_native() as captured, open(path, "rb") as fh, \
                mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            ds = pydicom.dcmread(mapped, **kwargs)
            ds.walk(lambda _ds, _elem: None)  # parse lazily-read values while errors are caught
            if getattr(ds, "file_meta", None) is not None:
                ds.file_meta.walk(lambda _ds, _elem: None)
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise InputError(f"corrupt DICOM file ({exc.__class__.__name__}: {one_line(exc)})",
                         str(path)) from None
    if warnings is not None:
        warnings.extend(captured.warnings)
    return ds


def _read_header(path: Path, force: bool = False):
    """The dataset without pixel data; InputError if it cannot be parsed."""
    return _dcmread(path, stop_before_pixels=True, force=force)


def _is_image(ds) -> bool:
    return "Rows" in ds and "Columns" in ds and "SeriesInstanceUID" in ds


def _scan_folder(folder: Path) -> tuple[list[tuple[Path, Any]], int]:
    """All DICOM image headers under ``folder`` (recursive) and the number of files seen."""
    found: list[tuple[Path, Any]] = []
    n_files = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            n_files += 1
            path = Path(root) / name
            if is_dicom_file(path):
                ds = _read_header(path)
            elif path.suffix.lower() in (".dcm", ".dicom", ".ima"):
                ds = _read_header(path, force=True)
                if "SOPClassUID" not in ds and "Rows" not in ds:
                    raise InputError("not a DICOM file (no DICOM header found)", str(path))
            else:
                continue
            media = getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", None)
            if "SOPClassUID" not in ds and media != MEDIA_DIRECTORY:
                raise InputError("corrupt DICOM file (no SOPClassUID: truncated or not a valid "
                                 "dataset)", str(path))
            if _is_image(ds):
                found.append((path, ds))
    return found, n_files


def _text(ds, keyword: str, default: str = "") -> str:
    value = ds.get(keyword, None)
    if value is None or value == "":
        return default
    return str(value)


def _patient_line(ds) -> str:
    name = _text(ds, "PatientName", "?")
    pid = _text(ds, "PatientID", "?")
    date = _text(ds, "StudyDate")
    return f"{name} ({pid})" + (f", study {date}" if date else "")


def _uint(ds, keyword: str, path: Path | str | None, default: int | None = None) -> int:
    """An integer attribute (its first value); ``default`` if absent/empty, else InputError."""
    value = ds.get(keyword, None)
    if value is not None and not isinstance(value, (int, str, bytes)):
        try:
            value = list(value)[0] if len(value) else None
        except TypeError:
            pass
    if value is None or value in ("", b""):
        if default is None:
            raise InputError(f"DICOM attribute {keyword} is empty", str(path) if path else None)
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"DICOM attribute {keyword} {one_line(repr(value), 40)} is not an "
                         "integer", str(path) if path else None) from None


def _num_frames(ds) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _group_series(headers: list[tuple[Path, Any]]) -> dict[str, list[tuple[Path, Any]]]:
    groups: dict[str, list[tuple[Path, Any]]] = {}
    for path, ds in headers:
        groups.setdefault(str(ds.SeriesInstanceUID), []).append((path, ds))
    return groups


def _series_info(uid: str, members: list[tuple[Path, Any]]) -> SeriesInfo:
    first = members[0][1]
    return SeriesInfo(
        uid=uid, modality=_text(first, "Modality", "OT"),
        description=_text(first, "SeriesDescription"), num_instances=len(members),
        patient=_patient_line(first), first_path=str(members[0][0]),
        study_uid=_text(first, "StudyInstanceUID"), rows=_uint(first, "Rows", members[0][0]),
        columns=_uint(first, "Columns", members[0][0]),
        num_frames=sum(_num_frames(ds) for _, ds in members))


def list_series(folder: str | Path) -> list[SeriesInfo]:
    """The DICOM image series under a folder (recursive), sorted by series number then UID."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError("path does not exist", str(folder))
    if not folder.is_dir():
        headers = [(folder, _read_header(folder, force=not is_dicom_file(folder)))]
        if not _is_image(headers[0][1]):
            raise InputError("DICOM file holds no image", str(folder))
    else:
        headers, _ = _scan_folder(folder)
    groups = _group_series(headers)

    def key(item: tuple[str, list]) -> tuple:
        num = item[1][0][1].get("SeriesNumber", None)
        try:
            num = int(num)
        except (TypeError, ValueError):
            num = 1 << 30
        return (num, item[0])

    return [_series_info(uid, members) for uid, members in sorted(groups.items(), key=key)]


# --- geometry and pixel values -----------------------------------------------------------------

@dataclass
class _Frame:
    """One 2-D slice (a single-frame file or one frame of a multi-frame file)."""

    path: Path
    sop_uid: str
    frame: int  # 0-based frame index inside its file
    instance: int
    position: np.ndarray | None
    orientation: np.ndarray | None
    pixel_spacing: tuple[float, float] | None
    thickness: float | None
    thickness_key: str  # the attribute ``thickness`` came from (SpacingBetweenSlices...)
    slope: float
    intercept: float
    window: tuple[float, float] | None


def _floats(value, n: int, finite: bool = True) -> np.ndarray | None:
    """``n`` floats from a DICOM value (None if absent, malformed, or non-finite when finite)."""
    if value is None:
        return None
    values = value if hasattr(value, "__iter__") and not isinstance(value, str) else [value]
    try:
        arr = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.size == n and (np.isfinite(arr).all() or not finite) else None


def _first_float(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        if hasattr(value, "__iter__") and not isinstance(value, str):
            value = list(value)[0]
        out = float(value)
    except (TypeError, ValueError, IndexError):
        return None
    return out if np.isfinite(out) else None


def _group_item(groups, index: int | None, sequence: str):
    """Item 0 of ``sequence`` inside a functional group item (per-frame or shared), or None."""
    if groups is None:
        return None
    try:
        item = groups[index] if index is not None else groups[0]
    except (IndexError, TypeError):
        return None
    seq = item.get(sequence, None)
    if not seq:
        return None
    return seq[0]


def _lookup(ds, frame: int, sequence: str, keyword: str):
    """A functional-group attribute: per-frame, then shared, then the top-level dataset."""
    per = ds.get("PerFrameFunctionalGroupsSequence", None)
    shared = ds.get("SharedFunctionalGroupsSequence", None)
    for item in (_group_item(per, frame, sequence), _group_item(shared, None, sequence)):
        if item is not None and keyword in item:
            return item.get(keyword)
    return ds.get(keyword, None)


def _window_of(ds, frame: int) -> tuple[float, float] | None:
    center = _first_float(_lookup(ds, frame, "FrameVOILUTSequence", "WindowCenter"))
    width = _first_float(_lookup(ds, frame, "FrameVOILUTSequence", "WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return (center, width)


def _frames_of(path: Path, ds) -> list[_Frame]:
    """The slices of one file with their geometry and modality LUT."""
    n = _num_frames(ds)
    detector = ds.get("DetectorInformationSequence", None)  # legacy NM multi-frame geometry
    det = detector[0] if detector else None
    frames = []
    base_pos = None
    for k in range(n):
        pos = _floats(_lookup(ds, k, "PlanePositionSequence", "ImagePositionPatient"), 3, False)
        ori = _floats(_lookup(ds, k, "PlaneOrientationSequence", "ImageOrientationPatient"), 6,
                      False)
        if det is not None:
            if pos is None:
                pos = _floats(det.get("ImagePositionPatient", None), 3, False)
            if ori is None:
                ori = _floats(det.get("ImageOrientationPatient", None), 6, False)
        spacing = _floats(_lookup(ds, k, "PixelMeasuresSequence", "PixelSpacing"), 2, False)
        if spacing is None:
            spacing = _floats(ds.get("ImagerPixelSpacing", None), 2, False)
        thick = _first_float(_lookup(ds, k, "PixelMeasuresSequence", "SpacingBetweenSlices"))
        thick_key = "SpacingBetweenSlices"
        if not thick:
            thick = _first_float(_lookup(ds, k, "PixelMeasuresSequence", "SliceThickness"))
            thick_key = "SliceThickness"
        slope = _first_float(_lookup(ds, k, "PixelValueTransformationSequence", "RescaleSlope"))
        intercept = _first_float(_lookup(ds, k, "PixelValueTransformationSequence",
                                         "RescaleIntercept"))
        frames.append(_Frame(
            path=path, sop_uid=_text(ds, "SOPInstanceUID"), frame=k,
            instance=int(_first_float(ds.get("InstanceNumber", None)) or 0),
            position=pos, orientation=ori,
            pixel_spacing=tuple(spacing) if spacing is not None else None,
            thickness=thick, thickness_key=thick_key, slope=1.0 if slope is None else slope,
            intercept=0.0 if intercept is None else intercept, window=_window_of(ds, k)))
    # A multi-frame file with one position (no per-frame positions): frames are stacked along
    # the normal, one SpacingBetweenSlices apart.
    if n > 1 and frames[0].position is not None and frames[0].orientation is not None:
        per = ds.get("PerFrameFunctionalGroupsSequence", None)
        has_per_frame = per is not None and len(per) == n and all(
            _group_item(per, k, "PlanePositionSequence") is not None for k in range(n))
        if not has_per_frame:
            base_pos = frames[0].position
            normal = _normal(frames[0].orientation)
            step = _step(frames[0], str(path))
            for k, fr in enumerate(frames):
                fr.position = base_pos + k * step * normal
    return frames


def _step(frame: _Frame, name: str) -> float:
    """The slice step (mm) a frame's header gives: 1 if absent, InputError if 0."""
    if frame.thickness is None:
        return 1.0
    if frame.thickness == 0:
        raise InputError(f"{frame.thickness_key} 0 mm is not positive", name)
    return frame.thickness


def _check_orientation(orientation: np.ndarray, name: str) -> None:
    """InputError if ImageOrientationPatient has a zero-length or parallel row/column cosine."""
    row, col = orientation[:3], orientation[3:]
    nr, nc = np.linalg.norm(row), np.linalg.norm(col)
    if nr < 1e-6 or nc < 1e-6 or np.linalg.norm(np.cross(row / nr, col / nc)) < 1e-3:
        text = "\\".join(f"{v:g}" for v in orientation)
        raise InputError(f"ImageOrientationPatient {text} is degenerate (row and column cosines "
                         "must be non-zero and not parallel)", name)


def _normal(orientation: np.ndarray) -> np.ndarray:
    row, col = orientation[:3], orientation[3:]
    n = np.cross(row, col)
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def _pixels(path: Path, ds, n_frames: int) -> np.ndarray:
    """Stored pixel values as [frames, y, x] or [frames, y, x, 3] (colour converted to RGB)."""
    try:
        with quiet_native() as captured:
            arr = ds.pixel_array
    except Exception as exc:
        msg = one_line(f"{exc} {captured.stderr}")
        arr = _pixels_via_gdcm(path, ds) if dicom_compressed(ds) else None
        if arr is None:
            raise InputError(f"corrupt or truncated DICOM pixel data ({msg})",
                             str(path)) from None
    photometric = _text(ds, "PhotometricInterpretation", "MONOCHROME2").upper()
    samples = _uint(ds, "SamplesPerPixel", path, 1)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            with quiet_native():
                arr = apply_color_lut(arr, ds)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise InputError(f"cannot apply the palette colour table ({one_line(exc)})",
                             str(path)) from None
        if arr.dtype != np.uint8:
            arr = (arr >> 8).astype(np.uint8) if arr.max(initial=0) > 255 else arr.astype(np.uint8)
        samples = 3
    if samples == 3:
        if n_frames == 1 and arr.ndim == 3:
            arr = arr[np.newaxis]
    elif n_frames == 1 and arr.ndim == 2:
        arr = arr[np.newaxis]
    expected = 4 if samples == 3 else 3
    if arr.ndim != expected or arr.shape[0] != n_frames:
        raise InputError(f"unexpected pixel data shape {arr.shape}", str(path))
    if photometric == "MONOCHROME1":
        # Display-inverted storage: flip so that higher values are brighter (MONOCHROME2).
        bits = _uint(ds, "BitsStored", path, 0)
        bits = bits if 1 <= bits <= 8 * arr.dtype.itemsize else 8 * arr.dtype.itemsize
        top = (1 << bits) - 1 if arr.dtype.kind == "u" else int(arr.max())
        arr = (top - arr.astype(np.int64)).astype(arr.dtype if arr.dtype.kind == "u" else np.int64)
    return arr


def _pixels_via_gdcm(path: Path, ds) -> np.ndarray | None:
    """Stored values decoded by GDCM (SimpleITK) for compressed syntaxes pydicom cannot decode.

    GDCM applies the top-level RescaleSlope/Intercept; it is undone so that the caller applies
    the modality LUT the same way for every file. None if GDCM fails too.
    """
    import SimpleITK as sitk

    try:
        with quiet_native():
            img = sitk.ReadImage(str(path), imageIO="GDCMImageIO")
    except RuntimeError:
        return None
    arr = sitk.GetArrayFromImage(img)
    if img.GetNumberOfComponentsPerPixel() == 1:
        slope = _first_float(ds.get("RescaleSlope", None)) or 1.0
        intercept = _first_float(ds.get("RescaleIntercept", None)) or 0.0
        if slope != 1.0 or intercept != 0.0:
            arr = np.rint((arr.astype(np.float64) - intercept) / slope)
        signed = _uint(ds, "PixelRepresentation", path, 0) == 1
        bits = _uint(ds, "BitsAllocated", path, 16)
        dtype = {(8, False): np.uint8, (8, True): np.int8, (16, False): np.uint16,
                 (16, True): np.int16, (32, False): np.uint32, (32, True): np.int32}.get(
                     (bits, signed), np.float32)
        arr = arr.astype(dtype)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if _num_frames(ds) == 1 and arr.ndim == (4 if arr.shape[-1] == 3 and
                                              img.GetNumberOfComponentsPerPixel() == 3 else 3):
        arr = arr[0]
    return arr


class _VolumeBuilder:
    """Slices streamed into one preallocated array, rescaled on the way (modality LUT).

    The output dtype is the smallest that holds the values, as a whole-volume rescale would
    give: stored values when the LUT is the identity (and colour); integer LUTs give int16 if
    the values fit, else int32 (else float32); other LUTs float32. A slice that does not fit
    the current dtype upgrades the array once. ``store=False`` only tracks dtype and range
    (``fusionviewer info``), so memory stays one slice.
    """

    def __init__(self, frames: list["_Frame"], store: bool = True):
        self.n = len(frames)
        self.identity = all(f.slope == 1.0 and f.intercept == 0.0 for f in frames)
        self.integral = all(f.slope == int(f.slope) and f.intercept == int(f.intercept)
                            and max(abs(f.slope), abs(f.intercept)) < 2 ** 31 for f in frames)
        self.store = store
        self.array: np.ndarray | None = None
        self.dtype: np.dtype | None = None
        self.low, self.high = np.inf, -np.inf

    def _values(self, a: np.ndarray, frame: "_Frame") -> np.ndarray:
        if a.ndim == 3 or self.identity:  # colour, or stored values as they are
            return a
        if self.integral and a.dtype.kind in "ui":
            v = a.astype(np.int64) * int(frame.slope) + int(frame.intercept)
            for dtype in (np.int16, np.int32):
                info = np.iinfo(dtype)
                if v.min() >= info.min and v.max() <= info.max:
                    return v.astype(dtype)
            return v.astype(np.float32)
        return (a.astype(np.float64) * frame.slope + frame.intercept).astype(np.float32)

    def _combined(self, dtype: np.dtype) -> np.dtype:
        if self.dtype is None or dtype == self.dtype:
            return dtype
        if self.identity:  # stored values: as np.stack would promote them
            return np.result_type(self.dtype, dtype)
        rank = [np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.float32)]
        return max(self.dtype, dtype, key=lambda d: rank.index(d) if d in rank else 3)

    def put(self, z: int, a: np.ndarray, frame: "_Frame") -> None:
        """Store the rescaled slice ``a`` at ``z`` (ValueError if its shape differs)."""
        v = self._values(a, frame)
        dtype = self._combined(v.dtype)
        if v.size:
            self.low, self.high = min(self.low, float(v.min())), max(self.high, float(v.max()))
        if self.store:
            if self.array is None:
                self.array = np.empty((self.n,) + v.shape, dtype=dtype)
            elif dtype != self.array.dtype:
                self.array = self.array.astype(dtype)  # a rare one-time upgrade
            if v.shape != self.array.shape[1:]:
                raise ValueError("slice shape")
            self.array[z] = v
        self.dtype = dtype


def _sort_frames(frames: list[_Frame], name: str) -> tuple[list[_Frame], dict]:
    """Sort slices along the normal; return them and the geometry (dz, origin, direction)."""
    geo: dict[str, Any] = {"notes": []}
    for f in frames:
        for key, value in (("ImageOrientationPatient", f.orientation),
                           ("ImagePositionPatient", f.position)):
            if value is not None and not np.isfinite(value).all():
                text = "\\".join(f"{v:g}" for v in value)
                raise InputError(f"{key} {text} is not finite", name)
    oriented = all(f.position is not None and f.orientation is not None for f in frames)
    if oriented:
        ori0 = frames[0].orientation
        _check_orientation(ori0, name)
        if any(np.abs(f.orientation - ori0).max() > 1e-3 for f in frames):
            raise InputError("slices of the series have different orientations", name)
        normal = _normal(ori0)
        key = np.array([float(f.position @ normal) for f in frames])
        order = np.argsort(key, kind="stable")
        frames = [frames[i] for i in order]
        steps = np.diff(key[order])
        if len(frames) > 1 and steps.min() < _POSITION_TOL:
            dup = int((steps < _POSITION_TOL).sum()) + 1
            raise InputError(f"{dup} slices share one position: several acquisitions or time "
                             "points (4-D data) are not supported; select a single volume",
                             name)
        row, col = ori0[:3] / np.linalg.norm(ori0[:3]), ori0[3:] / np.linalg.norm(ori0[3:])
        geo["direction"] = tuple(np.column_stack([row, col, normal]).ravel())
        geo["origin"] = tuple(frames[0].position)
        if len(frames) > 1:
            dz = float(np.median(steps))
            if steps.max() - steps.min() > max(0.01 * dz, 1e-3):
                geo["notes"].append(f"non-uniform slice spacing {steps.min():.3g}.."
                                    f"{steps.max():.3g} mm (median {dz:.3g} used)")
            geo["dz"] = dz
        else:
            geo["dz"] = abs(_step(frames[0], name))
    else:
        frames = sorted(frames, key=lambda f: (f.instance, str(f.path), f.frame))
        geo["direction"] = None
        geo["origin"] = (0.0, 0.0, 0.0)
        geo["dz"] = abs(_step(frames[0], name))
        if len(frames) > 1:
            geo["notes"].append("no ImagePositionPatient: slices ordered by InstanceNumber")
    return frames, geo


def _series_layout(members: list[tuple[Path, Any]], name: str
                   ) -> tuple[list[_Frame], dict, dict[tuple[str, int], int]]:
    """Frames sorted along the normal from the headers alone, the geometry, and the slot (z)
    of each (file, frame)."""
    frames: list[_Frame] = []
    for path, ds in members:
        frames.extend(_frames_of(path, ds))
    if not frames:
        raise InputError("the series holds no image slices", name)
    frames, geo = _sort_frames(frames, name)
    return frames, geo, {(str(f.path), f.frame): z for z, f in enumerate(frames)}


def _stream_pixels(members: list[tuple[Path, Any]], frames: list[_Frame],
                   slots: dict[tuple[str, int], int], builder: _VolumeBuilder, name: str,
                   warnings: list[str], progress, cancel) -> None:
    """Read each file's pixels (one file at a time) into ``builder``; the dataset is dropped
    before the next file is read."""
    for i, (path, _) in enumerate(members):
        check_cancel(cancel)
        ds = _dcmread(path, warnings)
        if "PixelData" not in ds and "FloatPixelData" not in ds:
            raise InputError("DICOM file has no pixel data (truncated?)", str(path))
        check_pixel_data_length(path, ds)
        n = _num_frames(ds)
        arr = _pixels(path, ds, n)
        del ds
        for k in range(n):
            z = slots.get((str(path), k))
            if z is None:
                continue
            try:
                builder.put(z, arr[k], frames[z])
            except ValueError:
                raise InputError("slices of the series differ in shape or colour", name) from None
        del arr
        report(progress, "loading", (i + 1) / len(members))


def _check_series_sizes(members: list[tuple[Path, Any]], name: str) -> None:
    """InputError if the files differ in size or the series is too large to load."""
    first_path, first = members[0]
    rows, cols = _uint(first, "Rows", first_path), _uint(first, "Columns", first_path)
    samples = _uint(first, "SamplesPerPixel", first_path, 1)
    total = 0
    for path, ds in members:
        if (_uint(ds, "Rows", path), _uint(ds, "Columns", path)) != (rows, cols):
            raise InputError(f"slice size {ds.Columns}x{ds.Rows} differs from the series' "
                             f"{cols}x{rows}", str(path))
        total += rows * cols * _num_frames(ds) * samples
    check_voxel_count(total, name)


def load_dicom_series(members: list[tuple[Path, Any]], *, modality: str | None = None,
                      progress: ProgressCallback | None = None,
                      cancel: CancelFlag | None = None) -> Image:
    """Load the files of one series (headers already read) into one Image.

    Memory: the slice order comes from the headers, then pixels are streamed file by file into
    one preallocated array (int16 stays int16; float32 only for non-integer rescales), so the
    peak is about the volume plus one file.
    """
    first_path, first = members[0]
    name = str(first_path.parent if len(members) > 1 else first_path)
    _check_series_sizes(members, name)
    frames, geo, slots = _series_layout(members, name)
    header_warnings: list[str] = []
    builder = _VolumeBuilder(frames)
    _stream_pixels(members, frames, slots, builder, name, header_warnings, progress, cancel)
    array = builder.array
    if array is None:
        raise InputError("the series holds no image slices", name)
    if array.ndim == 4 and array.shape[-1] != 3:
        raise InputError(f"{array.shape[-1]} samples per pixel are not supported", name)
    fields = _series_fields(members, frames, geo, header_warnings, modality, name)
    image = Image(array, **fields)
    image.check_finite(name)
    return image


def _series_fields(members, frames: list[_Frame], geo: dict, header_warnings: list[str],
                   modality: str | None, name: str) -> dict[str, Any]:
    """Image fields (spacing, origin, direction, modality, window, provenance) of a series."""
    first_path, first = members[0]
    ps = frames[0].pixel_spacing or (1.0, 1.0)
    if not (np.isfinite(ps).all() and min(ps) > 0):
        text = "\\".join(f"{v:g}" for v in ps)
        raise InputError(f"PixelSpacing {text} mm is not positive", name)
    notes = list(geo["notes"])
    if header_warnings:
        notes.append(f"DICOM header: {one_line(header_warnings[0], 120)}")
    spacing = (float(ps[1]), float(ps[0]), float(geo["dz"]))
    window = frames[0].window
    if _text(first, "PhotometricInterpretation").upper() == "MONOCHROME1" and window:
        bits = min(max(_uint(first, "BitsStored", first_path, 16), 1), 32)
        f0 = frames[0]
        window = (f0.slope * ((1 << bits) - 1) + 2 * f0.intercept - window[0], window[1])

    header_modality = _text(first, "Modality").upper()
    if header_modality and header_modality != "OT":
        mod = header_modality
    else:
        mod = modality or header_modality or "OT"

    attributes = {k: str(first.get(k)) for k in EXPORT_KEYWORDS
                  if first.get(k, None) not in (None, "")}
    attributes["PhotometricInterpretation"] = _text(first, "PhotometricInterpretation")
    paths = tuple(dict.fromkeys(str(f.path) for f in frames))
    prov = Provenance(
        source_paths=paths,
        series_instance_uid=_text(first, "SeriesInstanceUID") or None,
        study_instance_uid=_text(first, "StudyInstanceUID") or None,
        frame_of_reference_uid=_text(first, "FrameOfReferenceUID") or None,
        sop_class_uid=_text(first, "SOPClassUID") or None,
        sop_instance_uids=tuple(f.sop_uid for f in frames),
        attributes=attributes,
        description="; ".join(notes))
    fields: dict[str, Any] = dict(spacing=spacing, origin=geo["origin"], modality=mod,
                                  window=window, provenance=prov)
    if geo["direction"] is not None:
        fields["direction"] = geo["direction"]
    return fields


def describe_series(members: list[tuple[Path, Any]], *, modality: str | None = None
                    ) -> dict[str, Any]:
    """What ``load_dicom_series`` would give, without holding the volume: geometry from the
    headers, dtype and value range streamed one file at a time (for ``fusionviewer info``)."""
    first_path, _ = members[0]
    name = str(first_path.parent if len(members) > 1 else first_path)
    _check_series_sizes(members, name)
    frames, geo, slots = _series_layout(members, name)
    header_warnings: list[str] = []
    builder = _VolumeBuilder(frames, store=False)
    _stream_pixels(members, frames, slots, builder, name, header_warnings, None, None)
    fields = _series_fields(members, frames, geo, header_warnings, modality, name)
    first_rows = _uint(members[0][1], "Rows", first_path)
    first_cols = _uint(members[0][1], "Columns", first_path)
    colour = _uint(members[0][1], "SamplesPerPixel", first_path, 1) == 3 or \
        _text(members[0][1], "PhotometricInterpretation").upper() == "PALETTE COLOR"
    if builder.dtype is not None and builder.dtype.kind == "f" and \
            not np.isfinite([builder.low, builder.high]).all():
        raise InputError("voxel(s) are NaN or infinite", name)
    return dict(fields, size=(first_cols, first_rows, len(frames)), dtype=builder.dtype,
                color=colour, low=builder.low, high=builder.high)


def read_dicom(path: str | Path, *, series_uid: str | None = None, modality: str | None = None,
               progress: ProgressCallback | None = None,
               cancel: CancelFlag | None = None) -> Image:
    """Load a DICOM file or the (chosen) series of a folder."""
    members = series_members(path, series_uid)
    return load_dicom_series(members, modality=modality, progress=progress, cancel=cancel)


def series_members(path: str | Path, series_uid: str | None = None) -> list[tuple[Path, Any]]:
    """The (path, header) of each file of the DICOM file's series or the folder's (chosen)
    series; InputError naming the series if a folder holds several and none is chosen."""
    path = Path(path)
    if path.is_dir():
        headers, n_files = _scan_folder(path)
        if not headers:
            if n_files == 0:
                raise InputError("empty folder (no files found)", str(path))
            raise InputError(f"no DICOM image files found among {n_files} file(s) in the folder",
                             str(path))
        groups = _group_series(headers)
        if series_uid is None:
            if len(groups) > 1:
                infos = list_series(path)
                raise InputError(f"folder holds {len(groups)} series, choose one by "
                                 "SeriesInstanceUID (--series): "
                                 + "; ".join(i.line() for i in infos), str(path))
            members = next(iter(groups.values()))
        else:
            if series_uid not in groups:
                raise InputError(f"series {series_uid} not found; the folder holds: "
                                 + "; ".join(_series_info(u, m).line()
                                             for u, m in groups.items()), str(path))
            members = groups[series_uid]
    else:
        ds = _read_header(path, force=not is_dicom_file(path))
        if getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", None) == MEDIA_DIRECTORY:
            return series_members(path.parent, series_uid)
        if "SOPClassUID" not in ds:
            raise InputError("corrupt DICOM file (no SOPClassUID: not a valid dataset)", str(path))
        if not _is_image(ds):
            raise InputError("DICOM file holds no image (no Rows/Columns/SeriesInstanceUID)",
                             str(path))
        if series_uid is not None and str(ds.SeriesInstanceUID) != series_uid:
            raise InputError(f"file belongs to series {ds.SeriesInstanceUID}, not {series_uid}",
                             str(path))
        members = [(path, ds)]
    return members
