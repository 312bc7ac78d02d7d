"""A real Orthanc archive on loopback for the PACS tests (fails, never skips, when it can't start).

One Orthanc per test session (its own storage folder and free ports); the CT and MR series of
one study are stored once. Tests that add series use their own study or only add to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dicom_data import StudySeries, build_ct_mr_study  # noqa: E402
from orthanc_server import (ORTHANC_AET, OUR_AET, PASSWORD, USER, OrthancServer,  # noqa: E402
                            start_orthanc)

from fusionviewer.pacs import PacsClient, PacsServer  # noqa: E402


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory) -> OrthancServer:
    try:
        server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"cannot start the Orthanc test archive: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dimse_server(orthanc) -> PacsServer:
    return PacsServer(name="orthanc-dimse", host="127.0.0.1", port=orthanc.dicom_port,
                      ae_title=ORTHANC_AET, our_ae_title=OUR_AET, our_port=orthanc.move_port,
                      timeout=10)


@pytest.fixture(scope="session")
def web_server(orthanc) -> PacsServer:
    return PacsServer(name="orthanc-web", url=orthanc.dicomweb_url, username=USER,
                      password=PASSWORD, timeout=10)


@pytest.fixture(params=["dimse", "dicomweb"])
def any_server(request, dimse_server, web_server) -> PacsServer:
    return dimse_server if request.param == "dimse" else web_server


@pytest.fixture(scope="session")
def study(orthanc, dimse_server, tmp_path_factory) -> StudySeries:
    """CT + MR of atlas case 2 (19 slices each) stored in the archive by C-STORE."""
    data = build_ct_mr_study(tmp_path_factory.mktemp("study"))
    report = PacsClient(dimse_server, cache_dir=tmp_path_factory.mktemp("c")).store(
        data.ct_files + data.mr_files)
    assert report.ok, report.failed[:3]
    return data


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "pacs-cache"
