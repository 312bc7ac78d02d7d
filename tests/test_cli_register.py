"""``fusionviewer register``: real Harvard CT/MRI pair, PNG and NIfTI outputs, bad input exit 2."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image as PILImage

from harvard_data import REPO, harvard_pair_paths
from fusionviewer.cli import main
from fusionviewer.registration import load_transform

KNOWN = sitk.Euler2DTransform((127.5, 127.5), np.deg2rad(8.0), (6.0, -4.0))


@pytest.fixture
def moved_pair(tmp_path):
    """(CT path, moved MRI PNG path, original MRI array) of pair 34012."""
    ct_path, mr_path = harvard_pair_paths("ct-mri", "34012.png")
    mr = np.asarray(PILImage.open(mr_path))
    img = sitk.GetImageFromArray(mr.astype(np.float32))
    moved = sitk.GetArrayFromImage(sitk.Resample(img, img, KNOWN, sitk.sitkLinear, 0.0))
    moved_path = tmp_path / "moved_mri.png"
    PILImage.fromarray(np.clip(np.rint(moved), 0, 255).astype(np.uint8)).save(moved_path)
    return ct_path, moved_path, mr


def test_register_png_with_transform(moved_pair, tmp_path, capsys):
    ct_path, moved_path, mr = moved_pair
    out, tfm = tmp_path / "out" / "registered.png", tmp_path / "t.tfm"
    rc = main(["register", str(ct_path), str(moved_path), "-o", str(out),
               "--save-transform", str(tfm), "--no-progress"])
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    reg = np.asarray(PILImage.open(out))
    assert reg.shape == (256, 256) and reg.dtype == np.uint8
    moved = np.asarray(PILImage.open(moved_path)).astype(float)
    head = mr > 20
    assert np.abs(reg[head] - mr[head].astype(float)).mean() < \
        0.5 * np.abs(moved[head] - mr[head]).mean()
    tx = load_transform(tfm)
    ys, xs = np.nonzero(head)
    pts = np.stack([xs, ys], 1).astype(float)
    back = np.array([KNOWN.TransformPoint(tx.TransformPoint(tuple(p))) for p in pts])
    assert np.linalg.norm(back - pts, axis=1).mean() < 1.0


def test_register_nifti_affine_moments(moved_pair, tmp_path):
    ct_path, moved_path, _ = moved_pair
    out, tfm = tmp_path / "registered.nii.gz", tmp_path / "a.tfm"
    rc = main(["register", str(ct_path), str(moved_path), "-o", str(out), "--transform",
               "affine", "--init", "moments", "--save-transform", str(tfm), "--no-progress"])
    assert rc == 0
    img = sitk.ReadImage(str(out))
    assert img.GetSize()[:2] == (256, 256)
    assert "AffineTransform" in tfm.read_text()


def test_existing_output_needs_force(moved_pair, tmp_path, capsys):
    ct_path, moved_path, _ = moved_pair
    out = tmp_path / "r.png"
    out.write_bytes(b"keep me")
    rc = main(["register", str(ct_path), str(moved_path), "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "exists" in err and str(out) in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"keep me"
    assert main(["register", str(ct_path), str(moved_path), "-o", str(out), "--force",
                 "--no-progress"]) == 0
    assert np.asarray(PILImage.open(out)).shape == (256, 256)


@pytest.mark.parametrize("case", ["missing", "suffix", "not_image", "dims", "tfm_suffix",
                                  "modality"])
def test_bad_input_exits_2_with_one_line(moved_pair, tmp_path, capsys, case):
    ct_path, moved_path, _ = moved_pair
    fixed, moving, out, extra = str(ct_path), str(moved_path), str(tmp_path / "o.png"), []
    if case == "missing":
        moving, expect = str(tmp_path / "nope.png"), "nope.png"
    elif case == "suffix":
        out, expect = str(tmp_path / "o.jpg"), "unsupported output suffix"
    elif case == "not_image":
        bad = tmp_path / "notes.png"
        bad.write_text("hello")
        moving, expect = str(bad), "notes.png"
    elif case == "dims":
        vol = sitk.GetImageFromArray(np.zeros((6, 32, 32), np.float32))
        sitk.WriteImage(vol, str(tmp_path / "vol.nii.gz"))
        moving, expect = str(tmp_path / "vol.nii.gz"), "3-D volume"
    elif case == "tfm_suffix":
        extra, expect = ["--save-transform", str(tmp_path / "t.txt")], ".tfm"
    else:
        extra, expect = ["--modality", "CT,XYZ"], "XYZ"
    rc = main(["register", fixed, moving, "-o", out, "--no-progress", *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert expect in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_subprocess_exit_code(tmp_path):
    ct_path, _ = harvard_pair_paths("ct-mri", "34012.png")
    proc = subprocess.run([sys.executable, "-m", "fusionviewer", "register", str(ct_path),
                           str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert "missing.png" in proc.stderr and "Traceback" not in proc.stderr
