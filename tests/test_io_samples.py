"""The bundled demo data loads as documented and matches the Harvard source slices."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image as PILImage

from harvard_data import HARVARD, harvard_rows
from fusionviewer.errors import InputError
from fusionviewer.io import list_series, load_image
from fusionviewer.paths import samples_dir

SAMPLES = samples_dir()
PAIRS = {"ct-mri": ("ct", "mri", "34014.png"), "pet-mri": ("mri", "pet", "30070.png"),
         "spect-mri": ("mri", "spect", "29015.png")}


def _atlas(folder: str) -> np.ndarray:
    return np.stack([np.asarray(PILImage.open(HARVARD / "ct-mri" / folder / f"340{k:02d}.png"))
                     for k in range(10, 18)])


def test_png_pairs_are_exact_val_copies(harvard):
    val = {(r["task"], r["name"]) for r in harvard_rows(split="val")}
    for task, (fa, fb, name) in PAIRS.items():
        assert (task, name) in val
        for folder in (fa, fb):
            copy = SAMPLES / task / folder / name
            assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(
                (harvard / task / folder / name).read_bytes()).digest()


def test_dicom_pair_is_one_study_two_series(harvard):
    folder = SAMPLES / "dicom" / "ct-mri-34"
    infos = list_series(folder)
    assert [(i.modality, i.num_instances) for i in infos] == [("CT", 8), ("MR", 8)]
    assert infos[0].study_uid == infos[1].study_uid
    with pytest.raises(InputError, match="holds 2 series"):
        load_image(folder)
    ct = load_image(folder / "ct")
    mr = load_image(folder, series_uid=infos[1].uid)
    assert ct.same_grid(mr)
    assert ct.spacing == pytest.approx((0.9375, 0.9375, 5.0))
    assert ct.provenance.frame_of_reference_uid == mr.provenance.frame_of_reference_uid
    assert ct.provenance.attributes["PatientID"] == mr.provenance.attributes["PatientID"]
    # HU = 8 v - 1000 and the header window maps them back onto the atlas grey levels.
    c, w = ct.window
    assert np.array_equal(np.rint((ct.array - (c - w / 2)) / w * 255), _atlas("ct"))
    assert ct.array.min() == -1000
    assert np.array_equal(mr.array, _atlas("mri"))


def test_nifti_pair_matches_dicom_geometry(harvard):
    ct = load_image(SAMPLES / "nifti" / "ct-mri-34" / "ct.nii.gz", modality="CT")
    mr = load_image(SAMPLES / "nifti" / "ct-mri-34" / "mr.nii.gz", modality="MR")
    dicom = load_image(SAMPLES / "dicom" / "ct-mri-34" / "mr")
    assert ct.same_grid(mr) and mr.same_grid(dicom)
    assert np.array_equal(ct.array, _atlas("ct")) and np.array_equal(mr.array, _atlas("mri"))


def test_samples_stay_small():
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 3_000_000
