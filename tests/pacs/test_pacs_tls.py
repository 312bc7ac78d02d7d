"""TLS: DIMSE over TLS (Orthanc's own DICOM TLS) and DICOMweb over HTTPS.

Debian's Orthanc 1.10 crashes on HTTPS requests when its "SslEnabled" is on, so HTTPS is
terminated by a small TLS proxy in front of Orthanc's HTTP port, as nginx would do in a hospital.
"""

from __future__ import annotations

import dataclasses
import socket
import socketserver
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from dicom_data import build_ct_mr_study
from orthanc_server import ORTHANC_AET, OUR_AET, PASSWORD, USER, start_orthanc

from fusionviewer.pacs import PacsClient, PacsConnectionError, PacsServer, Query


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(folder: Path) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=FusionViewer test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
             "server.key", "-out", "server.csr", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt",
             cwd=folder)
    return {"ca": folder / "ca.crt", "crt": folder / "server.crt", "key": folder / "server.key"}


def _pump(src, dst) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def start_https_proxy(target_port: int, certs: dict, require_client_cert: bool = False
                      ) -> socketserver.ThreadingTCPServer:
    """HTTPS on a free 127.0.0.1 port, forwarded to plain HTTP on target_port (optionally
    asking for a client certificate signed by certs["ca"])."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["crt"], certs["key"])
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(certs["ca"])

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                tls = ctx.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            upstream = socket.create_connection(("127.0.0.1", target_port))
            back = threading.Thread(target=_pump, args=(upstream, tls), daemon=True)
            back.start()
            _pump(tls, upstream)
            back.join(5)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def tls_orthanc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("orthanc-tls")
    certs = _certificates(folder / "certs")
    try:
        server = start_orthanc(folder / "archive", extra={
            "DicomTlsEnabled": True, "DicomTlsCertificate": str(certs["crt"]),
            "DicomTlsPrivateKey": str(certs["key"]),
            "DicomTlsTrustedCertificates": str(certs["ca"]),
            "DicomTlsRemoteCertificateRequired": False})
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"cannot start the TLS Orthanc test archive: {exc}")
    yield server, certs
    server.stop()


def test_dimse_over_tls(tls_orthanc, tmp_path):
    orthanc, certs = tls_orthanc
    server = PacsServer(name="tls", host="127.0.0.1", port=orthanc.dicom_port,
                        ae_title=ORTHANC_AET, our_ae_title=OUR_AET, tls=True,
                        tls_ca_file=str(certs["ca"]), timeout=10)
    client = PacsClient(server, cache_dir=tmp_path / "cache")
    assert client.echo() > 0
    data = build_ct_mr_study(tmp_path / "src", n_slices=2, patient_id="FV-TLS")
    assert client.store(data.ct_files).ok
    assert [s.study_uid for s in client.find_studies(Query(patient_id="FV-TLS"))] == \
        [data.study_uid]
    assert len(client.retrieve_series(data.study_uid, data.ct_uid)) == 2
    with pytest.raises(PacsConnectionError):  # plain DICOM to a TLS port
        PacsClient(dataclasses.replace(server, tls=False, timeout=3)).echo()
    with pytest.raises(PacsConnectionError, match="certificate verify failed"):  # unknown CA
        PacsClient(dataclasses.replace(server, tls_ca_file="")).echo()


def test_dicomweb_over_https(tls_orthanc, tmp_path):
    orthanc, certs = tls_orthanc
    proxy = start_https_proxy(orthanc.http_port, certs)
    try:
        url = f"https://127.0.0.1:{proxy.server_address[1]}/dicom-web"
        server = PacsServer(name="https", url=url, username=USER, password=PASSWORD,
                            tls_ca_file=str(certs["ca"]), timeout=10)
        client = PacsClient(server, cache_dir=tmp_path / "cache")
        data = build_ct_mr_study(tmp_path / "src", n_slices=2, patient_id="FV-HTTPS")
        assert client.store(data.mr_files).ok
        assert [s.study_uid for s in client.find_studies(Query(patient_id="FV-HTTPS"))] == \
            [data.study_uid]
        assert len(client.retrieve_series(data.study_uid, data.mr_uid)) == 2
        with pytest.raises(PacsConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            PacsClient(dataclasses.replace(server, tls_ca_file="")).echo()
        insecure = dataclasses.replace(server, tls_ca_file="", tls_verify=False)
        assert PacsClient(insecure).echo() > 0
    finally:
        proxy.shutdown()
        proxy.server_close()
