"""Declared-size checks: refuse a header that promises more voxel bytes than its file can hold."""

from __future__ import annotations

import gzip
import io
import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._common import human_bytes, one_line

DEFLATE_MAX_RATIO = 1032  # zlib/gzip cannot expand one byte into more than about 1032
_CHUNK = 1 << 20


def _component(pixel_id_text: str) -> tuple[str, int] | None:
    """('float32', 4) from SimpleITK's '32-bit float' (complex doubles the bytes), else None."""
    match = re.search(r"(\d+)-bit (float|signed integer|unsigned integer)", pixel_id_text)
    if not match:
        return None
    bits = int(match.group(1))
    kind = {"float": "float", "signed integer": "int", "unsigned integer": "uint"}[match.group(2)]
    factor = 2 if "complex" in pixel_id_text else 1
    return (f"complex{2 * bits}" if factor == 2 else f"{kind}{bits}"), bits // 8 * factor


def _refuse(what: str, declared: int, holds: str, path: Path) -> None:
    raise InputError(f"corrupt or truncated image data: header declares {what} "
                     f"({human_bytes(declared)}) but the file holds "
                     f"{holds}", str(path))


def check_volume_size(path: Path, size, components: int, pixel_id_text: str) -> None:
    """InputError if a NIfTI/MetaImage/NRRD file cannot hold the voxel bytes its header declares."""
    comp = _component(pixel_id_text)
    if comp is None:
        return
    count = 1
    for s in size:
        count *= int(s)
    declared = count * components * comp[1]
    what = "x".join(str(int(s)) for s in size) + f" {comp[0]}"
    if components > 1:
        what += f" x {components} components"
    name = path.name.lower()
    if name.endswith(".nii"):
        available = _nifti_available(path, path.stat().st_size)
    elif name.endswith(".nii.gz"):
        available = _nifti_gz_available(path, declared, what)
    elif name.endswith((".mha", ".mhd")):
        available = _metaimage_available(path, declared, what)
    elif name.endswith((".nrrd", ".nhdr")):
        available = _nrrd_available(path, declared, count * components, what)
    else:
        return
    if available is not None and available < declared:
        _refuse(what, declared, f"{human_bytes(max(available, 0))} of data", path)


def _vox_offset(head: bytes, path: Path) -> int | None:
    """The voxel offset of a NIfTI-1/-2 header (either byte order), None if not NIfTI."""
    for order in "<>":
        if len(head) >= 348 and struct.unpack(order + "i", head[:4])[0] == 348:
            offset, least = struct.unpack(order + "f", head[108:112])[0], 352
        elif len(head) >= 540 and struct.unpack(order + "i", head[:4])[0] == 540:
            offset, least = struct.unpack(order + "q", head[168:176])[0], 544
        else:
            continue
        if not (math.isfinite(offset) and offset >= 0):
            raise InputError(f"corrupt header: vox_offset {offset:g} is not a byte offset",
                             str(path))
        return max(least, int(offset))
    return None


def _nifti_available(path: Path, total: int) -> int | None:
    with open(path, "rb") as fh:
        offset = _vox_offset(fh.read(548), path)
    return None if offset is None else total - offset


def _nifti_gz_available(path: Path, declared: int, what: str) -> int | None:
    """Voxel bytes in a .nii.gz: bounded by the deflate ratio, then counted by capped streaming."""
    compressed = path.stat().st_size
    try:
        with gzip.open(path, "rb") as fh:
            offset = _vox_offset(fh.read(548), path)
    except (OSError, EOFError, zlib.error):
        return None  # not gzip / corrupt: the reader reports it
    if offset is None:
        return None
    if compressed * DEFLATE_MAX_RATIO < offset + declared:
        _refuse(what, declared, f"{human_bytes(compressed)} compressed (at most "
                f"{human_bytes(compressed * DEFLATE_MAX_RATIO)} once decompressed)", path)
    need, seen = offset + declared, 0
    try:
        with gzip.open(path, "rb") as fh:
            while seen < need:
                chunk = fh.read(min(_CHUNK, need - seen))
                if not chunk:
                    break
                seen += len(chunk)
    except (OSError, EOFError, zlib.error):
        pass  # a truncated stream: what was decompressed so far is what the file holds
    return seen - offset


def _text_header(path: Path, limit: int = 1 << 16) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(limit)


def _metaimage_fields(path: Path) -> tuple[dict[str, str], int | None]:
    """A MetaImage header's fields (lower-case keys) and where its data starts (LOCAL)."""
    fields: dict[str, str] = {}
    pos = 0
    for line in _text_header(path).split(b"\n"):
        pos += len(line) + 1
        key, sep, value = line.decode("latin-1").partition("=")
        if not sep:
            continue
        fields[key.strip().lower()] = value.strip()
        if key.strip().lower() == "elementdatafile":
            return fields, pos
    return fields, None


def _ints(text: str) -> list[int] | None:
    try:
        return [int(v) for v in text.split()]
    except ValueError:
        return None


def precheck_header(path: Path) -> None:
    """InputError for MetaImage/NRRD headers whose dimensions crash ITK's parsers (NDims -1...)."""
    name = path.name.lower()
    if name.endswith((".mha", ".mhd")):
        fields, _ = _metaimage_fields(path)
        ndims, sizes = _ints(fields.get("ndims", "")), _ints(fields.get("dimsize", ""))
        channels = _ints(fields.get("elementnumberofchannels", "1"))
        where = "NDims/DimSize/ElementNumberOfChannels"
    elif name.endswith((".nrrd", ".nhdr")):
        head = _text_header(path)
        end = head.find(b"\n\n")
        fields = {}
        for line in (head if end < 0 else head[:end]).split(b"\n")[1:]:
            key, sep, value = line.decode("latin-1").partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        ndims, sizes = _ints(fields.get("dimension", "")), _ints(fields.get("sizes", ""))
        channels, where = [1], "dimension/sizes"
    elif name.endswith((".nii", ".nii.gz")):
        _precheck_nifti(path)
        return
    else:
        return
    ok = (ndims is not None and len(ndims) == 1 and 1 <= ndims[0] <= 5 and sizes is not None
          and len(sizes) == ndims[0] and min(sizes) >= 1 and channels is not None
          and len(channels) == 1 and channels[0] >= 1)
    if not ok:
        raise InputError(f"corrupt header: {where} do not describe an image", str(path))


def _precheck_nifti(path: Path) -> None:
    """InputError if the NIfTI transforms ITK will use hold NaN/Inf (its SVD can hang on them)."""
    import nibabel as nib

    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            head = fh.read(540)
        kind = nib.Nifti2Header if head[:4] in (b"\x1c\x02\0\0", b"\0\0\x02\x1c") \
            else nib.Nifti1Header
        header = kind.from_fileobj(io.BytesIO(head), check=False)
    except Exception:  # not NIfTI, short or corrupt: the reader reports it
        return
    checks = []
    if header["qform_code"] > 0:
        checks.append(("qform (quatern_b/c/d, qoffset_x/y/z, pixdim)",
                       [header[k] for k in ("quatern_b", "quatern_c", "quatern_d", "qoffset_x",
                                            "qoffset_y", "qoffset_z")]
                       + list(header["pixdim"][:4])))
    if header["sform_code"] > 0:
        checks.append(("sform (srow_x/y/z)",
                       [header[k] for k in ("srow_x", "srow_y", "srow_z")]))
    for what, values in checks:
        if not all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in values):
            raise InputError(f"corrupt header: the {what} holds NaN or infinite values",
                             str(path))


def _metaimage_available(path: Path, declared: int, what: str) -> int | None:
    """Pixel bytes a MetaImage header's data (LOCAL or one raw file) can supply."""
    fields, end = _metaimage_fields(path)
    data_file = fields.get("elementdatafile")
    if data_file is None or end is None:
        return None
    compressed = fields.get("compresseddata", "false").lower() == "true"
    if not data_file.isprintable():
        raise InputError("corrupt header: ElementDataFile is not a file name", str(path))
    if data_file.upper() == "LOCAL":
        available = path.stat().st_size - end
    elif data_file.upper().startswith("LIST"):
        _check_listed_files(path, end)
        return None
    elif "%" in data_file or " " in data_file:
        return None
    else:
        raw = path.parent / data_file
        if not raw.is_file():
            raise InputError(f"the data file {data_file} named by the header does not exist",
                             str(path))
        available = raw.stat().st_size - max(_int(fields.get("headersize", "0")), 0)
    if compressed:
        if available * DEFLATE_MAX_RATIO < declared:
            _refuse(what, declared, f"{human_bytes(available)} compressed (at most "
                    f"{human_bytes(available * DEFLATE_MAX_RATIO)} once decompressed)", path)
        if data_file.upper() != "LOCAL":
            return None
        return _inflated_size(path, end, declared)
    return available


def _inflated_size(path: Path, start: int, cap: int) -> int:
    """Bytes the zlib stream at ``start`` inflates to, counted up to ``cap``; InputError if bad."""
    inflater, seen = zlib.decompressobj(), 0
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            while seen < cap and not inflater.eof:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                seen += len(inflater.decompress(chunk, cap - seen))
                while inflater.unconsumed_tail and seen < cap:
                    seen += len(inflater.decompress(inflater.unconsumed_tail, cap - seen))
    except zlib.error as exc:
        raise InputError(f"corrupt or truncated image data: the compressed pixel data is not a "
                         f"valid zlib stream ({exc})", str(path)) from None
    return seen


def _check_listed_files(path: Path, end: int) -> None:
    """InputError unless the lines after ``ElementDataFile = LIST`` name existing files."""
    with open(path, "rb") as fh:
        fh.seek(end)
        names = fh.read(1 << 16).decode("latin-1").splitlines()
    names = [n.strip() for n in names if n.strip()]
    bad = next((n for n in names if not (path.parent / n).is_file()), None) if names else ""
    if bad is not None:
        shown = f" ({one_line(bad, 60)})" if bad and bad.isprintable() else ""
        raise InputError(f"the data files listed by the header do not exist{shown}", str(path))


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _nrrd_available(path: Path, declared: int, values: int, what: str) -> int | None:
    """Bytes a NRRD's attached or detached data holds, as comparable with ``declared``."""
    head = _text_header(path)
    end = head.find(b"\n\n")
    if end < 0:
        return None
    fields: dict[str, str] = {}
    for line in head[:end].split(b"\n")[1:]:
        key, sep, value = line.decode("latin-1").partition(":")
        if sep and not line.startswith(b"#"):
            fields[key.strip().lower()] = value.strip().lstrip("=").strip()
    if any(k in fields for k in ("line skip", "lineskip", "byte skip", "byteskip")):
        return None
    detached = fields.get("data file") or fields.get("datafile")
    if detached:
        if detached.upper().startswith("LIST") or " " in detached or "%" in detached:
            return None
        raw = path.parent / detached
        if not raw.is_file():
            raise InputError(f"the data file {detached} named by the header does not exist",
                             str(path))
        available = raw.stat().st_size
    else:
        available = path.stat().st_size - (end + 2)
    encoding = fields.get("encoding", "raw").lower()
    if encoding in ("gzip", "gz"):
        if available * DEFLATE_MAX_RATIO < declared:
            _refuse(what, declared, f"{human_bytes(available)} compressed (at most "
                    f"{human_bytes(available * DEFLATE_MAX_RATIO)} once decompressed)", path)
        return None
    if encoding in ("ascii", "text", "txt"):
        return declared if available >= 2 * values - 1 else available * declared // max(
            2 * values - 1, 1)
    if encoding == "hex":
        return available // 2
    return available if encoding == "raw" else None


# --- DICOM -----------------------------------------------------------------------------------

COMPRESSED_MAX_RATIO = 1000  # encapsulated pixel data claiming more than this is refused...
COMPRESSED_FREE = 64 << 20  # ...when it would also decode to more than this many bytes


def dicom_compressed(ds) -> bool | None:
    """Whether the transfer syntax is compressed (encapsulated); None if absent or unknown."""
    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID", None)
    if syntax is None:
        return None
    try:
        return bool(syntax.is_compressed)
    except (ValueError, AttributeError):  # not a transfer syntax UID (or several values)
        return None


def check_pixel_data_length(path: Path, ds) -> None:
    """InputError if PixelData cannot hold Rows x Columns x frames (native, or by compression)."""
    compressed = dicom_compressed(ds)
    if "PixelData" not in ds or compressed is None:
        return
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits = int(ds.get("BitsAllocated", 0) or 0)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        frames = max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return  # malformed values: the decoder reports them
    count = rows * cols * frames * samples
    expected = (count + 7) // 8 if bits == 1 else count * bits // 8
    have = len(ds.PixelData)
    if compressed:
        short = expected > COMPRESSED_FREE and expected > COMPRESSED_MAX_RATIO * have
        held = f"the compressed PixelData holds {human_bytes(have)} (over " \
               f"{COMPRESSED_MAX_RATIO}:1)"
    else:
        short, held = have < expected, f"PixelData holds {human_bytes(have)}"
    if bits > 0 and short:
        extra = f" x {samples} samples" if samples != 1 else ""
        raise InputError(f"corrupt or truncated DICOM pixel data: Rows x Columns declare "
                         f"{rows}x{cols}{extra}, {frames} frame(s) of {bits} bits "
                         f"({human_bytes(expected)}) but {held}", str(path))
