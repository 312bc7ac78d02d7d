"""The clinical loop against Orthanc: pull CT + MR, fuse, push the fused series back, pull it again."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom
import pytest

from fusionviewer.pacs import PacsClient
from fusionviewer.pipeline import FusionJob, FusionOptions, export_result

SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"


def _stack(paths) -> tuple[np.ndarray, list]:
    slices = sorted((pydicom.dcmread(p) for p in paths), key=lambda d: int(d.InstanceNumber))
    return np.stack([d.pixel_array for d in slices]), slices


@pytest.fixture(scope="module")
def retrieved(study, dimse_server, web_server, tmp_path_factory):
    """CT and MR pulled through every transport: {transport: (ct_files, mr_files)}."""
    out = {}
    for name, server in (("c-get", dimse_server), ("wado-rs", web_server),
                         ("c-move", dataclasses.replace(dimse_server, retrieve="move"))):
        client = PacsClient(server, cache_dir=tmp_path_factory.mktemp(f"cache-{name}"))
        out[name] = (client.retrieve_series(study.study_uid, study.ct_uid),
                     client.retrieve_series(study.study_uid, study.mr_uid))
    return out


def test_every_transport_retrieves_both_series(retrieved, study):
    for name, (ct, mr) in retrieved.items():
        assert np.array_equal(_stack(ct)[0], study.ct_pixels), name
        assert np.array_equal(_stack(mr)[0], study.mr_pixels), name
        assert {str(pydicom.dcmread(p).StudyInstanceUID) for p in ct + mr} == {study.study_uid}


@pytest.mark.parametrize("send, fetch", [("c-store", "wado-rs"), ("stow-rs", "c-get")])
def test_fuse_and_send_back(send, fetch, retrieved, study, dimse_server, web_server, tmp_path):
    ct, mr = retrieved["c-get"] if send == "c-store" else retrieved["wado-rs"]
    result = FusionJob([ct[0].parent, mr[0].parent], FusionOptions(method="average")).run()
    assert result.fused_gray.shape == study.ct_pixels.shape
    exported = export_result(result, tmp_path / "fused", fmt="dicom")
    assert len(exported) == len(ct)
    new_series = str(pydicom.dcmread(exported[0]).SeriesInstanceUID)

    sender = PacsClient(dimse_server if send == "c-store" else web_server)
    report = sender.store(exported)
    assert report.ok, [(r.path.name, r.message) for r in report.failed]
    assert len(report.succeeded) == len(exported)

    # the fused series shows up in the same study, beside the CT and MR
    series = {s.series_uid: s for s in sender.find_series(study.study_uid)}
    assert {study.ct_uid, study.mr_uid, new_series} <= set(series)
    assert series[new_series].num_instances == len(exported)
    from fusionviewer.pipeline.export import series_description

    assert series[new_series].description == series_description(result)
    assert len(series_description(result)) <= 64

    getter = PacsClient(dimse_server if fetch == "c-get" else web_server,
                        cache_dir=tmp_path / "cache")
    back = getter.retrieve_series(study.study_uid, new_series)
    back_pixels, back_ds = _stack(back)
    sent_pixels, sent_ds = _stack(exported)
    assert np.array_equal(back_pixels, sent_pixels)
    first = back_ds[0]
    assert first.SOPClassUID == SC_IMAGE
    assert list(first.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert "average" in first.DerivationDescription
    assert "not for diagnosis" in first.DerivationDescription.lower()
    assert first.PatientID == "FV-PACS-0002" and first.StudyInstanceUID == study.study_uid
    assert "SourceImageSequence" in first
    # stored values map back onto the fused [0, 1] image
    values = back_pixels * float(first.RescaleSlope) + float(first.RescaleIntercept)
    assert np.allclose(values, result.fused_gray, atol=1e-3)
