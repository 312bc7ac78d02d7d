"""Echo, search, retrieve, store and failures against a real Orthanc, over DIMSE and DICOMweb."""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import pydicom
import pytest
from dicom_data import build_ct_mr_study
from orthanc_server import PASSWORD, free_port

from fusionviewer.errors import Cancelled
from fusionviewer.pacs import (AssociationRejected, PacsClient, PacsConnectionError, PacsError,
                               PartialRetrieve, Query, UnknownAE)
from fusionviewer.progress import CancelToken


def _pixels(paths) -> np.ndarray:
    slices = sorted((pydicom.dcmread(p) for p in paths), key=lambda d: int(d.InstanceNumber))
    return np.stack([d.pixel_array for d in slices])


def test_echo(any_server):
    assert 0 < PacsClient(any_server).echo() < 5


@pytest.mark.parametrize("query", [
    Query(patient_id="FV-PACS-0002"),
    Query(patient_name="Harvard^Atlas*"),
    Query(date_from="20240301", date_to="20240331"),
    Query(accession="ACC-FV-2"),
    Query(modality="MR", patient_id="FV-PACS-0002"),
])
def test_find_study(any_server, study, query):
    found = PacsClient(any_server).find_studies(query)
    assert [s.study_uid for s in found] == [study.study_uid]
    s = found[0]
    assert (s.patient_id, s.study_date, s.accession) == ("FV-PACS-0002", "20240315", "ACC-FV-2")
    assert s.patient_name == "Harvard^Atlas^Case2"
    assert {"CT", "MR"} <= set(s.modalities)


@pytest.mark.parametrize("query", [Query(patient_id="NOBODY-HERE"),
                                   Query(date_from="19900101", date_to="19901231"),
                                   Query(patient_id="FV-PACS-0002", modality="PT")])
def test_empty_query_result(any_server, study, query):
    assert PacsClient(any_server).find_studies(query) == []


def test_find_series(any_server, study):
    client = PacsClient(any_server)
    series = client.find_series(study.study_uid)
    by_uid = {s.series_uid: s for s in series}
    assert by_uid[study.ct_uid].modality == "CT" and by_uid[study.mr_uid].modality == "MR"
    assert by_uid[study.ct_uid].num_instances == len(study.ct_files)
    assert by_uid[study.mr_uid].description == "MR axial (atlas case 2)"
    assert [s.series_uid for s in client.find_series(study.study_uid, "MR")] == [study.mr_uid]
    assert client.find_series("1.2.3.999") == []


@pytest.mark.parametrize("mode", ["dimse-get", "dimse-move", "dicomweb"])
def test_retrieve_series_into_cache(mode, dimse_server, web_server, study, cache_dir):
    server = {"dimse-get": dimse_server, "dicomweb": web_server,
              "dimse-move": dataclasses.replace(dimse_server, retrieve="move")}[mode]
    seen = []
    files = PacsClient(server, cache_dir=cache_dir).retrieve_series(
        study.study_uid, study.mr_uid, progress=lambda stage, f: seen.append(f))
    assert len(files) == len(study.mr_files)
    assert all(cache_dir in f.parents for f in files)
    assert files[0].parent.name == study.mr_uid
    assert np.array_equal(_pixels(files), study.mr_pixels)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert not [p for p in files[0].parent.parent.iterdir() if p.name.startswith(".partial")]


def test_store_reports_each_instance(any_server, tmp_path):
    data = build_ct_mr_study(tmp_path / "src", n_slices=3, accession="ACC-STORE",
                             patient_id=f"FV-STORE-{any_server.transport}")
    client = PacsClient(any_server)
    seen = []
    report = client.store(data.ct_files, progress=lambda s, f: seen.append(f))
    assert report.ok and len(report.results) == 3 and seen[-1] == 1.0
    assert [r.path for r in report.results] == data.ct_files
    uids = {pydicom.dcmread(p).SOPInstanceUID for p in data.ct_files}
    assert {r.sop_instance_uid for r in report.results} == uids
    found = client.find_series(data.study_uid)
    assert [(s.series_uid, s.num_instances) for s in found] == [(data.ct_uid, 3)]


def test_cancelled_retrieve_leaves_nothing(any_server, study, cache_dir):
    cancel = CancelToken()

    def progress(stage, fraction):
        if fraction > 0:
            cancel.set()

    with pytest.raises(Cancelled):
        PacsClient(any_server, cache_dir=cache_dir).retrieve_series(
            study.study_uid, study.ct_uid, progress=progress, cancel=cancel)
    assert cancel.is_set()
    assert not list(cache_dir.rglob("*.dcm"))
    assert not list(cache_dir.rglob(".partial*"))


def test_cancelled_store_keeps_partial_report(any_server, tmp_path):
    data = build_ct_mr_study(tmp_path / "src", n_slices=12, accession="ACC-CANCEL",
                             patient_id=f"FV-CANCEL-{any_server.transport}")
    cancel = CancelToken()
    with pytest.raises(Cancelled) as info:
        PacsClient(any_server).store(data.mr_files, progress=lambda s, f: cancel.set(),
                                     cancel=cancel)
    done = info.value.report.results
    assert 0 < len(done) < 12 and all(r.ok for r in done)


def test_server_down(any_server):
    if any_server.transport == "dimse":
        down = dataclasses.replace(any_server, port=free_port(), timeout=3)
    else:
        down = dataclasses.replace(any_server, url=f"http://127.0.0.1:{free_port()}/dicom-web",
                                   timeout=3)
    with pytest.raises(PacsConnectionError, match="cannot connect") as info:
        PacsClient(down).find_studies()
    assert down.name in str(info.value) and PASSWORD not in str(info.value)


def test_wrong_called_ae_title_is_rejected(dimse_server):
    wrong = dataclasses.replace(dimse_server, ae_title="NOT-ORTHANC")
    with pytest.raises(AssociationRejected, match="Called AE title not recognised.*NOT-ORTHANC"):
        PacsClient(wrong).echo()


def test_unknown_calling_ae_title(dimse_server, study):
    stranger = dataclasses.replace(dimse_server, our_ae_title="STRANGER")
    with pytest.raises(UnknownAE, match="does not know our AE title 'STRANGER'"):
        PacsClient(stranger).find_studies(Query(patient_id="FV-PACS-0002"))


def test_move_to_wrong_port_fails_cleanly(dimse_server, study, cache_dir):
    # the archive sends to the port registered for our AE; we listen elsewhere -> nothing arrives
    server = dataclasses.replace(dimse_server, retrieve="move", our_port=free_port())
    with pytest.raises(PacsError, match="retrieve failed|retrieved 0 of"):
        PacsClient(server, cache_dir=cache_dir).retrieve_series(study.study_uid, study.ct_uid)
    assert not list(cache_dir.rglob("*.dcm"))


def test_partial_retrieve_keeps_what_arrived(dimse_server, study, cache_dir, monkeypatch):
    # our storage side fails to write one instance: the archive reports a failed sub-operation
    real_replace, calls = os.replace, []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr("fusionviewer.pacs.dimse.os.replace", flaky_replace)
    with pytest.raises(PartialRetrieve, match=f"retrieved 18 of 19 .*{study.ct_uid}") as info:
        PacsClient(dimse_server, cache_dir=cache_dir).retrieve_series(study.study_uid,
                                                                      study.ct_uid)
    assert len(info.value.paths) == 18 and all(p.exists() for p in info.value.paths)


def test_wrong_password_no_credentials_in_logs(web_server, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = dataclasses.replace(web_server, password="bad-pw-xyz")
    with pytest.raises(PacsError, match="HTTP 401 authentication failed") as info:
        PacsClient(wrong).echo()
    assert "bad-pw-xyz" not in str(info.value)
    PacsClient(web_server).find_studies(Query(patient_id="FV-PACS-0002"))
    assert "bad-pw-xyz" not in caplog.text and PASSWORD not in caplog.text
    assert "GET" in caplog.text  # the debug log did record the requests
