"""The quality report on the command line: ``register --json``, ``warning:`` lines for doubtful
or failed registrations, exit 2 for sources that do not overlap, the batch summary column."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import SimpleITK as sitk

from fusionviewer.cli import main
from fusionviewer.registration import load_transform
from real3d_cases import mean_error, moved_copy, real_volume, volume_points


def _nifti(image, path):
    img = sitk.GetImageFromArray(np.asarray(image.array, dtype=np.float32))
    img.SetSpacing(image.spacing)
    img.SetOrigin(image.origin)
    img.SetDirection(image.direction)
    sitk.WriteImage(img, str(path))
    return path


def test_register_json_reports_a_good_verdict_and_the_transform(tmp_path, capsys):
    ct = real_volume("CT")
    moved, known = moved_copy(ct, (0.0, 180.0, 0.0), (20.0, 0.0, -20.0))
    fixed_p, moving_p = _nifti(ct, tmp_path / "ct.nii.gz"), _nifti(moved, tmp_path / "m.nii.gz")
    tfm = tmp_path / "t.tfm"
    rc = main(["register", str(fixed_p), str(moving_p), "-o", str(tmp_path / "out.nii.gz"),
               "--save-transform", str(tfm), "--json", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    data = json.loads(out)
    rep = data["report"]
    assert rep["verdict"] == "good" and rep["start"] == "orientation search (48 starts)"
    assert rep["metric_end"] < rep["metric_start"] and rep["overlap_end"] > 0.95
    assert rep["final_iterations"] < rep["iteration_cap"] and rep["clear_win"] is True
    assert "warning:" not in err
    # the written .tfm is the found fixed->moving transform
    assert mean_error(known, load_transform(tfm), volume_points(ct)) < 1.0


def test_sources_without_overlap_exit_2(tmp_path, capsys):
    mr = real_volume("MR_T2")
    far = dataclasses.replace(mr, array=mr.array[20:28],
                              origin=(mr.origin[0], mr.origin[1], 900.0))
    fixed_p, moving_p = _nifti(mr, tmp_path / "mr.nii.gz"), _nifti(far, tmp_path / "slab.nii.gz")
    rc = main(["register", str(fixed_p), str(moving_p), "-o", str(tmp_path / "o.nii.gz"),
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "do not overlap in patient space" in err and "slab.nii.gz" in err
    assert not (tmp_path / "o.nii.gz").exists()
    rc = main(["fuse", str(fixed_p), str(moving_p), "-o", str(tmp_path / "f.nii.gz"),
               "--register", "rigid", "--method", "average", "--no-progress"])
    assert rc == 2 and "do not overlap" in capsys.readouterr().err


def test_rejected_affine_prints_warnings_and_keeps_rigid(tmp_path, capsys):
    ct = real_volume("CT")
    shrunk = dataclasses.replace(ct, spacing=tuple(0.6 * s for s in ct.spacing))
    fixed_p, moving_p = _nifti(ct, tmp_path / "ct.nii.gz"), _nifti(shrunk, tmp_path / "s.nii.gz")
    rc = main(["register", str(fixed_p), str(moving_p), "-o", str(tmp_path / "o.nii.gz"),
               "--transform", "affine", "--json", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0
    rep = json.loads(out)["report"]
    assert rep["transform"] == "rigid" and rep["affine_rejected"] and rep["verdict"] == "doubtful"
    lines = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert any("affine result rejected" in ln for ln in lines)
    assert any("is doubtful" in ln for ln in lines)


def test_fuse_warns_and_batch_records_the_verdicts(tmp_path, capsys):
    mr = real_volume("MR_T2")
    moved, _ = moved_copy(mr, (0.0, 0.0, 90.0), (10.0, 0.0, 0.0))
    rng = np.random.default_rng(5)
    noise = dataclasses.replace(mr, array=rng.normal(100, 30, mr.shape).astype(np.float32))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    _nifti(mr, a / "good.nii.gz"), _nifti(moved, b / "good.nii.gz")
    _nifti(mr, a / "noise.nii.gz"), _nifti(noise, b / "noise.nii.gz")
    rc = main(["fuse", str(a / "noise.nii.gz"), str(b / "noise.nii.gz"), "-o",
               str(tmp_path / "f.nii.gz"), "--register", "rigid", "--method", "average",
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 0
    assert any(ln.startswith("warning: registration of noise.nii.gz onto noise.nii.gz is "
                             "failed") and "near zero" in ln for ln in err.splitlines()), err
    rc = main(["batch", str(a), str(b), "-o", str(tmp_path / "out"), "--register", "rigid",
               "--method", "average", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 0
    with open(tmp_path / "out" / "summary.csv", newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert rows["good.nii.gz"]["registration"] == "good"
    assert rows["noise.nii.gz"]["registration"] == "failed"
    assert any(ln.startswith("warning: noise.nii.gz: registration failed")
               for ln in err.splitlines())
