"""`fusionviewer info PATH [--json]` on rasters, volumes and DICOM folders, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import SimpleITK as sitk
from PIL import Image as PILImage

from harvard_data import REPO
from fusionviewer.cli import main
from fusionviewer.io.synthetic import write_series


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["info", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_png_text(ct_mri_pair, capsys):
    code, out, _ = _run(capsys, ct_mri_pair[0], "--modality", "CT")
    assert code == 0
    assert "modality:  CT" in out
    assert "256 x 256 x 1 voxels (2-D, uint8)" in out
    assert "spacing:   1 x 1 x 1 mm" in out


def test_info_json_volume(ct_mri_pair, tmp_path, capsys):
    arr = np.stack([np.asarray(PILImage.open(ct_mri_pair[1]))] * 4)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.5, 0.6, 3.0))
    sitk.WriteImage(img, str(tmp_path / "v.nii.gz"))
    code, out, _ = _run(capsys, tmp_path / "v.nii.gz", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["size"] == [256, 256, 4]
    assert info["spacing"] == [0.5, 0.6, 3.0]
    assert info["modality"] == "OT" and info["dtype"] == "uint8"
    assert info["max"] == float(arr.max())


def test_info_dicom_folder_with_two_series(ct_mri_pair, tmp_path, capsys):
    ct = np.asarray(PILImage.open(ct_mri_pair[0]))[np.newaxis].astype(np.uint16)
    write_series(np.repeat(ct, 3, axis=0), tmp_path / "s" / "ct", modality="CT",
                 series_number=1, description="head CT", slice_spacing=2.5)
    write_series(np.repeat(ct, 2, axis=0), tmp_path / "s" / "mr", modality="MR",
                 series_number=2)
    code, out, _ = _run(capsys, tmp_path / "s")
    assert code == 0
    assert "series:    2" in out and "CT 'head CT'  3 file(s), 256x256x3" in out
    assert "choose one with --series" in out
    code, out, _ = _run(capsys, tmp_path / "s", "--json")
    info = json.loads(out)
    uid = info["series"][0]["uid"]
    code, out, _ = _run(capsys, tmp_path / "s", "--series", uid, "--json")
    info = json.loads(out)
    assert code == 0 and info["modality"] == "CT" and info["size"] == [256, 256, 3]
    assert info["spacing"][2] == 2.5 and info["series_uid"] == uid


def test_info_errors_exit_2_with_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, tmp_path / "missing.png")
    assert code == 2
    assert err.strip() == f"fusionviewer: error: {tmp_path / 'missing.png'}: path does not exist"
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, tmp_path / "empty")
    assert code == 2 and "empty folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "x.png").write_text("not a png")
    code, _, err = _run(capsys, tmp_path / "x.png")
    assert code == 2 and "not a readable image" in err and "Traceback" not in err


def test_info_as_a_process(ct_mri_pair):
    proc = subprocess.run([sys.executable, "-m", "fusionviewer", "info", str(ct_mri_pair[0]),
                           "--json"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["size"] == [256, 256, 1]
