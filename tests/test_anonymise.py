"""Anonymised DICOM export: no patient name, ID or source dates survive; UIDs new, consistent."""

from __future__ import annotations

import numpy as np
import pydicom

from fusionviewer.io import load_image
from fusionviewer.io.synthetic import write_series
from fusionviewer.pipeline import FusionJob, FusionOptions, export_result


def test_anonymised_dicom_export(tmp_path):
    rng = np.random.default_rng(0)
    data = (rng.random((3, 32, 32)) * 1000).astype(np.int16)
    for name, mod in (("ct", "CT"), ("mr", "MR")):
        write_series(data, tmp_path / name, modality=mod, patient_name="DOE^JANE",
                     patient_id="PID-4711", study_date="19991231", study_uid="1.2.3.4.5")
    result = FusionJob([str(tmp_path / "ct"), str(tmp_path / "mr")],
                       FusionOptions(method="average")).run()
    plain = export_result(result, tmp_path / "plain", "dicom")
    anon = export_result(result, tmp_path / "anon", "dicom", anonymise=True)
    assert pydicom.dcmread(plain[0]).PatientName == "DOE^JANE"  # the ordinary export keeps it
    series, studies = set(), set()
    for path in anon:
        ds = pydicom.dcmread(path)
        text = str(ds)
        for secret in ("DOE", "JANE", "PID-4711", "19991231", "1.2.3.4.5"):
            assert secret not in text
        assert ds.PatientIdentityRemoved == "YES"
        series.add(ds.SeriesInstanceUID)
        studies.add(ds.StudyInstanceUID)
    assert len(series) == 1 and len(studies) == 1  # new UIDs, consistent across the series
    assert len({pydicom.dcmread(p).SOPInstanceUID for p in anon}) == len(anon)
    back = load_image(tmp_path / "anon")
    assert back.shape == result.fused.shape
