"""Every crafted file of tests/corpus loads to its exact InputError (or, if valid, to an Image)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from fusionviewer.errors import InputError
from fusionviewer.io import load_image

CORPUS = Path(__file__).resolve().parent / "corpus"
REPO = CORPUS.parent.parent
PIXELS = "corrupt or truncated DICOM pixel data: Rows x Columns declare"
VOLUME = "corrupt or truncated image data: header declares"
HEADER = "corrupt header:"
NOT_IMAGE = "do not describe an image"
BOMB = f"{VOLUME} 30000x30000 float32 (3.4 GiB) but the file holds"

EXPECTED = {
    "bomb.nii": f"{BOMB} 1.0 KiB of data",
    "bomb.nii.gz": f"{BOMB} 72 B compressed (at most 73 KiB once decompressed)",
    "bomb_ratio_ok.nii.gz": f"{VOLUME} 64x64 float32 (16 KiB) but the file holds "
                            "1.0 KiB of data",
    "bomb.mha": f"{BOMB} 64 B of data",
    "bomb.nrrd": f"{BOMB} 64 B of data",
    "bomb.mhd": f"{BOMB} 64 B of data",
    "missing_raw.mhd": "the data file missing.raw named by the header does not exist",
    "bomb.dcm": f"{PIXELS} 30000x30000, 1 frame(s) of 16 bits (1.7 GiB) but PixelData holds 512 B",
    "bomb_jpeg2000.dcm": f"{PIXELS} 30000x30000, 1 frame(s) of 16 bits (1.7 GiB) but the "
                         "compressed PixelData holds 84 B (over 1000:1)",
    "truncated.dcm": f"{PIXELS} 16x16, 1 frame(s) of 16 bits (512 B) but PixelData holds 312 B",
    "truncated.nii": f"{VOLUME} 8x8x4 float32 (1.0 KiB) but the file holds 348 B of data",
    "truncated.mha": f"{VOLUME} 8x8x4 float32 (1.0 KiB) but the file holds 924 B of data",
    "truncated.png": "corrupt or truncated image file (image file is truncated)",
    "zero_iop.dcm": "ImageOrientationPatient 0\\0\\0\\0\\0\\0 is degenerate (row and column "
                    "cosines must be non-zero and not parallel)",
    "parallel_iop.dcm": "ImageOrientationPatient 1\\0\\0\\1\\0\\0 is degenerate (row and column "
                        "cosines must be non-zero and not parallel)",
    "nan_position.dcm": "ImagePositionPatient nan\\0\\0 is not finite",
    "nan_orientation.dcm": "ImageOrientationPatient 1\\0\\0\\0\\nan\\0 is not finite",
    "zero_spacing.dcm": "PixelSpacing 0\\0 mm is not positive",
    "negative_spacing.dcm": "PixelSpacing -0.5\\0.5 mm is not positive",
    "zero_thickness.dcm": "SliceThickness 0 mm is not positive",
    "nan_origin.nii": f"{HEADER} the qform (quatern_b/c/d, qoffset_x/y/z, pixdim) holds NaN or "
                      "infinite values",
    "nan_srow.nii": f"{HEADER} the sform (srow_x/y/z) holds NaN or infinite values",
    "zero_pixdim.nii": "voxel size (pixdim) 0 x 0 x 0 mm is not positive",
    "zero_direction.mha": "direction cosines are degenerate (a zero-length or parallel axis)",
    "parallel_direction.mha": "direction cosines are degenerate (a zero-length or parallel axis)",
    "zero_spacing.nrrd": "spacing 0 x 1 x 1 mm is not positive and finite",
    "sheared.mha": "direction cosines are not orthonormal (error 0.5 > 0.1)",
    # crashes the fuzzer found (tests/test_fuzz.py), reduced by make_corpus.fuzzer_finds
    "ndims_negative.mha": f"{HEADER} NDims/DimSize/ElementNumberOfChannels {NOT_IMAGE}",
    "zero_dims.mha": f"{HEADER} NDims/DimSize/ElementNumberOfChannels {NOT_IMAGE}",
    "list_compressed.mha": "the data files listed by the header do not exist",
    "nul_datafile.mha": f"{HEADER} ElementDataFile is not a file name",
    "nan_vox_offset.nii": f"{HEADER} vox_offset nan is not a byte offset",
    "zero_dim.nii": f"{HEADER} voxel data of shape (8, 0, 4) does not match the image size "
                    "(8, 1, 4)",
    "palette_no_lut.dcm": "cannot apply the palette colour table (No suitable Palette Color "
                          "Lookup Table Module found)",
    "empty_columns.dcm": "DICOM attribute Columns is empty",
    "length_bomb.dcm": "DICOM file has no pixel data (truncated?)",
    "two_syntaxes.dcm": "corrupt or truncated DICOM pixel data (A UID must be created from a "
                        "string)",
    "unknown_syntax.dcm": "corrupt or truncated DICOM pixel data (Unable to decode the pixel "
                          "data as a (0002,0010) 'Transfer Syntax UID' value of "
                          "'1.2.840.10008.9.9.9' is not supported)",
}
LOADS = {"slightly_skewed.mha", "skewed.mha", "huge_rescale.dcm"}


def test_corpus_is_complete_and_tiny():
    files = {p.name for p in CORPUS.iterdir() if p.name not in ("make_corpus.py", "__pycache__")}
    assert files == set(EXPECTED) | LOADS | {"bomb.raw"}
    assert max((CORPUS / name).stat().st_size for name in files) < 4096


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gives_its_input_error(name, capfd):
    path = CORPUS / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Python warning may reach the user
        with pytest.raises(InputError) as info:
            load_image(path)
    assert str(info.value) == f"{path}: {EXPECTED[name]}"
    assert info.value.path == str(path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing from ITK/VNL/niftilib/GDCM leaks to the terminal


def test_huge_rescale_intercept_loads_as_float():
    image = load_image(CORPUS / "huge_rescale.dcm")  # was an OverflowError (int64 path)
    assert image.array.dtype == np.float32 and float(image.array.max()) == pytest.approx(1e38)


@pytest.mark.parametrize("name, skew, noted", [("slightly_skewed.mha", 4e-4, False),
                                               ("skewed.mha", 0.02, True)])
def test_skewed_direction_is_reorthonormalised(name, skew, noted):
    image = load_image(CORPUS / name)
    d = np.reshape(image.direction, (3, 3))
    assert np.allclose(d.T @ d, np.eye(3), atol=1e-9)
    assert np.allclose(d, np.eye(3), atol=skew) and not np.allclose(d, np.eye(3), atol=1e-6)
    assert ("re-orthonormalised" in image.provenance.description) == noted


@pytest.mark.parametrize("name", ["bomb.nii", "bomb.nii.gz", "bomb.mha", "bomb.mhd", "bomb.nrrd",
                                  "bomb.dcm", "bomb_jpeg2000.dcm"])
def test_memory_bomb_fails_fast_and_small(name):
    code = textwrap.dedent(f"""
        import resource, time
        import nibabel, pydicom, SimpleITK  # imported up front: only the load itself is timed
        from fusionviewer.io import load_image
        from fusionviewer.errors import InputError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        try:
            load_image({str(CORPUS / name)!r})
        except InputError:
            pass
        print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=120, check=True).stdout.split()
    seconds, grown_kib = float(out[0]), int(out[1])
    assert seconds < 1.0
    assert grown_kib < 100 * 1024  # peak RSS grows by under 100 MiB (the data would be 1.7+ GiB)


@pytest.mark.parametrize("changes, message", [
    ({"PixelSpacing": [0.0, 0.0]}, "PixelSpacing 0\\0 mm is not positive"),
    ({"ImageOrientationPatient": [0.0] * 6}, "ImageOrientationPatient 0\\0\\0\\0\\0\\0 is "
     "degenerate (row and column cosines must be non-zero and not parallel)"),
])
def test_series_folder_with_bad_geometry_names_the_folder(tmp_path, changes, message):
    sys.path.insert(0, str(CORPUS))
    from make_corpus import UID, dicom_bytes

    for k in range(3):
        data = dicom_bytes(SOPInstanceUID=f"{UID}.9.{k}", InstanceNumber=k + 1,
                           ImagePositionPatient=[0.0, 0.0, 2.0 * k], **changes)
        (tmp_path / f"IM_{k}.dcm").write_bytes(data)
    with pytest.raises(InputError) as info:
        load_image(tmp_path)
    assert str(info.value) == f"{tmp_path}: {message}"


@pytest.mark.parametrize("field, value, message", [
    ("origin", (float("nan"), 0.0, 0.0), "origin (nan, 0, 0) mm is not finite"),
    ("spacing", (1.0, float("inf"), 1.0), "spacing 1 x inf x 1 mm is not positive and finite"),
    ("direction", (1.0, 0, 0, 0, 1, 0, 0, 0, float("nan")), "direction cosines (1, 0, 0, 0, 1, 0, "
     "0, 0, nan) are not finite"),
])
def test_check_geometry_names_the_file(field, value, message):
    from fusionviewer.image import Image, check_geometry

    image = Image(np.zeros((2, 3, 4), np.float32), **{field: value})
    with pytest.raises(InputError) as info:
        check_geometry(image, "scan.nii")
    assert str(info.value) == f"scan.nii: {message}"


# Fuzzer finds on the real samples (too big for the corpus): one byte turns a length field into
# gigabytes, which pydicom / Pillow tried to allocate (MemoryError under a memory limit).
@pytest.mark.parametrize("sample, offset, value", [
    ("ct-mri/ct/34014.png", 52, 42),
    ("dicom/ct-mri-34/ct/IM_0001.dcm", 164, 0),
])
def test_length_fields_claiming_gigabytes_load_under_a_memory_limit(tmp_path, sample, offset,
                                                                     value):
    data = bytearray((REPO / "resources" / "samples" / sample).read_bytes())
    data[offset] = value
    path = tmp_path / f"case{Path(sample).suffix}"
    path.write_bytes(data)
    code = textwrap.dedent(f"""
        import resource
        import nibabel, pydicom, SimpleITK, PIL.Image
        from fusionviewer.io import load_image
        from fusionviewer.errors import InputError
        vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize"))
        limit = vm * 1024 + (512 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            load_image({str(path)!r})
        except InputError as exc:
            print("InputError", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.stdout.startswith("InputError") and "MemoryError" not in out.stdout, out
