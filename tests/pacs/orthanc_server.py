"""Start and stop a throw-away Orthanc archive on loopback (used by the PACS tests and benchmark).

Needs Debian's ``orthanc`` and ``orthanc-dicomweb`` packages (scripts/test.sh installs them).
Everything lives in one temporary folder: configuration, storage, index and log.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

ORTHANC_AET = "ORTHANC"
OUR_AET = "FUSIONVIEWER"
USER, PASSWORD = "fvtest", "pw-not-for-logs-7f3a"  # HTTP basic auth, checked against the logs
DICOMWEB_PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",  # Debian's orthanc-dicomweb
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OrthancServer:
    folder: Path
    dicom_port: int
    http_port: int
    move_port: int  # where our storage SCP must listen for C-MOVE (registered as OUR_AET)
    process: subprocess.Popen | None = None
    scheme: str = "http"  # "https" when started with SslEnabled

    @property
    def dicomweb_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}/dicom-web"

    @property
    def log_path(self) -> Path:
        return self.folder / "orthanc.log"

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def rest(self, path: str, method: str = "GET", data: bytes | None = None):
        """Call Orthanc's REST API (JSON answer)."""
        req = urllib.request.Request(f"{self.scheme}://127.0.0.1:{self.http_port}{path}",
                                     data=data, method=method)
        token = b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        context = ssl._create_unverified_context() if self.scheme == "https" else None
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def clear(self) -> None:
        """Delete every patient (a clean archive between tests)."""
        for pid in self.rest("/patients"):
            self.rest(f"/patients/{pid}", method="DELETE")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def find_orthanc() -> str:
    exe = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists()
                                      else None)
    if exe is None:
        raise RuntimeError("Orthanc is not installed: apt-get install orthanc orthanc-dicomweb "
                           "(scripts/test.sh does it when run as root)")
    return exe


def find_dicomweb_plugin() -> str:
    for cand in DICOMWEB_PLUGIN_CANDIDATES:
        if Path(cand).exists():
            return cand
    raise RuntimeError("the Orthanc DICOMweb plugin is not installed: apt-get install "
                       "orthanc-dicomweb")


def start_orthanc(folder: Path, timeout: float = 60.0, extra: dict | None = None,
                  tcp_nodelay: bool = True) -> OrthancServer:
    """Write a configuration into folder, start Orthanc and wait until HTTP and DICOM answer.

    ``extra`` is merged into the configuration (e.g. TLS settings). ``tcp_nodelay`` sets DCMTK's
    TCP_NODELAY=1: without it Orthanc's C-STORE answers wait on Nagle's algorithm (~55 ms per
    instance on loopback instead of ~14 ms).
    """
    exe, plugin = find_orthanc(), find_dicomweb_plugin()
    folder.mkdir(parents=True, exist_ok=True)
    server = OrthancServer(folder, free_port(), free_port(), free_port())
    storage = folder / "storage"
    config = {
        "Name": "FusionViewerTest",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "HttpPort": server.http_port,
        "DicomPort": server.dicom_port,
        "DicomAet": ORTHANC_AET,
        "DicomCheckCalledAet": True,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "DicomModalities": {"fusionviewer": [OUR_AET, "127.0.0.1", server.move_port]},
        # Orthanc 1.10 cannot bind to 127.0.0.1 only: it listens on every interface, so it
        # serves nobody but our AE title from 127.0.0.1 (DICOM) and local clients (HTTP)
        "DicomAlwaysAllowEcho": False,
        "DicomAlwaysAllowStore": False,
        "DicomAlwaysAllowFind": False,
        "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False,
        "DicomCheckModalityHost": True,
        "DicomScpTimeout": 30,
        "DicomScuTimeout": 10,
        "DicomAssociationCloseDelay": 0,
        "StableAge": 1,
        "SaveJobs": False,
        "ConcurrentJobs": 2,
        "HttpServerEnabled": True,
        "Plugins": [plugin],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                     "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
    }
    config.update(extra or {})
    if config.get("SslEnabled"):
        server.scheme = "https"
    cfg_path = folder / "orthanc.json"
    cfg_path.write_text(json.dumps(config, indent=2))
    log = open(server.log_path, "wb")
    env = dict(os.environ, TCP_NODELAY="1" if tcp_nodelay else "0")
    server.process = subprocess.Popen([exe, "--logfile=" + str(server.log_path), str(cfg_path)],
                                      stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env)
    log.close()
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with code {server.process.returncode}:\n"
                               f"{server.log_tail()}")
        try:
            server.rest("/system")
            with socket.create_connection(("127.0.0.1", server.dicom_port), timeout=1):
                pass
            return server
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"Orthanc did not answer within {timeout:.0f} s ({last}):\n"
                       f"{server.log_tail()}")
