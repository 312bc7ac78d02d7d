"""``fusionviewer demo`` and ``fusionviewer --selftest`` on the bundled sample pairs."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from PIL import Image as PILImage

import fusionviewer.fusion as fusion
from fusionviewer.cli import main
from fusionviewer.pipeline import demo_pair
from fusionviewer.errors import ModelError


@pytest.fixture
def cnn_available(monkeypatch):
    """A stand-in CNN (the pixel average) so these tests do not depend on trained weights."""
    calls = []

    def fake(images, **kw):
        calls.append(len(images))
        return fusion.get_method("average")(images)

    monkeypatch.setitem(fusion._METHODS, "cnn", fake)
    return calls


@pytest.fixture
def cnn_missing(monkeypatch):
    def broken(images, **kw):
        raise ModelError("weights missing")

    monkeypatch.setitem(fusion._METHODS, "cnn", broken)


def test_bundled_pairs_are_found():
    for task, mods in (("pet-mri", ["MR", "PT"]), ("ct-mri", ["MR", "CT"]),
                       ("spect-mri", ["MR", "NM"])):
        files, modalities = demo_pair(task=task)
        assert modalities == mods and all(f.is_file() for f in files)
        assert files[0].name == files[1].name


def test_demo_writes_png_dicom_and_metrics(tmp_path, capsys, cnn_missing):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    png = np.asarray(PILImage.open(out / "fused.png"))
    assert png.shape == (256, 256, 3)  # default pair is PET-MRI: colour in, colour out
    dicoms = sorted((out / "fused_dicom").iterdir())
    ds = pydicom.dcmread(dicoms[0])
    assert ds.pixel_array.shape[:2] == (256, 256)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"MI", "Qabf", "VIF", "CClow"} <= set(metrics)
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == "metric,value" and len(rows) == len(metrics) + 1
    for name in ("fused.png", "metrics.json", "metrics.csv", "fused_dicom"):
        assert name in printed
    assert "weights missing" in printed and "gff" in printed  # the fallback is visible


def test_demo_uses_the_cnn_by_default(tmp_path, capsys, cnn_available):
    assert main(["demo", "--out", str(tmp_path / "d"), "--pair", "ct-mri",
                 "--no-progress"]) == 0
    assert cnn_available == [2]
    assert "with cnn" in capsys.readouterr().out


def test_demo_refuses_a_non_empty_folder_without_force(tmp_path, capsys, cnn_missing):
    out = tmp_path / "d"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["demo", "--out", str(out), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    assert not (out / "fused.png").exists()
    assert main(["demo", "--out", str(out), "--force", "--no-progress"]) == 0
    assert (out / "fused.png").is_file() and (out / "mine.txt").read_text() == "keep"


def test_selftest_ok_with_a_cnn(capsys, cnn_available):
    assert main(["--selftest"]) == 0
    out = capsys.readouterr().out
    assert "selftest OK" in out and "FAIL" not in out


def test_selftest_fails_without_cnn_weights(capsys, cnn_missing):
    assert main(["--selftest"]) == 1
    out = capsys.readouterr().out
    assert "FAIL CNN fusion" in out and "weights missing" in out
    assert out.strip().endswith("selftest FAIL")


def test_selftest_with_the_real_cnn_module(tmp_path, monkeypatch, capsys):
    """--selftest through the real inference code, on an untrained network of the right shape."""
    import torch

    from fusionviewer.fusion.model import PyramidFusionNet
    from fusionviewer.fusion.weights import write_checksum
    from fusionviewer.paths import resource_path

    root = tmp_path / "approot"
    (root / "models").mkdir(parents=True)
    (root / "resources").symlink_to(resource_path())
    net = PyramidFusionNet()
    torch.save({"config": net.config(), "state_dict": net.state_dict()},
               root / "models" / "fusion_cnn.pt")
    write_checksum(root / "models" / "fusion_cnn.pt")
    monkeypatch.setenv("FUSIONVIEWER_ROOT", str(root))
    assert main(["--selftest"]) == 0
    assert "OK   CNN fusion" in capsys.readouterr().out
