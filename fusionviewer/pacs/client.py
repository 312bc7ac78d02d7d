"""The one entry point: ``PacsClient(server)`` picks the transport and manages the cache folder."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from ..progress import check_cancel
from . import cache
from .config import PacsServer
from .dicomweb import DicomWebClient
from .dimse import DimseClient
from .errors import PartialRetrieve
from .models import Query, SeriesInfo, StoreReport, StudyInfo

log = logging.getLogger(__name__)


class PacsClient:
    """Echo, search, retrieve into the cache and store, over DIMSE or DICOMweb."""

    def __init__(self, server: PacsServer, cache_dir: str | os.PathLike | None = None):
        self.server = server
        self.cache_dir = Path(cache_dir) if cache_dir is not None else cache.default_cache_dir()
        self.transport = (DicomWebClient(server) if server.transport == "dicomweb"
                          else DimseClient(server))

    def echo(self) -> float:
        """Check the server answers; returns the round-trip time in seconds."""
        return self.transport.echo()

    def find_studies(self, query: Query | None = None) -> list[StudyInfo]:
        """Studies matching the query (newest first)."""
        return self.transport.find_studies(query or Query())

    def find_series(self, study_uid: str, modality: str = "") -> list[SeriesInfo]:
        """The series of one study, optionally of one modality (by series number)."""
        if not study_uid:
            raise InputError("a study instance UID is needed to list its series")
        return self.transport.find_series(study_uid, modality)

    def retrieve_series(self, study_uid: str, series_uid: str, *, progress=None,
                        cancel=None) -> list[Path]:
        """Retrieve one series into the cache; returns its files (sorted paths).

        Files go to a temporary folder first and replace any earlier copy only when complete;
        on cancel or failure nothing is left behind (a PartialRetrieve keeps what arrived, in
        the cache, and lists it in ``.paths``).
        """
        check_cancel(cancel)
        final = cache.series_dir(study_uid, series_uid, self.cache_dir)
        partial = cache.partial_dir(final)
        try:
            self.transport.retrieve_series(study_uid, series_uid, partial, progress=progress,
                                           cancel=cancel)
        except PartialRetrieve as exc:
            folder = cache.commit_dir(partial, final)
            exc.paths = [folder / p.name for p in exc.paths]
            raise
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        folder = cache.commit_dir(partial, final)
        files = sorted(folder.glob("*.dcm"))
        log.info("retrieved %d instance(s) from %s into %s", len(files), self.server.describe(),
                 folder)
        return files

    def store(self, paths: Iterable[str | os.PathLike], *, progress=None,
              cancel=None) -> StoreReport:
        """Send DICOM files (or every .dcm file of given folders); per-instance results."""
        return self.transport.store(expand_paths(paths), progress=progress, cancel=cancel)


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders replaced by their DICOM files (``*.dcm`` or extension-less)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and
                           (f.suffix.lower() == ".dcm" or not f.suffix))
            if not found:
                raise InputError("no DICOM files in this folder", str(p))
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("no such file or folder", str(p))
    return out


__all__ = ["PacsClient", "expand_paths"]
