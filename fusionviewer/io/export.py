"""Writing images: 8-bit PNG, NIfTI with geometry, DICOM Secondary Capture series (highdicom).

Every write goes to a temporary file in the destination folder and is renamed into place
(``os.replace``), so a crash never leaves a half-written output. An existing output raises
``InputError`` unless ``force``; a source file (``image.provenance.source_paths`` and the
``sources``' paths) is never overwritten, even with ``force``.

Display mapping to 8 bits (PNG, and RGB DICOM): uint8 data as is; normalized or float data in
[0, 1] as ``rint(x * 255)``; other data through the image's window (center, width), else its
min..max over the whole volume.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import RESEARCH_ONLY, __version__
from ..errors import InputError
from ..image import Image
from ._common import quiet_native
from .guard import atomic_folder, atomic_path, check_destination

DICOM_NAME = "IM_{:04d}.dcm"
_DICOM_NAME_RE = re.compile(r"IM_\d{4,}\.dcm")
_TM = r"([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?"  # DICOM TM: HH[MM[SS[.ffffff]]]
_LEVELS = 65535  # 16-bit stored values for non-8-bit gray DICOM output
SERIES_DESCRIPTION = 64  # DICOM LO: at most 64 characters
NIFTI_DESCRIP = 79  # NIfTI-1 descrip: 80 bytes with the terminating NUL


def cut_at_word(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut at the last word boundary (no ellipsis)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    cut = head.rfind(" ")
    out = head[:cut] if cut > limit // 3 else text[:limit]
    return out.rstrip(" ,;:-(")


def _unit_range(image: Image) -> tuple[float, float] | None:
    """(low, high) such that (value - low) / (high - low) is the display fraction, or None."""
    arr = image.array
    if arr.dtype == np.uint8:
        return None
    if image.normalization is not None:
        return (0.0, 1.0)
    if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.min() >= 0 and arr.max() <= 1:
        return (0.0, 1.0)
    if image.window is not None and image.window[1] > 0:
        c, w = image.window
        return (c - w / 2.0, c + w / 2.0)
    low, high = float(arr.min()), float(arr.max())
    return (low, high if high > low else low + 1.0)


def to_uint8(image: Image) -> np.ndarray:
    """The whole array mapped to uint8 display values (see the module docstring)."""
    rng = _unit_range(image)
    if rng is None:
        return image.array
    low, high = rng
    unit = (image.array.astype(np.float64) - low) / (high - low)
    return np.rint(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)


def protected_paths(images: Sequence[Image]) -> tuple[list[str], list[str]]:
    """(source files and folders, folders holding a source DICOM series) of ``images``."""
    paths: list[str] = []
    series: list[str] = []
    for image in images:
        own = list(image.provenance.source_paths)
        paths.extend(own)
        if image.provenance.series_instance_uid:  # a DICOM file's folder holds its series
            series.extend(str(Path(p).parent) for p in own if Path(p).is_file())
    return paths, series


def _guard(path: Path, image: Image, sources: Sequence[Image], force: bool, **kw) -> None:
    paths, series = protected_paths([image, *sources])
    check_destination(path, force=force, sources=paths, series_folders=series, **kw)


def write_png(image: Image, path: str | Path, *, slice_index: int | None = None,
              force: bool = False) -> Path:
    """Write one slice (default: the middle one) as an 8-bit gray or RGB PNG."""
    from PIL import Image as PILImage

    path = Path(path)
    if slice_index is None:
        slice_index = image.num_slices // 2
    if not 0 <= slice_index < image.num_slices:
        raise InputError(f"slice {slice_index} out of range 0..{image.num_slices - 1}", str(path))
    _guard(path, image, (), force)
    u8 = to_uint8(image.slice(slice_index))[0]
    with atomic_path(path) as tmp:
        PILImage.fromarray(u8, mode="RGB" if u8.ndim == 3 else "L").save(tmp, format="PNG")
    return path


def write_png_slices(image: Image, folder: str | Path, *, prefix: str = "slice",
                     force: bool = False) -> list[Path]:
    """Write every slice as ``folder/PREFIX_000.png`` ... with one mapping for the whole volume."""
    from PIL import Image as PILImage

    folder = Path(folder)
    paths = [folder / f"{prefix}_{k:03d}.png" for k in range(image.num_slices)]
    if folder.is_dir():
        for p in paths:
            _guard(p, image, (), force)
    else:
        _guard(folder, image, (), force, folder=True)
    u8 = to_uint8(image)
    with atomic_folder(folder) as tmp:
        for k, p in enumerate(paths):
            PILImage.fromarray(u8[k], mode="RGB" if u8.ndim == 4 else "L").save(
                tmp / p.name, format="PNG")
    return paths


def write_nifti(image: Image, path: str | Path, *, force: bool = False,
                description: str = "") -> Path:
    """Write ``.nii`` / ``.nii.gz`` with the image's spacing, origin, direction (RGB as vector);
    ``description`` goes into the header's 80-byte ``descrip`` (cut at a word)."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        raise InputError("NIfTI output needs a .nii or .nii.gz name", str(path))
    raw = _nifti_bytes(image)  # gzip output: at least a quarter of it (checked after writing)
    _guard(path, image, (), force, expected_bytes=raw // 4 if path.suffix == ".gz" else raw)
    arr = image.array
    if arr.dtype == np.float64:
        image = image.with_array(arr.astype(np.float32))
    elif arr.dtype == np.bool_:
        image = image.with_array(arr.astype(np.uint8))
    with atomic_path(path, verify=lambda tmp: _check_nifti_size(tmp, image)) as tmp:
        try:
            img = image.to_sitk()
            if description:
                img.SetMetaData("ITK_FileNotes", cut_at_word(description, NIFTI_DESCRIP))  # -> descrip
            sitk.WriteImage(img, str(tmp), useCompression=path.suffix == ".gz")
        except RuntimeError as exc:
            raise InputError(f"cannot write NIfTI ({str(exc).strip().splitlines()[-1][:160]})",
                             str(path)) from None
    return path


def _nifti_bytes(image: Image) -> int:
    """Size of the uncompressed NIfTI-1 file: 352-byte header plus the voxels as written."""
    itemsize = 4 if image.array.dtype == np.float64 else max(1, image.array.dtype.itemsize)
    return 352 + int(image.array.size) * itemsize


def _check_nifti_size(tmp: Path, image: Image) -> str | None:
    """ITK only warns when the disk fills; a short file (or gzip stream) is caught here."""
    want = _nifti_bytes(image)
    if tmp.name.endswith(".gz"):
        with open(tmp, "rb") as fh:  # gzip's trailer holds the uncompressed size mod 2**32
            fh.seek(-4, 2)
            size = int.from_bytes(fh.read(4), "little")
        return None if size == want % 2 ** 32 else "the compressed file is incomplete (disk full?)"
    got = tmp.stat().st_size
    return None if got >= want else f"wrote only {got} of {want} bytes (disk full?)"


# --- DICOM ---------------------------------------------------------------------------------------

def _orientation_letter(v: np.ndarray) -> str:
    """Patient orientation letter(s) of a direction in LPS (e.g. (1, 0, 0) -> 'L')."""
    letters = (("L", "R"), ("P", "A"), ("H", "F"))
    order = np.argsort(-np.abs(v))
    out = "".join(letters[i][0 if v[i] > 0 else 1] for i in order if abs(v[i]) > 1e-3)
    return out[:3] or "L"


def _gray_encoding(image: Image) -> tuple[np.ndarray, int, float, float, tuple[float, float]]:
    """Stored uint8/uint16 pixels, bits, rescale slope, intercept and window (output units)."""
    arr = image.array
    if arr.dtype == np.uint8:
        window = image.window or (127.5, 256.0)
        return arr, 8, 1.0, 0.0, window
    if arr.dtype.kind in "ui" and arr.size:
        low, high = int(arr.min()), int(arr.max())
        if high - low <= 65535:
            intercept = 0 if low >= 0 and high <= 65535 else low
            stored = (arr.astype(np.int64) - intercept).astype(np.uint16)
            window = image.window or ((low + high) / 2.0, max(1.0, float(high - low)))
            return stored, 16, 1.0, float(intercept), window
    # Float (normalized or not): 16-bit levels with a rescale back to the original units.
    if image.normalization is not None:
        out_low, out_high = image.normalization.low, image.normalization.high
        unit = np.clip(arr.astype(np.float64), 0.0, 1.0)
    else:
        low, high = float(arr.min()), float(arr.max())
        if high <= low:
            high = low + 1.0
        out_low, out_high = low, high
        unit = (arr.astype(np.float64) - low) / (high - low)
    stored = np.rint(unit * _LEVELS).astype(np.uint16)
    slope = (out_high - out_low) / _LEVELS if out_high > out_low else 1.0
    if image.window is not None and image.normalization is None:
        window = image.window
    else:
        window = ((out_low + out_high) / 2.0, max(out_high - out_low, 1e-6))
    return stored, 16, slope, out_low, window


def _dicom_source(sources: Sequence[Image]) -> Image | None:
    for src in sources:
        prov = src.provenance
        if prov.study_instance_uid and prov.sop_instance_uids:
            return src
    return None


def _references(sources: Sequence[Image], k: int, n: int) -> list:
    """SourceImageSequence items for output slice k: the matching slice of each DICOM source."""
    from highdicom.sr import CodedConcept
    from pydicom.dataset import Dataset

    purpose = CodedConcept("121322", "DCM", "Source image for image processing operation")
    items = []
    for src in sources:
        prov = src.provenance
        uids = prov.sop_instance_uids
        if not uids or not prov.sop_class_uid:
            continue
        if len(uids) == n:
            chosen = [(uids[k], k)]
        elif len(uids) == 1:
            chosen = [(uids[0], 0)]
        else:  # a different slice count (e.g. resampled): reference the nearest slice
            idx = min(len(uids) - 1, int(round(k * (len(uids) - 1) / max(n - 1, 1))))
            chosen = [(uids[idx], idx)]
        for uid, index in chosen:
            item = Dataset()
            item.ReferencedSOPClassUID = prov.sop_class_uid
            item.ReferencedSOPInstanceUID = uid
            if uids.count(uid) > 1:  # multi-frame source: point at the frame
                item.ReferencedFrameNumber = uids[:index + 1].count(uid)
            item.PurposeOfReferenceCodeSequence = [purpose]
            items.append(item)
    return items


def _series_paths(folder: Path, n: int) -> list[Path]:
    return [folder / DICOM_NAME.format(k + 1) for k in range(n)]


def write_dicom_series(image: Image, folder: str | Path, *, sources: Sequence[Image] = (),
                       description: str, force: bool = False,
                       derivation: str | None = None, anonymise: bool = False
                       ) -> list[Path]:
    """Write one DICOM Secondary Capture instance per slice into ``folder`` (IM_0001.dcm ...).

    ``description`` becomes SeriesDescription (cut at a word within 64 characters) and, unless
    ``derivation`` is given, DerivationDescription. ``anonymise``: de-identified with
    io/anonymise.py (no patient identity, new UIDs).

    Patient and study come from the first DICOM source (else a new study of an anonymous
    patient); series and SOP instance UIDs are new. Geometry (ImagePositionPatient,
    ImageOrientationPatient, PixelSpacing, SliceThickness) is written so that SimpleITK's
    ImageSeriesReader rebuilds the volume; gray data other than uint8 is stored as 16 bits with
    RescaleSlope/Intercept mapping back to the image's units (its Normalization if any).
    """
    import highdicom as hd
    from pydicom.uid import generate_uid

    folder = Path(folder)
    n = image.num_slices
    paths = _series_paths(folder, n)
    _guard(folder, image, sources, force, folder=True,
           expected_bytes=int(image.array.size) * 2 + 4096 * n)

    ref = _dicom_source(sources)
    attrs = ref.provenance.attributes if ref is not None else {}
    study_uid = ref.provenance.study_instance_uid if ref is not None else generate_uid()
    for_uid = None
    for src in ([image] + list(sources)):
        if src.provenance.frame_of_reference_uid and src.same_grid(image):
            for_uid = src.provenance.frame_of_reference_uid
            break
    for_uid = for_uid or generate_uid()
    series_uid = generate_uid()
    try:
        series_number = int(attrs.get("SeriesNumber", 0)) + 1000
    except ValueError:
        series_number = 1000

    d = np.reshape(image.direction, (3, 3))
    row, col, normal = d[:, 0], d[:, 1], d[:, 2]
    orientation = (_orientation_letter(row), _orientation_letter(col))  # e.g. ("LP", "PR")
    sx, sy, sz = image.spacing
    if image.is_color:
        stored_all, bits, slope, intercept, window = to_uint8(image), 8, 1.0, 0.0, None
        photometric = "RGB"
    else:
        stored_all, bits, slope, intercept, window = _gray_encoding(image)
        photometric = "MONOCHROME2"
    derivation = (description if derivation is None else derivation).strip()
    if RESEARCH_ONLY.lower() not in derivation.lower():
        derivation = f"{derivation}; {RESEARCH_ONLY}" if derivation else RESEARCH_ONLY
    if "fusionviewer" not in derivation.lower():
        derivation = f"FusionViewer {__version__}: {derivation}"
    now = datetime.datetime.now()

    def text(key: str) -> str | None:
        value = attrs.get(key)
        return str(value) if value not in (None, "") else None

    def valid(key: str, pattern: str) -> str | None:
        """A copied date/time only if it has the DICOM form (else highdicom raises on it)."""
        value = text(key)
        return value if value and re.fullmatch(pattern, value) else None

    patient_name = text("PatientName")
    if patient_name and "^" not in patient_name:
        patient_name += "^"  # one-component name, marked as such (highdicom warns otherwise)

    written: list[Path] = []
    deidentify = None
    if anonymise:
        from .anonymise import Anonymiser

        deidentify = Anonymiser()
    # The series appears whole or not at all; an older, longer series' extra slices go.
    with atomic_folder(folder, stale=lambda p: bool(_DICOM_NAME_RE.fullmatch(p.name))) as tmp:
        for k in range(n):
            position = np.asarray(image.origin) + d @ np.array([0.0, 0.0, k * sz])
            try:
                with quiet_native():  # highdicom/pydicom warnings on copied attributes stay quiet
                    ds = hd.sc.SCImage(
                        pixel_array=np.ascontiguousarray(stored_all[k]),
                        photometric_interpretation=photometric, bits_allocated=bits,
                        coordinate_system="PATIENT", study_instance_uid=study_uid,
                        series_instance_uid=series_uid, series_number=series_number,
                        sop_instance_uid=generate_uid(), instance_number=k + 1,
                        manufacturer="FusionViewer",
                        patient_id=text("PatientID") if ref is not None else "ANONYMOUS",
                        patient_name=patient_name if ref is not None else "ANONYMOUS^",
                        patient_birth_date=valid("PatientBirthDate", r"\d{8}"),
                        patient_sex=text("PatientSex") if text("PatientSex") in ("M", "F", "O")
                        else None,
                        accession_number=text("AccessionNumber"), study_id=text("StudyID"),
                        study_date=valid("StudyDate", r"\d{8}") or (None if ref is not None
                                                                   else now.date()),
                        study_time=valid("StudyTime", _TM) or (None if ref is not None else now.time()),
                        referring_physician_name=text("ReferringPhysicianName"),
                        pixel_spacing=(sy, sx),
                        patient_orientation=(orientation[0][0], orientation[1][0]))
            except (ValueError, TypeError) as exc:
                raise InputError(f"cannot build DICOM instance: {exc}", str(folder)) from None
            if ref is not None and text("StudyDescription"):
                ds.StudyDescription = text("StudyDescription")
            ds.SeriesDescription = cut_at_word(description, SERIES_DESCRIPTION)
            if image.modality not in ("", "OT"):  # a resampled source keeps its modality
                ds.Modality = image.modality
            ds.PatientOrientation = list(orientation)  # highdicom accepts single letters only
            ds.ImageType = ["DERIVED", "SECONDARY"]
            ds.DerivationDescription = derivation[:1024]
            ds.SoftwareVersions = __version__
            ds.ManufacturerModelName = "FusionViewer"
            ds.BurnedInAnnotation = "NO"
            ds.FrameOfReferenceUID = for_uid
            ds.PositionReferenceIndicator = ""
            ds.ImagePositionPatient = [float(f"{v:.6f}") for v in position]
            ds.ImageOrientationPatient = [float(f"{v:.6f}") for v in list(row) + list(col)]
            ds.SliceThickness = float(f"{sz:.6f}")
            ds.SpacingBetweenSlices = float(f"{sz:.6f}")
            ds.SliceLocation = float(f"{float(position @ normal):.6f}")
            if not image.is_color:
                ds.RescaleSlope = float(f"{slope:.10g}")
                ds.RescaleIntercept = float(f"{intercept:.10g}")
                ds.RescaleType = "HU" if image.modality == "CT" and slope == 1.0 else "US"
                ds.WindowCenter = float(f"{window[0]:.10g}")
                ds.WindowWidth = float(f"{window[1]:.10g}")
            refs = _references(sources, k, n)
            if refs:
                ds.SourceImageSequence = refs
            if deidentify is not None:
                deidentify(ds)
            ds.save_as(tmp / paths[k].name, enforce_file_format=True)
            written.append(paths[k])
    return written
