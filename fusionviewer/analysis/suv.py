"""SUV from PET DICOM tags (QIBA FDG-PET/CT profile; the conventions of Slicer's PET DICOM
extension): ``suv_factor(tags)`` gives the factor that turns Bq/ml into SUVbw (g/ml) and, when
height and sex are known, SUVlbm with the Janmahasatian (2005) lean body mass. Missing or
inconsistent tags give no factor and a note saying why: values then stay in Bq/ml.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

MAX_UPTAKE_HOURS = 24.0  # an injection-to-scan delay beyond this is treated as inconsistent


@dataclass(frozen=True)
class SuvFactors:
    """Multiply Bq/ml by ``bw`` (SUVbw) or ``lbm`` (SUVlbm); None where not computable."""

    bw: float | None
    lbm: float | None = None
    note: str = ""                      # why SUV is missing, or how it was computed
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.bw is not None


def parse_dicom_time(text: str) -> datetime.time | None:
    """DICOM TM ('HHMMSS.FFFFFF', 'HHMM', 'HH:MM:SS') -> time, None if unreadable."""
    s = str(text or "").strip().replace(":", "")
    if not s:
        return None
    try:
        main, _, frac = s.partition(".")
        hh, mm = int(main[0:2]), int(main[2:4] or 0)
        ss = int(main[4:6] or 0)
        micro = int((frac + "000000")[:6]) if frac else 0
        return datetime.time(hh, mm, ss, micro)
    except (ValueError, IndexError):
        return None


def parse_dicom_date(text: str) -> datetime.date | None:
    """DICOM DA ('YYYYMMDD') -> date, None if unreadable."""
    s = str(text or "").strip().replace("-", "").replace(".", "")
    try:
        return datetime.date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    except (ValueError, IndexError):
        return None


def parse_dicom_datetime(text: str) -> datetime.datetime | None:
    """DICOM DT ('YYYYMMDDHHMMSS.FFFFFF', any UTC offset ignored) -> datetime, None if unreadable."""
    s = str(text or "").strip()
    for sign in "+-":
        if sign in s[8:]:
            s = s[:8] + s[8:].split(sign)[0]
    date = parse_dicom_date(s[:8])
    if date is None:
        return None
    time = parse_dicom_time(s[8:]) if len(s) > 8 else datetime.time(0, 0)
    return None if time is None else datetime.datetime.combine(date, time)


def scan_datetime(tags: dict) -> datetime.datetime | None:
    """The scan start (QIBA): SeriesDate/Time, unless after the earliest AcquisitionDate/Time."""
    series_date = parse_dicom_date(tags.get("SeriesDate", ""))
    series_time = parse_dicom_time(tags.get("SeriesTime", ""))
    acq_date = parse_dicom_date(tags.get("AcquisitionDate", "")) or series_date
    acq_time = parse_dicom_time(tags.get("AcquisitionTime", ""))
    series = (datetime.datetime.combine(series_date, series_time)
              if series_date and series_time else None)
    acq = datetime.datetime.combine(acq_date, acq_time) if acq_date and acq_time else None
    if series is None:
        return acq
    if acq is not None and acq < series:
        return acq
    return series


def injection_datetime(tags: dict, scan: datetime.datetime) -> datetime.datetime | None:
    """RadiopharmaceuticalStartDateTime, else StartTime on the scan's date (the day before when
    that time is later than the scan: an injection before midnight, a scan after it)."""
    dt = parse_dicom_datetime(tags.get("RadiopharmaceuticalStartDateTime", ""))
    if dt is not None:
        return dt
    t = parse_dicom_time(tags.get("RadiopharmaceuticalStartTime", ""))
    if t is None:
        return None
    start = datetime.datetime.combine(scan.date(), t)
    if start > scan:
        start -= datetime.timedelta(days=1)
    return start


def lean_body_mass_kg(weight_kg: float, height_m: float, sex: str) -> float | None:
    """Janmahasatian (2005) lean body mass in kg, as recommended for SUL by PERCIST; None if sex
    is not M or F."""
    bmi = weight_kg / (height_m ** 2)
    if sex == "M":
        return 9270.0 * weight_kg / (6680.0 + 216.0 * bmi)
    if sex == "F":
        return 9270.0 * weight_kg / (8780.0 + 244.0 * bmi)
    return None


def _number(tags: dict, key: str) -> float | None:
    try:
        value = float(tags.get(key))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def suv_factor(tags: dict) -> SuvFactors:
    """SUV factors from a flat dict of PET tags (keywords of io/suv.read_suv_tags): Units,
    DecayCorrection, CorrectedImage, PatientWeight (kg), PatientSize (m), PatientSex, Series/
    Acquisition Date/Time, RadionuclideTotalDose (Bq), RadionuclideHalfLife (s),
    RadiopharmaceuticalStartDateTime / StartTime."""
    def missing(why: str) -> SuvFactors:
        return SuvFactors(None, None, f"no SUV: {why}; values in Bq/ml")

    units = str(tags.get("Units", "")).strip().upper()
    if units != "BQML":
        return SuvFactors(None, None, f"no SUV: Units is {units or 'missing'} (not BQML)")
    weight = _number(tags, "PatientWeight")
    if weight is None or not 1.0 <= weight <= 500.0:
        return missing("PatientWeight missing or implausible")
    dose = _number(tags, "RadionuclideTotalDose")
    if dose is None or dose <= 0:
        return missing("RadionuclideTotalDose missing")
    half_life = _number(tags, "RadionuclideHalfLife")
    if half_life is None or half_life <= 0:
        return missing("RadionuclideHalfLife missing")
    corrected = str(tags.get("CorrectedImage", "")).upper()
    if corrected and "DECY" not in corrected:
        return missing("CorrectedImage lacks DECY (not decay corrected)")
    decay_corr = str(tags.get("DecayCorrection", "")).strip().upper()
    details = {"weight_kg": weight, "dose_bq": dose, "half_life_s": half_life,
               "decay_correction": decay_corr}
    if decay_corr == "ADMIN":
        decayed = dose
        details["decay_s"] = 0.0
    elif decay_corr == "START":
        scan = scan_datetime(tags)
        if scan is None:
            return missing("series/acquisition time missing")
        start = injection_datetime(tags, scan)
        if start is None:
            return missing("radiopharmaceutical start time missing")
        delay = (scan - start).total_seconds()
        if not 0.0 <= delay <= MAX_UPTAKE_HOURS * 3600.0:
            return missing(f"injection {start:%Y-%m-%d %H:%M:%S} is not before the scan "
                           f"{scan:%Y-%m-%d %H:%M:%S}")
        decayed = dose * 2.0 ** (-delay / half_life)
        details.update(decay_s=delay, injection=start.isoformat(), scan=scan.isoformat())
    else:
        return missing(f"DecayCorrection {decay_corr or 'missing'} (START or ADMIN needed)")
    bw = weight * 1000.0 / decayed
    details["decayed_dose_bq"] = decayed
    lbm = None
    note = f"SUVbw = Bq/ml x {weight:g} kg / {decayed / 1e6:.4g} MBq (decay-corrected dose)"
    height = _number(tags, "PatientSize")
    sex = str(tags.get("PatientSex", "")).strip().upper()
    if height is not None and 0.5 <= height <= 2.5:
        mass = lean_body_mass_kg(weight, height, sex)
        if mass is not None:
            lbm = mass * 1000.0 / decayed
            details["lbm_kg"] = mass
            note += f"; SUVlbm (Janmahasatian) with LBM {mass:.1f} kg"
    return SuvFactors(bw, lbm, note, details)
