"""De-identification of exported DICOM with dicognito (DICOM PS3.15 basic confidentiality
profile: names, IDs, dates, institutions replaced; UIDs remapped consistently by one
``Anonymiser`` across a series and its references)."""

from __future__ import annotations


class Anonymiser:
    """One de-identification session: the same source UID always maps to the same new UID."""

    def __init__(self, seed: str | None = None):
        from dicognito.anonymizer import Anonymizer

        self._anonymizer = Anonymizer(seed=seed)

    def __call__(self, ds) -> None:
        """De-identify a pydicom Dataset in place; marks PatientIdentityRemoved YES."""
        _plain_dates(ds)
        self._anonymizer.anonymize(ds)
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = "FusionViewer: dicognito, DICOM basic confidentiality profile"


ANONYMOUS_CSV_NOTE = "# de-identified: no patient name, ID or dates"


def _plain_dates(ds) -> None:
    """DA/TM/DT values held as Python date/time objects (highdicom) -> DICOM strings, and empty
    text values None -> '': what dicognito reads."""
    import datetime

    formats = {"DA": "%Y%m%d", "TM": "%H%M%S.%f", "DT": "%Y%m%d%H%M%S.%f"}
    for elem in ds.iterall():
        fmt = formats.get(elem.VR)
        if fmt and isinstance(elem.value, (datetime.date, datetime.time)):
            elem.value = elem.value.strftime(fmt)
        elif elem.value is None and elem.VR in ("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO",
                                                "LT", "PN", "SH", "ST", "TM", "UI", "UT"):
            elem.value = ""
