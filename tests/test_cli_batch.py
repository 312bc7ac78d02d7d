"""``fusionviewer batch``: pairing by name, outputs per pair, CSV summary, failures listed."""

from __future__ import annotations

import csv
import shutil

import numpy as np
from PIL import Image as PILImage

from fusionviewer.cli import main

from harvard_data import harvard_pair_paths, harvard_rows


def _dirs(tmp_path, task, n):
    names = [r["name"] for r in harvard_rows(task, "val")[:n]]
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for name in names:
        pa, pb = harvard_pair_paths(task, name)
        shutil.copy(pa, a / name)
        shutil.copy(pb, b / name)
    return names, a, b


def test_batch_png_with_a_failing_pair(tmp_path, capsys):
    names, a, b = _dirs(tmp_path, "spect-mri", 3)
    (a / "zz_bad.png").write_text("not an image")
    (b / "zz_bad.png").write_text("not an image either")
    out = tmp_path / "out"
    assert main(["batch", str(a), str(b), "-o", str(out), "--method", "gff"]) == 0
    captured = capsys.readouterr()
    assert "fused 3 of 4" in captured.out
    assert "zz_bad.png" in captured.err and "failed" in captured.err
    for name in names:
        assert np.asarray(PILImage.open(out / name)).shape == (256, 256, 3)
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert rows["zz_bad.png"]["status"] == "failed" and rows["zz_bad.png"]["message"]
    assert all(rows[n]["status"] == "ok" and rows[n]["method"] == "gff" for n in names)
    assert "100%" in captured.err


def test_batch_three_folders_nifti_and_metrics(tmp_path, capsys):
    names, a, b = _dirs(tmp_path, "ct-mri", 2)
    c = tmp_path / "c"
    shutil.copytree(a, c)
    out = tmp_path / "out"
    assert main(["batch", str(a), str(b), str(c), "-o", str(out), "--method", "average",
                 "--format", "nifti", "--metrics", "--no-progress"]) == 0
    for name in names:
        assert (out / (name[:-4] + ".nii.gz")).is_file()
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(float(r["Qabf"]) > 0 for r in rows)


def test_batch_refuses_existing_summary_without_force(tmp_path, capsys):
    _, a, b = _dirs(tmp_path, "ct-mri", 1)
    out = tmp_path / "out"
    assert main(["batch", str(a), str(b), "-o", str(out), "--method", "average",
                 "--no-progress"]) == 0
    assert main(["batch", str(a), str(b), "-o", str(out), "--method", "average",
                 "--no-progress"]) == 2
    assert "summary.csv" in capsys.readouterr().err
    assert main(["batch", str(a), str(b), "-o", str(out), "--method", "average", "--force",
                 "--no-progress"]) == 0


def test_batch_bad_folders(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    _, a, _ = _dirs(tmp_path, "ct-mri", 1)
    assert main(["batch", str(a), str(empty), "-o", str(tmp_path / "o")]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["batch", str(a), str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["batch", str(a), "-o", str(tmp_path / "o")]) == 2
    assert "at least two" in capsys.readouterr().err


def test_batch_refuses_a_source_folder_as_output(tmp_path, capsys):
    names, a, b = _dirs(tmp_path, "ct-mri", 1)
    before = (a / names[0]).read_bytes()
    assert main(["batch", str(a), str(b), "-o", str(a), "--force", "--no-progress"]) == 2
    assert "source folders" in capsys.readouterr().err
    assert (a / names[0]).read_bytes() == before and not (a / "summary.csv").exists()
