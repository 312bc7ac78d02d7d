"""SUV from synthetic PET DICOM files (pydicom) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from fusionviewer.analysis.suv import lean_body_mass_kg, suv_factor
from fusionviewer.io import load_image
from fusionviewer.io.suv import image_suv, read_suv_tags
from fusionviewer.io.synthetic import write_series

F18_HALF_LIFE = 6586.2  # s


def pet_series(folder, *, units="BQML", decay="START", series_date="20240305",
               series_time="101500", start_time="091500", start_datetime=None,
               weight="75", size="1.80", sex="M", dose="370000000"):
    data = (np.arange(3 * 8 * 8).reshape(3, 8, 8) % 50 + 1).astype(np.int16)
    paths = write_series(data, folder, modality="PT", rescale=(10.0, 0.0))
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.Units, ds.DecayCorrection = units, decay
        ds.CorrectedImage = ["DECY", "ATTN"]
        ds.SeriesDate, ds.SeriesTime = series_date, series_time
        ds.AcquisitionDate, ds.AcquisitionTime = series_date, series_time
        if weight is not None:
            ds.PatientWeight = weight
        if size is not None:
            ds.PatientSize = size
        ds.PatientSex = sex
        drug = Dataset()
        drug.RadionuclideTotalDose = dose
        drug.RadionuclideHalfLife = str(F18_HALF_LIFE)
        if start_time is not None:
            drug.RadiopharmaceuticalStartTime = start_time
        if start_datetime is not None:
            drug.RadiopharmaceuticalStartDateTime = start_datetime
        ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
        ds.save_as(p)
    return paths


def test_suvbw_with_decay_correction_by_hand(tmp_path):
    pet_series(tmp_path / "pet")
    image = load_image(tmp_path / "pet")
    suv = image_suv(image)
    # 60 min uptake: dose decays by 2^(-3600/6586.2)
    decayed = 370e6 * 2 ** (-3600 / F18_HALF_LIFE)
    assert decayed == pytest.approx(253.3e6, rel=1e-3)
    assert suv.bw == pytest.approx(75_000 / decayed, rel=1e-9)
    assert suv.details["decay_s"] == 3600.0
    # a voxel of 10 * 25 = 250 Bq/ml stored with slope 10: SUVbw by hand
    k, y, x = 0, 3, 0
    assert image.array[k, y, x] == pytest.approx(250.0)
    assert image.array[k, y, x] * suv.bw == pytest.approx(250 * 75_000 / decayed)
    # SUVlbm with the Janmahasatian LBM: male 75 kg, 1.80 m, BMI 23.15
    lbm = 9270 * 75 / (6680 + 216 * 75 / 1.8 ** 2)
    assert lbm == pytest.approx(59.52, abs=0.01)
    assert suv.lbm == pytest.approx(lbm * 1000 / decayed, rel=1e-9)
    assert "Janmahasatian" in suv.note


def test_scan_across_midnight(tmp_path):
    pet_series(tmp_path / "pet", series_date="20240306", series_time="003000",
               start_time="233000")
    suv = image_suv(load_image(tmp_path / "pet"))
    assert suv.details["decay_s"] == 3600.0  # injected 23:30 the day before
    assert suv.bw == pytest.approx(75_000 / (370e6 * 2 ** (-3600 / F18_HALF_LIFE)))


def test_start_datetime_wins_over_start_time(tmp_path):
    pet_series(tmp_path / "pet", start_time="000000", start_datetime="20240305094500")
    suv = image_suv(load_image(tmp_path / "pet"))
    assert suv.details["decay_s"] == 1800.0


def test_admin_decay_correction_uses_the_injected_dose(tmp_path):
    pet_series(tmp_path / "pet", decay="ADMIN")
    suv = image_suv(load_image(tmp_path / "pet"))
    assert suv.bw == pytest.approx(75_000 / 370e6)


@pytest.mark.parametrize("change, why", [
    ({"units": "CNTS"}, "Units is CNTS"),
    ({"weight": None}, "PatientWeight"),
    ({"decay": "NONE"}, "DecayCorrection NONE"),
    ({"start_datetime": "20240305113000"}, "not before the scan"),
    ({"start_time": None}, "start time missing"),
])
def test_missing_or_inconsistent_tags_give_no_suv(tmp_path, change, why):
    pet_series(tmp_path / "pet", **change)
    suv = image_suv(load_image(tmp_path / "pet"))
    assert suv is not None and suv.bw is None and suv.lbm is None
    assert why in suv.note


def test_tags_read_from_the_first_file_and_no_lbm_without_sex(tmp_path):
    paths = pet_series(tmp_path / "pet", sex="O")
    tags = read_suv_tags(paths[0])
    assert tags["Units"] == "BQML" and float(tags["RadionuclideTotalDose"]) == 370e6
    suv = suv_factor(tags)
    assert suv.bw is not None and suv.lbm is None
    assert lean_body_mass_kg(60, 1.65, "F") == pytest.approx(9270 * 60 / (8780 + 244 * 60 / 1.65 ** 2))


def test_non_pet_has_no_suv(tmp_path):
    write_series(np.zeros((2, 4, 4), np.int16), tmp_path / "ct", modality="CT")
    assert image_suv(load_image(tmp_path / "ct")) is None
