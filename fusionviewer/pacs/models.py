"""Query terms and results of a PACS search, shared by the DIMSE and DICOMweb transports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

_DATE = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class Query:
    """Study search terms; empty fields match anything. Names accept DICOM wildcards (* ?)."""

    patient_name: str = ""
    patient_id: str = ""
    date_from: str = ""  # YYYYMMDD
    date_to: str = ""  # YYYYMMDD
    modality: str = ""  # e.g. "CT"; matched against the study's modalities / series modality
    accession: str = ""
    study_uid: str = ""

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name).replace("-", "").strip()
            if value and not _DATE.match(value):
                raise InputError(f"{name.replace('_', ' ')} '{getattr(self, name)}' is not a "
                                 "date (expected YYYYMMDD or YYYY-MM-DD)")
            object.__setattr__(self, name, value)

    @property
    def date_range(self) -> str:
        """The DICOM date-range matching string ("", "D", "D1-", "-D2" or "D1-D2")."""
        if not self.date_from and not self.date_to:
            return ""
        if self.date_from == self.date_to:
            return self.date_from
        return f"{self.date_from}-{self.date_to}"


@dataclass(frozen=True)
class StudyInfo:
    study_uid: str
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    description: str = ""
    accession: str = ""
    modalities: tuple[str, ...] = ()
    num_series: int | None = None
    num_instances: int | None = None


@dataclass(frozen=True)
class SeriesInfo:
    study_uid: str
    series_uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    num_instances: int | None = None


@dataclass(frozen=True)
class InstanceResult:
    """The outcome of sending one file: ``ok`` and a short message (status or reason)."""

    path: Path
    sop_instance_uid: str
    ok: bool
    message: str = ""


@dataclass
class StoreReport:
    """Per-instance results of a store, in the order the files were given."""

    results: list[InstanceResult] = field(default_factory=list)

    @property
    def succeeded(self) -> list[InstanceResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[InstanceResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.failed

    def summary(self) -> str:
        return f"{len(self.succeeded)} of {len(self.results)} instance(s) stored"
