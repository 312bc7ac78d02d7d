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
        self._anonymizer.anonymize(ds)
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = "FusionViewer: dicognito, DICOM basic confidentiality profile"


ANONYMOUS_CSV_NOTE = "# de-identified: no patient name, ID or dates"
