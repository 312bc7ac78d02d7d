"""``fusionviewer evaluate`` on PNG, NIfTI and DICOM inputs, and its input errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image as PILImage

from harvard_data import REPO, harvard_pair_paths, harvard_rows, read_gray_u8
from fusionviewer.cli import main
from fusionviewer.metrics import compute_metrics


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["evaluate", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _metrics_json(capsys, *argv: str) -> dict:
    rc, out, err = _run(capsys, *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


@pytest.fixture
def ct_mri_fused(tmp_path, ct_mri_pair):
    a, b = (read_gray_u8(p) for p in ct_mri_pair)
    f = np.rint((a.astype(np.float64) + b) / 2).astype(np.uint8)
    path = tmp_path / "fused.png"
    PILImage.fromarray(f).save(path)
    return path, a, b, f


def _assert_same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key, value in want.items():
        if np.isfinite(value):
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        else:
            assert got[key] == "inf", key


def test_png_json_matches_compute_metrics(capsys, ct_mri_fused, ct_mri_pair):
    path, a, b, f = ct_mri_fused
    res = _metrics_json(capsys, "--fused", path, "--sources", *ct_mri_pair, "--target",
                        ct_mri_pair[1], "--functional", "A")
    _assert_same(res["metrics"], compute_metrics(f, [a, b], b, functional=0))
    assert res["scale"]["fused"] == "8-bit as is" and res["functional_source"] == "A"


def test_png_with_rgb_pet_source(capsys, tmp_path, pet_mri_pair):
    mri, pet = pet_mri_pair
    a, b = read_gray_u8(mri), read_gray_u8(pet)
    assert np.asarray(PILImage.open(pet)).ndim == 3  # really a colour source
    f = np.maximum(a, b)
    PILImage.fromarray(f).save(tmp_path / "f.png")
    res = _metrics_json(capsys, "--fused", tmp_path / "f.png", "--sources", mri, pet,
                        "--functional", "2")
    _assert_same(res["metrics"], compute_metrics(f, [a, b], functional=1))


def test_table_output(capsys, ct_mri_fused, ct_mri_pair):
    path = ct_mri_fused[0]
    rc, out, _ = _run(capsys, "--fused", path, "--sources", *ct_mri_pair, "--target",
                      ct_mri_pair[1])
    assert rc == 0
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("EN (ENT, H, Entropy)"))
    value = float(row.split()[4])
    want = compute_metrics(ct_mri_fused[3], [ct_mri_fused[1], ct_mri_fused[2]])["EN"]
    assert value == pytest.approx(want, abs=5e-7)
    for key in ("VIF", "Qabf", "QE", "RMSE", "PSNR_R", "SSIM_R", "REL", "MI_A", "MI_B"):
        assert any(line.split()[0] == key for line in lines if line.strip()), key
    assert "CClow:    not reported" in out  # PNG has no modality and no --functional
    # the value column is right-aligned under its title: every value ends in the same column
    title = next(x for x in lines if x.startswith("metric"))
    end = title.index("value") + len("value")
    table = lines[lines.index(title) + 1:]
    assert len(table) >= 20
    assert all(row[end - 1] != " " and row[end] == " " for row in table)


def _write_nifti(path, arr) -> None:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.9, 0.9, 2.0))
    sitk.WriteImage(img, str(path))


def test_nifti_volume_with_float_fused(capsys, tmp_path, harvard):
    pairs = [harvard_pair_paths("ct-mri", row["name"]) for row in harvard_rows("ct-mri")[:2]]
    a = np.stack([read_gray_u8(p[0]) for p in pairs])
    b = np.stack([read_gray_u8(p[1]) for p in pairs])
    f01 = ((a.astype(np.float64) + b) / 510).astype(np.float32)  # a network-style [0, 1] output
    f01[0, 0, 0] = 0.0
    _write_nifti(tmp_path / "a.nii.gz", a)
    _write_nifti(tmp_path / "b.nii.gz", b)
    _write_nifti(tmp_path / "f.nii.gz", f01)
    res = _metrics_json(capsys, "--fused", tmp_path / "f.nii.gz", "--sources",
                        tmp_path / "a.nii.gz", tmp_path / "b.nii.gz", "--functional", "A")
    assert res["scale"] == {"fused": "[0, 1] x 255", "source A": "8-bit as is",
                            "source B": "8-bit as is"}
    assert res["num_slices"] == 2 and res["slices_with_signal"] == [0, 1]
    f255 = np.rint(f01.astype(np.float64) * 255)
    per = [compute_metrics(f255[k], [a[k], b[k]], functional=0) for k in range(2)]
    for key in ("EN", "MI", "VIF", "QE", "CClow"):
        assert res["metrics"][key] == pytest.approx((per[0][key] + per[1][key]) / 2, rel=1e-12)
        assert res["per_slice"][1][key] == pytest.approx(per[1][key], rel=1e-12)


def _write_dicom(path, arr, modality: str, rescale=(1.0, 0.0), window=None) -> None:
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    sop_class = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4",
                 "PT": "1.2.840.10008.5.1.4.1.1.128"}[modality]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Test^Metrics", "M1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.SliceThickness = 1
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = f"{rescale[0]:g}", f"{rescale[1]:g}"
    if window:
        ds.WindowCenter, ds.WindowWidth = f"{window[0]:g}", f"{window[1]:g}"
    ds.PixelData = np.ascontiguousarray(arr, dtype=np.uint16).tobytes()
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def test_dicom_sources_with_modality_and_window(capsys, tmp_path, ct_mri_pair):
    a, b = (read_gray_u8(p) for p in ct_mri_pair)
    # CT stored as HU = raw - 1000 with a window mapping exactly onto the 8-bit values
    _write_dicom(tmp_path / "ct.dcm", a.astype(np.uint16) * 4, "CT", rescale=(1, -1000),
                 window=(-1000 + 510, 1020))
    _write_dicom(tmp_path / "mr.dcm", b, "MR")
    f = np.rint((a.astype(np.float64) + b) / 2).astype(np.uint8)
    _write_dicom(tmp_path / "f.dcm", f, "MR")
    res = _metrics_json(capsys, "--fused", tmp_path / "f.dcm", "--sources", tmp_path / "ct.dcm",
                        tmp_path / "mr.dcm")
    assert res["functional_source"] == "A"  # found from the CT modality in the header
    assert res["scale"]["source A"].startswith("window")
    assert res["scale"]["source B"] == "8-bit as is"
    _assert_same(res["metrics"], compute_metrics(f, [a, b], functional=0))


@pytest.mark.parametrize("problem", ["missing", "size", "nan", "functional", "one source"])
def test_bad_inputs_give_one_line_errors(capsys, tmp_path, ct_mri_fused, ct_mri_pair, problem):
    fused = ct_mri_fused[0]
    sources = [str(p) for p in ct_mri_pair]
    extra: list[str] = []
    expect = ""
    if problem == "missing":
        sources[1] = str(tmp_path / "nope.png")
        expect = "nope.png"
    elif problem == "size":
        PILImage.fromarray(ct_mri_fused[1][:200]).save(tmp_path / "small.png")
        sources[0] = str(tmp_path / "small.png")
        expect = "small.png"
    elif problem == "nan":
        bad = np.ones((1, 256, 256), np.float32)
        bad[0, 5, 5] = np.nan
        _write_nifti(tmp_path / "nan.nii.gz", bad)
        sources[0] = str(tmp_path / "nan.nii.gz")
        expect = "nan.nii.gz"
    elif problem == "functional":
        extra = ["--functional", "C"]
        expect = "--functional"
    else:
        sources = sources[:1]
        expect = "two"
    rc, out, err = _run(capsys, "--fused", fused, "--sources", *sources, *extra)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert expect in err


def test_entry_point_runs_as_a_module(ct_mri_fused, ct_mri_pair):
    proc = subprocess.run([sys.executable, "-m", "fusionviewer", "evaluate", "--fused",
                           str(ct_mri_fused[0]), "--sources", *map(str, ct_mri_pair), "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["metrics"]["Qabf"] > 0
