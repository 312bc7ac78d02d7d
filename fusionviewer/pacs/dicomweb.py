"""DICOMweb transport (standard library HTTP): QIDO-RS search, WADO-RS retrieve, STOW-RS store."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import ssl
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path
from typing import Iterable
from urllib.parse import quote, urlencode

from pydicom import dcmread
from pydicom.dataset import Dataset

from ..errors import Cancelled, InputError
from ..progress import check_cancel, report
from . import cache
from .config import PacsServer
from .dimse import _read_header, series_from_dataset, study_from_dataset
from .errors import PacsConnectionError, PacsError, PartialRetrieve
from .models import InstanceResult, Query, SeriesInfo, StoreReport, StudyInfo

log = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
MULTIPART_DICOM = 'multipart/related; type="application/dicom"'
CHUNK = 1 << 20
STORE_BATCH = 10  # instances per STOW-RS request: progress/cancel granularity


class DicomWebClient:
    """Talks to one archive over HTTP(S); the URL is the DICOMweb root (…/dicom-web)."""

    def __init__(self, server: PacsServer):
        if server.transport != "dicomweb":
            raise InputError(f"PACS server {server.describe()} is not a DICOMweb server")
        self.server = server
        self.base = server.display_url.rstrip("/")
        self._ssl = None
        if self.base.startswith("https:"):
            ctx = ssl.create_default_context(cafile=server.tls_ca_file or None)
            if server.tls_cert_file:
                ctx.load_cert_chain(server.tls_cert_file, server.tls_key_file or None)
            if not server.tls_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx

    # --- HTTP -------------------------------------------------------------------------------
    def _open(self, path: str, *, params=None, accept: str = DICOM_JSON, method: str = "GET",
              data: bytes | None = None, content_type: str | None = None):
        # DICOM wildcards and the name separator stay literal: some archives (Orthanc 1.10's
        # DICOMweb plugin) match on the raw query string without percent-decoding it
        query = urlencode(params, doseq=True, safe="^*?,-.", quote_via=quote) if params else ""
        url = self.base + path + ("?" + query if query else "")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", accept)
        if content_type:
            req.add_header("Content-Type", content_type)
        creds = self.server.credentials()
        if creds:
            token = b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        log.debug("%s %s%s", method, self.base, path)
        where = f"PACS {self.server.describe()}"
        try:
            return urllib.request.urlopen(req, timeout=self.server.timeout, context=self._ssl)
        except urllib.error.HTTPError as exc:
            detail = {401: "authentication failed (check user name and password)",
                      403: "access forbidden", 404: "not found"}.get(exc.code, exc.reason)
            exc.close()
            raise PacsError(f"{where}: HTTP {exc.code} {detail} for {method} {path}") from None
        except urllib.error.URLError as exc:
            raise PacsConnectionError(f"{where}: cannot connect ({exc.reason})") from None
        except (socket.timeout, TimeoutError):
            raise PacsConnectionError(f"{where}: no answer within "
                                      f"{self.server.timeout:g} s") from None
        except OSError as exc:
            raise PacsConnectionError(f"{where}: cannot connect ({exc})") from None

    def _json(self, path: str, params=None) -> list:
        with self._open(path, params=params) as resp:
            body = resp.read()
        if not body.strip():
            return []  # 204 No Content: nothing matched
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            raise PacsError(f"PACS {self.server.describe()}: answer to {path} is not "
                            "DICOM JSON") from None
        return data if isinstance(data, list) else [data]

    @staticmethod
    def _dataset(item: dict) -> Dataset:
        # BulkDataURI values are not fetched: searches only need attribute values
        return Dataset.from_json(item, bulk_data_uri_handler=lambda *a: b"")

    # --- verification and queries ----------------------------------------------------------
    def echo(self) -> float:
        """A one-result QIDO-RS study search; returns the round-trip time in seconds."""
        start = time.perf_counter()
        self._json("/studies", {"limit": "1"})
        return time.perf_counter() - start

    def find_studies(self, query: Query) -> list[StudyInfo]:
        """Studies matching the query (QIDO-RS)."""
        params = {"PatientName": query.patient_name, "PatientID": query.patient_id,
                  "StudyDate": query.date_range, "ModalitiesInStudy": query.modality,
                  "AccessionNumber": query.accession, "StudyInstanceUID": query.study_uid}
        params = {k: v for k, v in params.items() if v}
        params["includefield"] = ["StudyDescription", "ModalitiesInStudy",
                                  "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"]
        found = [study_from_dataset(self._dataset(d)) for d in self._json("/studies", params)]
        return sorted(found, key=lambda s: (s.study_date, s.patient_name), reverse=True)

    def find_series(self, study_uid: str, modality: str = "") -> list[SeriesInfo]:
        """The series of one study (QIDO-RS), optionally of one modality."""
        params = {"includefield": ["SeriesDescription", "SeriesNumber",
                                   "NumberOfSeriesRelatedInstances"]}
        if modality:
            params["Modality"] = modality
        items = self._json(f"/studies/{quote(study_uid)}/series", params)
        found = [series_from_dataset(self._dataset(d), study_uid) for d in items]
        return sorted(found, key=lambda s: (s.number is None, s.number or 0, s.series_uid))

    def find_instances(self, study_uid: str, series_uid: str) -> list[tuple[str, str]]:
        """(SOPInstanceUID, SOPClassUID) of each instance of a series."""
        items = self._json(f"/studies/{quote(study_uid)}/series/{quote(series_uid)}/instances")
        out = []
        for d in items:
            ds = self._dataset(d)
            out.append((str(ds.get("SOPInstanceUID", "")), str(ds.get("SOPClassUID", ""))))
        return out

    # --- retrieval --------------------------------------------------------------------------
    def retrieve_series(self, study_uid: str, series_uid: str, dest: Path, *,
                        progress=None, cancel=None) -> list[Path]:
        """Copy one series into the empty folder ``dest`` (WADO-RS, one streamed multipart)."""
        check_cancel(cancel)
        total = len(self.find_instances(study_uid, series_uid))
        if not total:
            raise PacsError(f"PACS {self.server.describe()}: series {series_uid} not found")
        received: list[Path] = []
        path = f"/studies/{quote(study_uid)}/series/{quote(series_uid)}"
        with self._open(path, accept=MULTIPART_DICOM) as resp:
            boundary = _boundary(resp.headers.get("Content-Type", ""))
            if boundary is None:
                raise PacsError(f"PACS {self.server.describe()}: WADO-RS answer is not "
                                "multipart/related")
            for body in _iter_parts(resp, boundary, cancel):
                received.append(_write_instance(body, dest))
                report(progress, "retrieve", len(received) / total)
                if cancel is not None and cancel.is_set():
                    raise Cancelled("retrieve cancelled by the user")
        if len(received) < total:
            raise PartialRetrieve(f"PACS {self.server.describe()}: retrieved {len(received)} of "
                                  f"{total} instance(s) of series {series_uid}", received)
        return sorted(received)

    # --- storage ----------------------------------------------------------------------------
    def store(self, paths: Iterable[str | os.PathLike], *, progress=None,
              cancel=None) -> StoreReport:
        """STOW-RS in batches; per-instance results (Cancelled carries .report)."""
        files = [Path(p) for p in paths]
        if not files:
            raise InputError("nothing to send: no DICOM files given")
        sops = [str(_read_header(p).SOPInstanceUID) for p in files]
        result = StoreReport()
        for start in range(0, len(files), STORE_BATCH):
            if cancel is not None and cancel.is_set():
                exc = Cancelled(f"store cancelled by the user after {start} of {len(files)}")
                exc.report = result
                raise exc
            batch = list(zip(files[start:start + STORE_BATCH], sops[start:start + STORE_BATCH]))
            result.results.extend(self._stow(batch))
            report(progress, "store", len(result.results) / len(files))
        log.info("stored %s on %s", result.summary(), self.server.describe())
        return result

    def _stow(self, batch: list[tuple[Path, str]]) -> list[InstanceResult]:
        boundary = uuid.uuid4().hex
        body = io.BytesIO()
        for path, _ in batch:
            body.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            body.write(path.read_bytes())
            body.write(b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        ctype = f'{MULTIPART_DICOM}; boundary="{boundary}"'
        try:
            with self._open("/studies", method="POST", data=body.getvalue(),
                            content_type=ctype) as resp:
                answer = resp.read()
        except PacsConnectionError:
            raise
        except PacsError as exc:
            return [InstanceResult(p, sop, False, str(exc)) for p, sop in batch]
        try:
            ds = self._dataset(json.loads(answer)) if answer.strip() else Dataset()
        except (json.JSONDecodeError, ValueError):
            ds = Dataset()
        stored = {str(item.get("ReferencedSOPInstanceUID", ""))
                  for item in ds.get("ReferencedSOPSequence", [])}
        failed = {str(item.get("ReferencedSOPInstanceUID", "")): item.get("FailureReason")
                  for item in ds.get("FailedSOPSequence", [])}
        out = []
        for path, sop in batch:
            if sop in stored:
                out.append(InstanceResult(path, sop, True, "stored"))
            elif sop in failed:
                out.append(InstanceResult(path, sop, False,
                                          f"refused (failure reason 0x{int(failed[sop] or 0):04X})"))
            else:
                out.append(InstanceResult(path, sop, False, "not confirmed by the archive"))
        return out


def _boundary(content_type: str) -> bytes | None:
    if "multipart/related" not in content_type.lower():
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip().strip('"').encode()
    return None


def _iter_parts(stream, boundary: bytes, cancel):
    """Yield the bodies of a multipart/related stream as they arrive (CRLF-delimited parts)."""
    delim = b"\r\n--" + boundary
    buf = bytearray(b"\r\n")  # so the first delimiter looks like every later one
    start = None  # offset of the current part's body in buf
    eof = False
    while True:
        if start is None:
            i = buf.find(delim)
            if i >= 0:
                j = buf.find(b"\r\n\r\n", i + len(delim))
                if buf[i + len(delim):i + len(delim) + 2] == b"--":
                    return
                if j >= 0:
                    start = j + 4
                    continue
        else:
            i = buf.find(delim, start)
            if i >= 0:
                yield bytes(buf[start:i])
                del buf[:i]
                start = None
                continue
        if eof:
            if start is not None:
                raise PacsError("WADO-RS answer ended in the middle of an instance")
            return
        if cancel is not None and cancel.is_set():
            stream.close()
            raise Cancelled("retrieve cancelled by the user")
        chunk = stream.read(CHUNK)
        if not chunk:
            eof = True
        buf += chunk


def _write_instance(body: bytes, dest: Path) -> Path:
    try:
        sop = dcmread(io.BytesIO(body), stop_before_pixels=True,
                      specific_tags=["SOPInstanceUID"]).SOPInstanceUID
    except Exception as exc:  # noqa: BLE001 - any decoding problem means a bad part
        raise PacsError(f"WADO-RS returned a part that is not DICOM ({exc})") from None
    path = dest / f"{cache._SAFE.sub('_', str(sop))}.dcm"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(body)
    os.replace(tmp, path)
    return path
