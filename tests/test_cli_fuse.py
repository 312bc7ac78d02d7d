"""``fusionviewer fuse``: formats, methods, registration, metrics, --force, progress bar."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image as PILImage

import fusionviewer.fusion as fusion
from fusionviewer.cli import main
from fusionviewer.errors import ModelError

from harvard_data import REPO, read_gray_u8


def _fuse(*args: str) -> int:
    return main(["fuse", *map(str, args)])


def test_fuse_png_gff_matches_the_method(ct_mri_pair, tmp_path, capsys):
    out = tmp_path / "fused.png"
    assert _fuse(*ct_mri_pair, "-o", out, "--method", "gff") == 0
    got = np.asarray(PILImage.open(out))
    a, b = (read_gray_u8(p) / 255.0 for p in ct_mri_pair)
    expected = np.rint(fusion.get_method("gff")([a, b]) * 255)
    assert got.shape == (256, 256) and np.abs(got - expected).max() <= 1
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out
    assert "100%" in captured.err  # the tqdm bar on stderr


@pytest.mark.parametrize("method", ["average", "laplacian", "gff"])
def test_every_classical_method(method, pet_mri_pair, tmp_path):
    out = tmp_path / f"{method}.png"
    assert _fuse(*pet_mri_pair, "-o", out, "--method", method, "--no-progress") == 0
    assert np.asarray(PILImage.open(out)).shape == (256, 256, 3)  # colour PET in, colour out


def test_nifti_and_dicom_outputs(ct_mri_pair, tmp_path):
    import pydicom
    import SimpleITK as sitk

    assert _fuse(*ct_mri_pair, "-o", tmp_path / "f.nii.gz", "--method", "average") == 0
    img = sitk.ReadImage(str(tmp_path / "f.nii.gz"))
    assert img.GetSize()[:2] == (256, 256)
    assert _fuse(*ct_mri_pair, "-o", tmp_path / "dcm", "--format", "dicom", "--method",
                 "average", "--modality", "CT,MR") == 0
    files = sorted((tmp_path / "dcm").iterdir())
    ds = pydicom.dcmread(files[0])
    assert "DERIVED" in ds.ImageType and "average" in ds.DerivationDescription


def test_default_method_is_cnn_with_visible_fallback(ct_mri_pair, tmp_path, capsys,
                                                    monkeypatch):
    def broken(images, **kw):
        raise ModelError("weights missing")

    monkeypatch.setitem(fusion._METHODS, "cnn", broken)
    assert _fuse(*ct_mri_pair, "-o", tmp_path / "f.png", "--no-progress") == 0
    captured = capsys.readouterr()
    assert "notice" in captured.err and "weights missing" in captured.err
    assert "(gff," in captured.out


def test_cnn_options_reach_the_method(ct_mri_pair, tmp_path, monkeypatch):
    seen = {}

    def fake(images, **kw):
        seen.update(kw)
        return fusion.get_method("average")(images)

    monkeypatch.setitem(fusion._METHODS, "cnn", fake)
    assert _fuse(*ct_mri_pair, "-o", tmp_path / "f.png", "--block-size", "64", "--device",
                 "cpu", "--method", "cnn", "--no-progress") == 0
    assert seen["block_size"] == 64 and seen["device"] == "cpu"


def test_register_and_fixed(ct_mri_pair, tmp_path):
    # the second source as the fixed one: output has its grid; registration runs
    out = tmp_path / "reg.png"
    assert _fuse(*ct_mri_pair, "-o", out, "--method", "average", "--register", "rigid",
                 "--fixed", "2", "--no-progress") == 0
    assert np.asarray(PILImage.open(out)).shape == (256, 256)


def test_metrics_json_on_stdout(pet_mri_pair, tmp_path, capsys):
    assert _fuse(*pet_mri_pair, "-o", tmp_path / "f.png", "--method", "average", "--metrics",
                 "--modality", "MR,PET", "--no-progress") == 0
    out = capsys.readouterr().out
    metrics = json.loads(out[out.index("{"):])
    assert {"MI", "Qabf", "VIF", "SSIM", "CClow", "MI_MR", "MI_PT"} <= set(metrics)


def test_force_overwrites(ct_mri_pair, tmp_path, capsys):
    out = tmp_path / "f.png"
    assert _fuse(*ct_mri_pair, "-o", out, "--method", "average", "--no-progress") == 0
    first = out.read_bytes()
    assert _fuse(*ct_mri_pair, "-o", out, "--method", "average", "--no-progress") == 2
    assert out.read_bytes() == first
    assert _fuse(*ct_mri_pair, "-o", out, "--method", "laplacian", "--force",
                 "--no-progress") == 0
    assert out.read_bytes() != first


def test_console_entry_point(ct_mri_pair, tmp_path):
    out = tmp_path / "f.png"
    proc = subprocess.run([sys.executable, "-m", "fusionviewer", "fuse", *map(str, ct_mri_pair),
                           "-o", str(out), "--method", "average"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()


def test_volume_to_png_single_and_folder(tmp_path, capsys):
    from fusionviewer.paths import samples_dir

    folder = samples_dir() / "nifti" / "ct-mri-34"
    srcs = [folder / "ct.nii.gz", folder / "mr.nii.gz"]
    assert _fuse(*srcs, "-o", tmp_path / "mid.png", "--method", "average", "--no-progress") == 0
    assert "middle one" in capsys.readouterr().err
    assert _fuse(*srcs, "-o", tmp_path / "all", "--format", "png", "--method", "average",
                 "--no-progress") == 0
    slices = sorted((tmp_path / "all").glob("*.png"))
    assert len(slices) == 8
    middle = np.asarray(PILImage.open(tmp_path / "mid.png"))
    assert any(np.array_equal(middle, np.asarray(PILImage.open(p))) for p in slices)
