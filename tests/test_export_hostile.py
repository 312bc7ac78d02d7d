"""DICOM export from sources with odd patient/study attributes: no warnings, no failure."""

from __future__ import annotations

import dataclasses
import warnings

import pydicom

from fusionviewer.io import load_image
from fusionviewer.io.export import write_dicom_series

from harvard_data import REPO

SLICE = REPO / "resources" / "samples" / "dicom" / "ct-mri-34" / "ct" / "IM_0001.dcm"


def test_odd_source_attributes_export_quietly(tmp_path, capfd):
    image = load_image(SLICE)
    odd = {**image.provenance.attributes, "PatientName": "Doe John",
           "PatientBirthDate": "19xx0101",
           "StudyDate": "2010-01-01", "StudyTime": "25:61"}
    source = dataclasses.replace(image, provenance=dataclasses.replace(image.provenance,
                                                                       attributes=odd))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = write_dicom_series(image, tmp_path / "out", sources=[source], description="t")
    ds = pydicom.dcmread(paths[0])
    assert str(ds.PatientName) == "Doe John^"
    assert "PatientBirthDate" not in ds or ds.PatientBirthDate == ""
    assert capfd.readouterr() == ("", "")
