"""DIMSE transport (pynetdicom): C-ECHO, C-FIND, C-GET, C-MOVE to our own storage SCP, C-STORE."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Iterable

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, build_role, evt
from pynetdicom.presentation import StoragePresentationContexts
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind as FIND_MODEL,
    StudyRootQueryRetrieveInformationModelGet as GET_MODEL,
    StudyRootQueryRetrieveInformationModelMove as MOVE_MODEL,
    Verification,
)
from pynetdicom.status import code_to_category

from ..errors import Cancelled, InputError
from ..progress import check_cancel, report
from . import cache
from .config import PacsServer
from .errors import (AssociationRejected, PacsConnectionError, PacsError, PartialRetrieve,
                     UnknownAE)
from .models import InstanceResult, Query, SeriesInfo, StoreReport, StudyInfo

log = logging.getLogger(__name__)

UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
MAX_CONTEXTS = 127  # 128 per association, one kept for the query/retrieve model
_STORE_OK = {0x0000, 0xB000, 0xB006, 0xB007}  # success and the C-STORE warnings
_MOVE_DEST_UNKNOWN = 0xA801


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or getattr(value, "VM", 1) > 1:
        return "\\".join(str(v) for v in value)
    return str(value)


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        return int(ds.get(keyword))
    except (TypeError, ValueError):
        return None


def study_from_dataset(ds: Dataset) -> StudyInfo:
    """A StudyInfo from a study-level C-FIND identifier (or QIDO-RS JSON turned Dataset)."""
    mods = ds.get("ModalitiesInStudy", [])
    mods = [mods] if isinstance(mods, str) else list(mods or [])
    return StudyInfo(study_uid=_text(ds, "StudyInstanceUID"),
                     patient_name=_text(ds, "PatientName"), patient_id=_text(ds, "PatientID"),
                     study_date=_text(ds, "StudyDate"), description=_text(ds, "StudyDescription"),
                     accession=_text(ds, "AccessionNumber"),
                     modalities=tuple(str(m) for m in mods if m),
                     num_series=_int(ds, "NumberOfStudyRelatedSeries"),
                     num_instances=_int(ds, "NumberOfStudyRelatedInstances"))


def series_from_dataset(ds: Dataset, study_uid: str) -> SeriesInfo:
    """A SeriesInfo from a series-level C-FIND identifier (or QIDO-RS JSON turned Dataset)."""
    return SeriesInfo(study_uid=_text(ds, "StudyInstanceUID") or study_uid,
                      series_uid=_text(ds, "SeriesInstanceUID"), modality=_text(ds, "Modality"),
                      description=_text(ds, "SeriesDescription"), number=_int(ds, "SeriesNumber"),
                      num_instances=_int(ds, "NumberOfSeriesRelatedInstances"))


def study_identifier(query: Query) -> Dataset:
    """The study-level C-FIND identifier of a query (return keys empty)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.PatientName = query.patient_name
    ds.PatientID = query.patient_id
    ds.StudyDate = query.date_range
    ds.StudyTime = ""
    ds.AccessionNumber = query.accession
    ds.StudyDescription = ""
    ds.ModalitiesInStudy = query.modality
    ds.StudyInstanceUID = query.study_uid
    ds.NumberOfStudyRelatedSeries = None
    ds.NumberOfStudyRelatedInstances = None
    return ds


def _tls_context(server: PacsServer) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=server.tls_ca_file or None)
    if server.tls_cert_file:
        ctx.load_cert_chain(server.tls_cert_file, server.tls_key_file or None)
    if not server.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class DimseClient:
    """Talks to one archive over DICOM networking; every call opens and closes an association."""

    def __init__(self, server: PacsServer):
        if server.transport != "dimse":
            raise InputError(f"PACS server {server.describe()} is not a DIMSE server")
        self.server = server

    # --- association ----------------------------------------------------------------------
    def _ae(self) -> AE:
        ae = AE(ae_title=self.server.our_ae_title)
        t = float(self.server.timeout)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = t
        ae.maximum_pdu_size = 0  # unlimited: fewer, larger PDUs on fast links
        return ae

    def _associate(self, ae: AE, *, ext_neg=None, handlers=None):
        s = self.server
        opened = threading.Event()

        def on_open(event):
            opened.set()
            _no_delay(event)

        handlers = list(handlers or []) + [(evt.EVT_CONN_OPEN, on_open)]
        tls_args = (_tls_context(s), s.host) if s.tls else None
        log.info("associating with %s as %s", s.describe(), s.our_ae_title)
        errors = _ConnectErrors()
        _TRANSPORT_LOG.addHandler(errors)
        try:
            assoc = ae.associate(s.host, int(s.port), ae_title=s.ae_title, ext_neg=ext_neg,
                                 evt_handlers=handlers, tls_args=tls_args)
        except (OSError, ssl.SSLError) as exc:
            raise PacsConnectionError(f"PACS {s.describe()}: cannot connect ({exc})") from None
        finally:
            _TRANSPORT_LOG.removeHandler(errors)
        if assoc.is_established:
            return assoc
        if assoc.is_rejected:
            rsp = getattr(assoc.acceptor, "primitive", None)
            reason = getattr(rsp, "reason_str", "") if rsp is not None else ""
            if "calling ae title" in reason.lower():
                raise UnknownAE(f"PACS {s.describe()} rejected the association: it does not "
                                f"know our AE title '{s.our_ae_title}' ({reason}); register it "
                                "on the archive")
            hint = (f"; check the archive's AE title ('{s.ae_title}') and that it knows our "
                    f"AE title '{s.our_ae_title}'")
            raise AssociationRejected(f"PACS {s.describe()} rejected the association"
                                      f"{' (' + reason + ')' if reason else ''}{hint}")
        if not opened.is_set():
            why = errors.reason or (f"host down, port closed or no answer within "
                                    f"{s.timeout:g} s")
            raise PacsConnectionError(f"PACS {s.describe()}: cannot connect ({why})")
        raise PacsConnectionError(f"PACS {s.describe()} aborted the association or did not "
                                  f"answer within {s.timeout:g} s (TLS or protocol mismatch?)")

    # --- verification and queries ----------------------------------------------------------
    def echo(self) -> float:
        """C-ECHO; returns the round-trip time in seconds."""
        ae = self._ae()
        ae.add_requested_context(Verification)
        start = time.perf_counter()
        assoc = self._associate(ae)
        try:
            status = assoc.send_c_echo()
        finally:
            assoc.release()
        if not status or status.Status != 0x0000:
            raise PacsError(f"PACS {self.server.describe()}: C-ECHO failed "
                            f"({self._status_text(status)})")
        return time.perf_counter() - start

    def _find(self, identifier: Dataset) -> list[Dataset]:
        ae = self._ae()
        ae.add_requested_context(FIND_MODEL)
        assoc = self._associate(ae)
        out = []
        started = time.monotonic()
        try:
            for status, ident in assoc.send_c_find(identifier, FIND_MODEL):
                if not status:
                    raise self._no_answer(started, "C-FIND")
                if status.Status in (0xFF00, 0xFF01):
                    if ident is not None:
                        out.append(ident)
                elif status.Status != 0x0000:
                    raise PacsError(f"PACS {self.server.describe()}: C-FIND failed "
                                    f"({self._status_text(status)})")
        finally:
            if assoc.is_established:
                assoc.release()
        return out

    def find_studies(self, query: Query) -> list[StudyInfo]:
        """Studies matching the query (study-level C-FIND)."""
        found = [study_from_dataset(ds) for ds in self._find(study_identifier(query))]
        return sorted(found, key=lambda s: (s.study_date, s.patient_name), reverse=True)

    def find_series(self, study_uid: str, modality: str = "") -> list[SeriesInfo]:
        """The series of one study (series-level C-FIND), optionally of one modality."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "SERIES"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = ""
        ds.Modality = modality
        ds.SeriesDescription = ""
        ds.SeriesNumber = None
        ds.NumberOfSeriesRelatedInstances = None
        found = [series_from_dataset(d, study_uid) for d in self._find(ds)]
        return sorted(found, key=lambda s: (s.number is None, s.number or 0, s.series_uid))

    def find_instances(self, study_uid: str, series_uid: str) -> list[tuple[str, str]]:
        """(SOPInstanceUID, SOPClassUID) of each instance of a series (image-level C-FIND)."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "IMAGE"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = ""
        ds.SOPClassUID = ""
        return [(_text(d, "SOPInstanceUID"), _text(d, "SOPClassUID")) for d in self._find(ds)]

    # --- retrieval --------------------------------------------------------------------------
    def retrieve_series(self, study_uid: str, series_uid: str, dest: Path, *,
                        progress=None, cancel=None) -> list[Path]:
        """Copy one series into the empty folder ``dest`` by C-GET or C-MOVE (server.retrieve)."""
        check_cancel(cancel)
        instances = self.find_instances(study_uid, series_uid)
        if not instances:
            raise PacsError(f"PACS {self.server.describe()}: series {series_uid} not found")
        received: list[Path] = []
        lock = threading.Lock()

        def on_store(event):
            try:
                sop = event.request.AffectedSOPInstanceUID
                path = dest / f"{cache._SAFE.sub('_', str(sop))}.dcm"
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(event.encoded_dataset(include_meta=True))
                os.replace(tmp, path)
            except OSError as exc:
                log.error("cannot write a retrieved instance: %s", exc)
                return 0xA700  # out of resources
            with lock:
                received.append(path)
            return 0x0000

        ident = Dataset()
        ident.QueryRetrieveLevel = "SERIES"
        ident.StudyInstanceUID = study_uid
        ident.SeriesInstanceUID = series_uid
        total = len(instances)
        sop_classes = sorted({c for _, c in instances if c})
        if self.server.retrieve == "move":
            final = self._move(ident, on_store, total, received, progress, cancel)
        else:
            final = self._get(ident, sop_classes, on_store, total, received, progress, cancel)
        received = sorted(set(received))
        if len(received) < total:
            why = f"; last status {self._status_text(final)}" if final else ""
            raise PartialRetrieve(f"PACS {self.server.describe()}: retrieved {len(received)} of "
                                  f"{total} instance(s) of series {series_uid}{why}", received)
        report(progress, "retrieve", 1.0)
        return received

    def _watch(self, assoc, responses, total, received, progress, cancel):
        """Consume C-GET/C-MOVE responses with progress; abort on cancel; return final status."""
        final = None
        started = time.monotonic()
        for status, _ in responses:
            if cancel is not None and cancel.is_set():
                assoc.abort()
                raise Cancelled("retrieve cancelled by the user")
            if not status:
                raise self._no_answer(started, "retrieve")
            final = status
            started = time.monotonic()
            if status.Status == 0xFF00:
                report(progress, "retrieve", len(received) / max(total, 1))
            elif status.Status == _MOVE_DEST_UNKNOWN:
                raise UnknownAE(f"PACS {self.server.describe()} does not know the C-MOVE "
                                f"destination AE title '{self.server.our_ae_title}'; register "
                                f"it on the archive with port {self.server.our_port}")
            elif code_to_category(status.Status) == "Failure" and not received:
                raise PacsError(f"PACS {self.server.describe()}: retrieve failed "
                                f"({self._status_text(status)})")
        return final

    def _get(self, ident, sop_classes, on_store, total, received, progress, cancel):
        ae = self._ae()
        ae.add_requested_context(GET_MODEL)
        classes = sop_classes or [cx.abstract_syntax for cx in StoragePresentationContexts]
        classes = classes[:MAX_CONTEXTS]
        for uid in classes:
            ae.add_requested_context(uid, UNCOMPRESSED)
        roles = [build_role(uid, scp_role=True) for uid in classes]
        assoc = self._associate(ae, ext_neg=roles, handlers=[(evt.EVT_C_STORE, on_store)])
        try:
            return self._watch(assoc, assoc.send_c_get(ident, GET_MODEL), total, received,
                               progress, cancel)
        finally:
            if assoc.is_established:
                assoc.release()

    def _move(self, ident, on_store, total, received, progress, cancel):
        s = self.server
        scp = self._ae()
        for cx in StoragePresentationContexts:
            scp.add_supported_context(cx.abstract_syntax, UNCOMPRESSED)
        bind = "127.0.0.1" if s.host in ("127.0.0.1", "localhost", "::1") else ""
        try:
            server = scp.start_server((bind, int(s.our_port)), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, on_store),
                                                    (evt.EVT_CONN_OPEN, _no_delay)])
        except OSError as exc:
            raise PacsError(f"cannot listen on port {s.our_port} for C-MOVE ({exc.strerror}); "
                            "choose another our_port or use C-GET") from None
        try:
            ae = self._ae()
            ae.add_requested_context(MOVE_MODEL)
            assoc = self._associate(ae)
            try:
                responses = assoc.send_c_move(ident, s.our_ae_title, MOVE_MODEL)
                return self._watch(assoc, responses, total, received, progress, cancel)
            finally:
                if assoc.is_established:
                    assoc.release()
        finally:
            server.shutdown()

    # --- storage ----------------------------------------------------------------------------
    def store(self, paths: Iterable[str | os.PathLike], *, progress=None,
              cancel=None) -> StoreReport:
        """C-STORE each file in one association; per-instance results (Cancelled carries .report)."""
        files = [Path(p) for p in paths]
        headers = [_read_header(p) for p in files]
        if not files:
            raise InputError("nothing to send: no DICOM files given")
        ae = self._ae()
        pairs = sorted({(h.SOPClassUID, h.file_meta.TransferSyntaxUID) for h in headers})
        classes: dict[str, list[str]] = {}
        for sop_class, ts in pairs:
            syntaxes = classes.setdefault(str(sop_class), list(UNCOMPRESSED))
            if ts not in syntaxes:
                syntaxes.insert(0, ts)
        if len(classes) > MAX_CONTEXTS:
            raise InputError(f"too many different SOP classes ({len(classes)}) in one store")
        for sop_class, syntaxes in classes.items():
            ae.add_requested_context(sop_class, syntaxes)
        result = StoreReport()
        assoc = self._associate(ae)
        try:
            for i, (path, header) in enumerate(zip(files, headers)):
                if cancel is not None and cancel.is_set():
                    exc = Cancelled(f"store cancelled by the user after {i} of {len(files)}")
                    exc.report = result
                    raise exc
                sop = str(header.SOPInstanceUID)
                if not assoc.is_established:
                    result.results.append(InstanceResult(path, sop, False, "association lost"))
                    continue
                try:
                    status = assoc.send_c_store(path)
                except (ValueError, RuntimeError) as exc:
                    result.results.append(InstanceResult(path, sop, False, str(exc)))
                    continue
                ok = bool(status) and status.Status in _STORE_OK
                result.results.append(InstanceResult(path, sop, ok, self._status_text(status)))
                report(progress, "store", (i + 1) / len(files))
        finally:
            if assoc.is_established:
                assoc.release()
        log.info("stored %s on %s", result.summary(), self.server.describe())
        return result

    def _no_answer(self, started: float, operation: str) -> PacsError:
        """The error for a request that got no response: refused (closed early) or timed out."""
        s = self.server
        # pynetdicom aborts on timeout too, so only the elapsed time tells the two apart
        if time.monotonic() - started < 0.9 * s.timeout:
            return UnknownAE(f"PACS {s.describe()} refused the {operation} request and closed "
                             f"the association; it probably does not know our AE title "
                             f"'{s.our_ae_title}' (register it on the archive)")
        return PacsError(f"PACS {s.describe()}: no answer to the {operation} request within "
                         f"{s.timeout:g} s")

    @staticmethod
    def _status_text(status) -> str:
        if not status or "Status" not in status:
            return "no response"
        code = int(status.Status)
        text = f"status 0x{code:04X} {code_to_category(code).lower()}"
        comment = status.get("ErrorComment")
        return f"{text}: {comment}" if comment else text


_TRANSPORT_LOG = logging.getLogger("pynetdicom.transport")


class _ConnectErrors(logging.Handler):
    """Keeps the reason pynetdicom logs (but does not raise) when a connection fails."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("TCP Initialisation Error:") and not self.reason:
            self.reason = message.split(":", 1)[1].strip()


def _no_delay(event) -> None:
    """Send small PDUs at once: with Nagle's algorithm each C-STORE waits ~40 ms for an ACK."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    try:
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _read_header(path: Path) -> Dataset:
    try:
        ds = dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError) as exc:
        raise InputError(f"not a readable DICOM file ({exc})", str(path)) from None
    if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds or "TransferSyntaxUID" not in \
            getattr(ds, "file_meta", {}):
        raise InputError("DICOM file lacks SOP Class/Instance UID or transfer syntax", str(path))
    return ds
