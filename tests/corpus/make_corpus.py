"""Write the hostile-input regression corpus (tiny crafted files) into this folder; run by hand."""

from __future__ import annotations

import gzip
import io
import struct
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
UID = "1.2.826.0.1.3680043.8.498.4242"


def dicom_bytes(**changes) -> bytes:
    """A valid 16x16 uint16 CT slice (about 1 KB) with ``changes`` applied to its dataset."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID + ".3"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, UID + ".3"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = UID + ".1", UID + ".2"
    ds.FrameOfReferenceUID = UID + ".4"
    ds.Modality, ds.PatientName, ds.PatientID, ds.InstanceNumber = "CT", "CORPUS^TEST", "C1", 1
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = [0.5, 0.5]
    ds.SliceThickness = 2.0
    ds.ImagePositionPatient = [0.0, 0.0, 0.0]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.RescaleSlope, ds.RescaleIntercept = 1.0, -1024.0
    ds.PixelData = (np.arange(256, dtype=np.uint16) * 8).tobytes()
    for key, value in changes.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def dicom_jpeg2000_bytes(rows: int, columns: int) -> bytes:
    """A JPEG 2000 DICOM declaring rows x columns whose codestream is a broken 64-byte stub."""
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(Rows=rows, Columns=columns)))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\0" * 60])
    ds["PixelData"].VR = "OB"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def nifti_bytes(shape=(8, 8, 4), data: bytes | None = None, **fields) -> bytes:
    """A NIfTI-1 float32 volume (``data`` replaces the voxels; ``fields`` set header fields)."""
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.float32)
    hdr.set_data_shape(shape)
    hdr.set_zooms((1.0,) * len(shape))
    affine = np.eye(4)
    hdr.set_qform(affine, code=1)
    hdr.set_sform(affine, code=1)
    hdr["vox_offset"] = 352
    for key, value in fields.items():
        hdr[key] = value
    if data is None:
        data = np.arange(int(np.prod(shape)), dtype=np.float32).tobytes()
    return hdr.binaryblock + b"\0" * 4 + data


def mha_bytes(dims=(8, 8, 4), matrix="1 0 0 0 1 0 0 0 1", spacing="1 1 1",
              data: bytes | None = None) -> bytes:
    """A MetaImage (.mha) float32 volume with the given header fields."""
    head = (f"ObjectType = Image\nNDims = {len(dims)}\nBinaryData = True\n"
            f"BinaryDataByteOrderMSB = False\nCompressedData = False\n"
            f"TransformMatrix = {matrix}\nOffset = 0 0 0\nElementSpacing = {spacing}\n"
            f"DimSize = {' '.join(map(str, dims))}\nElementType = MET_FLOAT\n"
            "ElementDataFile = LOCAL\n")
    if data is None:
        data = np.arange(int(np.prod(dims)), dtype=np.float32).tobytes()
    return head.encode() + data


def nrrd_bytes(sizes=(8, 8, 4), data: bytes | None = None) -> bytes:
    """A NRRD float32 volume with attached raw data."""
    n = len(sizes)
    axes = " ".join("(" + ",".join("1" if i == j else "0" for j in range(n)) + ")"
                    for i in range(n))
    head = (f"NRRD0004\ntype: float\ndimension: {n}\nspace dimension: {n}\n"
            f"sizes: {' '.join(map(str, sizes))}\nspace directions: {axes}\nendian: little\n"
            f"encoding: raw\nspace origin: ({','.join('0' * n)})\n\n")
    if data is None:
        data = np.arange(int(np.prod(sizes)), dtype=np.float32).tobytes()
    return head.encode() + data


def png_bytes() -> bytes:
    """A 16x16 8-bit gray PNG of seeded noise (incompressible, so truncation cuts pixels)."""
    from PIL import Image

    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="PNG")
    return buf.getvalue()


def corpus() -> dict[str, bytes]:
    """File name -> content of every corpus case."""
    nan = float("nan")
    files = {
        "bomb.nii": nifti_bytes((30000, 30000), data=b"\0" * 1024),
        "bomb.nii.gz": gzip.compress(nifti_bytes((30000, 30000), data=b"\0" * 1024), mtime=0),
        # passes the deflate-ratio bound but decompresses to less than its header declares
        "bomb_ratio_ok.nii.gz": gzip.compress(nifti_bytes((64, 64), data=b"\0" * 1024),
                                              mtime=0),
        "bomb.mha": mha_bytes((30000, 30000), matrix="1 0 0 1", spacing="1 1", data=b"\0" * 64),
        "bomb.mhd": mha_bytes((30000, 30000), matrix="1 0 0 1", spacing="1 1", data=b"")
        .replace(b"= LOCAL", b"= bomb.raw"),
        "bomb.raw": b"\0" * 64,
        "missing_raw.mhd": mha_bytes(data=b"").replace(b"= LOCAL", b"= missing.raw"),
        "bomb.nrrd": nrrd_bytes((30000, 30000), data=b"\0" * 64),
        "bomb.dcm": dicom_bytes(Rows=30000, Columns=30000),
        "bomb_jpeg2000.dcm": dicom_jpeg2000_bytes(30000, 30000),
        "zero_iop.dcm": dicom_bytes(ImageOrientationPatient=[0.0] * 6),
        "parallel_iop.dcm": dicom_bytes(ImageOrientationPatient=[1.0, 0, 0, 1.0, 0, 0]),
        "nan_position.dcm": dicom_bytes(ImagePositionPatient=["nan", "0", "0"]),
        "nan_orientation.dcm": dicom_bytes(ImageOrientationPatient=["1", "0", "0", "0", "nan",
                                                                    "0"]),
        "zero_spacing.dcm": dicom_bytes(PixelSpacing=[0.0, 0.0]),
        "negative_spacing.dcm": dicom_bytes(PixelSpacing=[-0.5, 0.5]),
        "zero_thickness.dcm": dicom_bytes(SliceThickness=0.0),
        "nan_origin.nii": nifti_bytes(qoffset_x=nan, srow_x=[1.0, 0.0, 0.0, nan]),
        "zero_pixdim.nii": nifti_bytes(pixdim=[1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]),
        "zero_direction.mha": mha_bytes(matrix="0 0 0 0 0 0 0 0 0"),
        "parallel_direction.mha": mha_bytes(matrix="1 0 0 1 0 0 0 0 1"),
        "zero_spacing.nrrd": nrrd_bytes().replace(b"(1,0,0) (0,1,0)", b"(0,0,0) (0,1,0)"),
        "slightly_skewed.mha": mha_bytes(matrix="1 0.0004 0 0 1 0 0 0 1"),
        "skewed.mha": mha_bytes(matrix="1 0.02 0 0 1 0 0 0 1"),
        "sheared.mha": mha_bytes(matrix="1 0.5 0 0 1 0 0 0 1"),
        "truncated.nii": nifti_bytes()[:700],
        "truncated.dcm": dicom_bytes()[:-200],
        "truncated.png": png_bytes()[:150],
        "truncated.mha": mha_bytes()[:-100],
    }
    return files


def fuzzer_finds() -> dict[str, bytes]:
    """Small reproductions of the crashes tests/test_fuzz.py found (each fixed in the loaders)."""
    dcm = dicom_bytes()
    pixel_tag = dcm.index(b"\xe0\x7f\x10\x00")
    length_bomb = struct.pack("<HH", 0x0029, 0x1010) + b"UN\0\0" + struct.pack("<I", 0xFFFFFFF0)
    columns = struct.pack("<HH", 0x0028, 0x0011) + b"US"
    assert dcm.count(columns) == 1 and dcm.count(b"1.2.840.10008.1.2.1\0") == 1
    return {
        "ndims_negative.mha": mha_bytes().replace(b"NDims = 3", b"NDims = -1"),  # segfault
        "zero_dims.mha": mha_bytes().replace(b"DimSize = 8 8 4", b"DimSize = 0 0 0"),
        "list_compressed.mha": mha_bytes().replace(b"CompressedData = False",
                                                   b"CompressedData = True")
        .replace(b"= LOCAL", b"= LIST"),  # std::bad_alloc in ITK
        "nul_datafile.mha": mha_bytes().replace(b"CompressedData = False",
                                                b"CompressedData = True")
        .replace(b"= LOCAL\n", b"= LOCAL\0"),  # std::bad_alloc in ITK
        "nan_srow.nii": nifti_bytes(srow_x=[0.0, 0.0, 0.0, 0.0],
                                    srow_y=[0.0, float("nan"), 0.0, 0.0]),  # hung ITK's SVD
        "nan_vox_offset.nii": nifti_bytes(vox_offset=float("nan")),
        "zero_dim.nii": nifti_bytes(dim=[3, 8, 0, 4, 1, 1, 1, 1]),
        "palette_no_lut.dcm": dicom_bytes(PhotometricInterpretation="PALETTE COLOR"),
        "huge_rescale.dcm": dicom_bytes(RescaleIntercept=1e38),  # OverflowError; loads now
        "empty_columns.dcm": dcm.replace(columns + b"\x02\x00\x10\x00", columns + b"\0\0"),
        "length_bomb.dcm": dcm[:pixel_tag] + length_bomb + dcm[pixel_tag:],
        "two_syntaxes.dcm": dcm.replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2\\1\0"),
        "unknown_syntax.dcm": dcm.replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.9.9.9\0"),
    }


def main() -> int:
    for name, data in {**corpus(), **fuzzer_finds()}.items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
