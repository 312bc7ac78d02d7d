"""Bad input to ``fusionviewer fuse``: exit 2 and one line naming the file, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from fusionviewer.cli import main
from fusionviewer.io.synthetic import write_series

from harvard_data import REPO, read_gray_u8


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1, err
    return lines[0]


def _run(capsys, *args) -> str:
    assert main(["fuse", *map(str, args), "--method", "average", "--no-progress"]) == 2
    return _error_line(capsys)


@pytest.fixture
def good(ct_mri_pair):
    return ct_mri_pair[1]


def test_missing_path(good, tmp_path, capsys):
    line = _run(capsys, good, tmp_path / "nothere.png", "-o", tmp_path / "o.png")
    assert "nothere.png" in line and ("not exist" in line or "not found" in line)


def test_non_image_file(good, tmp_path, capsys):
    txt = tmp_path / "notes.txt"
    txt.write_text("this is not an image\n" * 20)
    line = _run(capsys, good, txt, "-o", tmp_path / "o.png")
    assert "notes.txt" in line


def test_corrupt_png(good, tmp_path, capsys):
    bad = tmp_path / "cut.png"
    bad.write_bytes(good.read_bytes()[:300])
    line = _run(capsys, good, bad, "-o", tmp_path / "o.png")
    assert "cut.png" in line


def test_truncated_dicom(tmp_path, good, capsys):
    files = write_series(read_gray_u8(good)[np.newaxis], tmp_path / "dcm", modality="MR")
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])
    line = _run(capsys, good, files[0], "-o", tmp_path / "o.png")
    assert files[0].name in line


def test_empty_folder(good, tmp_path, capsys):
    empty = tmp_path / "emptydir"
    empty.mkdir()
    line = _run(capsys, good, empty, "-o", tmp_path / "o.png")
    assert "emptydir" in line


def test_multi_series_folder_without_choice(good, tmp_path, capsys):
    img = read_gray_u8(good)[np.newaxis]
    folder = tmp_path / "two_series"
    write_series(img, folder, modality="MR", prefix="A")
    write_series(img, folder, modality="CT", prefix="B")
    line = _run(capsys, good, folder, "-o", tmp_path / "o.png")
    assert "two_series" in line and "series" in line


def test_four_d_nifti(good, tmp_path, capsys):
    import nibabel as nib

    path = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 4, 3), dtype=np.float32), np.eye(4)), path)
    line = _run(capsys, good, path, "-o", tmp_path / "o.png")
    assert "fmri.nii.gz" in line


def test_nan_voxels(good, tmp_path, capsys):
    import nibabel as nib

    data = np.ones((256, 256, 1), dtype=np.float32)
    data[5, 5, 0] = np.nan
    path = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    line = _run(capsys, good, path, "-o", tmp_path / "o.nii.gz")
    assert "nan.nii.gz" in line and "NaN" in line


def test_mismatched_sizes_without_registration(good, tmp_path, capsys):
    from PIL import Image as PILImage

    small = tmp_path / "small.png"
    PILImage.fromarray(read_gray_u8(good)[::2, ::2]).save(small)
    line = _run(capsys, good, small, "-o", tmp_path / "o.png")
    assert "small.png" in line and "mismatched sizes" in line and "--register rigid" in line


def test_fewer_than_two_inputs(good, tmp_path, capsys):
    line = _run(capsys, good, "-o", tmp_path / "o.png")
    assert "at least two" in line and good.name in line


def test_unknown_modality(ct_mri_pair, tmp_path, capsys):
    line = _run(capsys, *ct_mri_pair, "-o", tmp_path / "o.png", "--modality", "CT,XRAY")
    assert "XRAY" in line and "modality" in line and str(ct_mri_pair[1]) in line


def test_existing_output_without_force(ct_mri_pair, tmp_path, capsys):
    out = tmp_path / "exists.png"
    out.write_bytes(b"keep me")
    line = _run(capsys, *ct_mri_pair, "-o", out)
    assert "exists.png" in line and "--force" in line
    assert out.read_bytes() == b"keep me"


def test_existing_dicom_folder_without_force(ct_mri_pair, tmp_path, capsys):
    out = tmp_path / "dcm"
    out.mkdir()
    (out / "old.dcm").write_bytes(b"x")
    line = _run(capsys, *ct_mri_pair, "-o", out, "--format", "dicom")
    assert "dcm" in line and "--force" in line


def test_unknown_output_suffix(ct_mri_pair, tmp_path, capsys):
    line = _run(capsys, *ct_mri_pair, "-o", tmp_path / "out.bmp")
    assert "out.bmp" in line


def test_never_writes_into_a_source_file(ct_mri_pair, tmp_path, capsys):
    src = tmp_path / "src.png"
    shutil.copy(ct_mri_pair[0], src)
    before = src.read_bytes()
    line = _run(capsys, src, ct_mri_pair[1], "-o", src, "--force")
    assert "src.png" in line and src.read_bytes() == before


def test_real_process_exit_code_and_single_line(good, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fusionviewer", "fuse", str(good),
                           str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "missing.png" in errors[0]
