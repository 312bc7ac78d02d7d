"""The DICOMweb adapter over dicomweb-client: error mapping, no retries, cancel inside the WADO-RS
stream, mutual TLS and the system trust store. Archive answers come from the Orthanc fixture;
answers Orthanc cannot be made to give (503, a hang, HTML) come from a tiny local HTTP server."""

from __future__ import annotations

import dataclasses
import http.server
import socket
import subprocess
import threading
import time
import urllib.request
from base64 import b64encode

import pytest
from dicom_data import build_ct_mr_study
from orthanc_server import PASSWORD, USER
from test_pacs_tls import _certificates, start_https_proxy

from fusionviewer.errors import Cancelled
from fusionviewer.pacs import PacsClient, PacsConnectionError, PacsError, PacsServer, Query
from fusionviewer.pacs.dicomweb import DicomWebClient
from fusionviewer.progress import CancelToken


class _Canned(http.server.BaseHTTPRequestHandler):
    status, body, content_type = 200, b"", "application/dicom+json"
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def canned():
    """Start a local HTTP server answering every GET with (status, body, content type)."""
    servers = []

    def start(status: int, body: bytes = b"", content_type: str = "text/html"):
        handler = type("Handler", (_Canned,), {"status": status, "body": body,
                                               "content_type": content_type, "requests": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return PacsServer(name="canned", url=f"http://127.0.0.1:{server.server_port}/dicom-web",
                          username=USER, password=PASSWORD, timeout=5), handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_http_404_is_a_clear_error(web_server, study):
    wrong = dataclasses.replace(web_server, url=web_server.url.replace("/dicom-web", "/nope"))
    with pytest.raises(PacsError, match=r"'orthanc-web' .*: HTTP 404 not found for GET "
                                        r"/studies$") as info:
        PacsClient(wrong).find_studies(Query(patient_id="FV-PACS-0002"))
    assert not isinstance(info.value, PacsConnectionError)


def test_http_503_fails_at_once_without_retries(canned):
    server, handler = canned(503, b"busy")
    start = time.monotonic()
    with pytest.raises(PacsError, match="HTTP 503 Service Unavailable for GET /studies"):
        PacsClient(server).echo()
    assert time.monotonic() - start < 1.0
    assert len(handler.requests) == 1  # dicomweb-client's default would retry 503 five times


def test_answer_that_is_not_json(canned):
    server, _ = canned(200, b"<html>login page</html>")
    with pytest.raises(PacsError, match="answer to /studies is not DICOM JSON"):
        PacsClient(server).find_studies()


def test_literal_query_characters_reach_the_archive(canned):
    server, handler = canned(200, b"[]", "application/dicom+json")
    PacsClient(server).find_studies(Query(patient_name="Smith^J?hn*", date_from="20240101",
                                          date_to="20240131"))
    (path,) = handler.requests
    assert "PatientName=Smith^J?hn*" in path and "StudyDate=20240101-20240131" in path


def test_no_answer_is_a_timeout():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        server = PacsServer(name="silent", url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                            timeout=1)
        start = time.monotonic()
        with pytest.raises(PacsConnectionError, match=r"'silent' .*: no answer within 1 s"):
            PacsClient(server).echo()
        assert time.monotonic() - start < 4
    finally:
        listener.close()


def test_stow_http_error_is_reported_per_instance(web_server, tmp_path):
    data = build_ct_mr_study(tmp_path / "src", n_slices=2, patient_id="FV-STOW-404")
    wrong = dataclasses.replace(web_server, url=web_server.url.replace("/dicom-web", "/nope"))
    report = PacsClient(wrong).store(data.ct_files)
    assert not report.ok and len(report.failed) == 2
    assert all("HTTP 404 not found for POST /studies" in r.message for r in report.failed)


def test_cancel_inside_the_wado_stream(web_server, study, cache_dir, monkeypatch):
    """Cancel set once the series is listed: the stream stops before an instance is written."""
    cancel, seen = CancelToken(), []
    real = DicomWebClient.find_instances

    def list_then_cancel(self, *args):
        found = real(self, *args)
        cancel.set()
        return found

    monkeypatch.setattr(DicomWebClient, "find_instances", list_then_cancel)
    with pytest.raises(Cancelled, match="retrieve cancelled by the user"):
        PacsClient(web_server, cache_dir=cache_dir).retrieve_series(
            study.study_uid, study.ct_uid, progress=lambda s, f: seen.append(f), cancel=cancel)
    assert seen == []  # stopped between chunks, not after the first instance
    assert not list(cache_dir.rglob("*.dcm")) and not list(cache_dir.rglob(".partial*"))


def test_retrieved_files_are_the_archives_bytes(web_server, study, cache_dir, orthanc):
    """A retrieved file is byte for byte the archive's copy (multipart framing fully removed)."""
    files = PacsClient(web_server, cache_dir=cache_dir).retrieve_series(study.study_uid,
                                                                        study.mr_uid)
    (hit,) = orthanc.rest("/tools/lookup", method="POST", data=files[0].stem.encode())
    req = urllib.request.Request(f"http://127.0.0.1:{orthanc.http_port}/instances/{hit['ID']}"
                                 "/file")
    req.add_header("Authorization", "Basic " + b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert files[0].read_bytes() == resp.read()


# --- TLS ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The test CA, a server certificate for 127.0.0.1 and a client certificate (own key file)."""
    folder = tmp_path_factory.mktemp("pki")
    certs = _certificates(folder)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=fusionviewer-client", "-keyout", "client.key", "-out", "client.csr"],
                   cwd=folder, check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey",
                    "ca.key", "-CAcreateserial", "-days", "2", "-out", "client.crt"],
                   cwd=folder, check=True, capture_output=True)
    return {**certs, "client_crt": folder / "client.crt", "client_key": folder / "client.key"}


def test_mutual_tls_client_certificate(orthanc, pki, study):
    proxy = start_https_proxy(orthanc.http_port, pki, require_client_cert=True)
    try:
        server = PacsServer(name="mtls", url=f"https://127.0.0.1:{proxy.server_address[1]}"
                            "/dicom-web", username=USER, password=PASSWORD, timeout=10,
                            tls_ca_file=str(pki["ca"]), tls_cert_file=str(pki["client_crt"]),
                            tls_key_file=str(pki["client_key"]))
        found = PacsClient(server).find_studies(Query(patient_id="FV-PACS-0002"))
        assert [s.study_uid for s in found] == [study.study_uid]
        with pytest.raises(PacsConnectionError, match="'mtls'"):
            PacsClient(dataclasses.replace(server, tls_cert_file="", tls_key_file="")).echo()
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_default_trust_is_the_system_store(orthanc, pki, monkeypatch):
    """No tls_ca_file: OpenSSL's defaults (here SSL_CERT_FILE), not requests' certifi bundle."""
    proxy = start_https_proxy(orthanc.http_port, pki)
    try:
        server = PacsServer(name="sys", url=f"https://127.0.0.1:{proxy.server_address[1]}"
                            "/dicom-web", username=USER, password=PASSWORD, timeout=10)
        with pytest.raises(PacsConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            PacsClient(server).echo()
        monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")  # must not matter
        assert PacsClient(server).echo() > 0
    finally:
        proxy.shutdown()
        proxy.server_close()
