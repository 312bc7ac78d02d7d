"""A cohort as a CSV manifest: one row per pair (source1, source2, ... paths; optional name and
modality1, modality2, ... hints); relative paths are relative to the manifest's folder.

Example::

    name,source1,source2,modality1,modality2
    case001,ct/case001,mr/case001.nii.gz,CT,MR
    case002,/data/ct/002,/data/mr/002.nii.gz,,
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..errors import InputError
from ..image import canonical_modality
from .batch import BatchPair

_SOURCE = re.compile(r"^source(\d+)$")
_MODALITY = re.compile(r"^modality(\d+)$")


def read_manifest(path: str | Path) -> list[BatchPair]:
    """The manifest's pairs in file order; InputError (naming the line) for a bad manifest.

    Missing source files are not checked here: such a pair fails in the batch like any other.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            records = [{(k or "").strip(): (v or "").strip() for k, v in r.items()}
                       for r in reader]
    except FileNotFoundError:
        raise InputError("manifest not found", str(path)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the manifest: {exc}", str(path)) from None
    n = _count_sources(header, path)
    unknown = [h for h in header
               if h != "name" and not _SOURCE.match(h) and not _MODALITY.match(h)]
    if unknown:
        raise InputError(f"unknown manifest column(s) {', '.join(unknown)} (allowed: name, "
                         f"source1..source{n}, modality1..modality{n})", str(path))
    pairs: list[BatchPair] = []
    seen: dict[str, int] = {}
    for line, rec in enumerate(records, start=2):
        if not any(rec.values()):
            continue
        sources = [rec.get(f"source{k}", "") for k in range(1, n + 1)]
        if not all(sources):
            raise InputError(f"line {line}: every row needs {n} sources "
                             f"(source1..source{n})", str(path))
        inputs = tuple(p if p.is_absolute() else path.parent / p for p in map(Path, sources))
        name = rec.get("name") or inputs[0].name
        if "/" in name or name in (".", "..") or name.startswith("."):
            raise InputError(f"line {line}: output name '{name}' must be a plain file name",
                             str(path))
        if name in seen:
            raise InputError(f"line {line}: output name '{name}' also on line {seen[name]} "
                             "(add a unique name column)", str(path))
        seen[name] = line
        hints = [rec.get(f"modality{k}") or None for k in range(1, n + 1)]
        for hint in hints:
            if hint:
                try:
                    canonical_modality(hint)
                except InputError as exc:
                    raise InputError(f"line {line}: {exc}", str(path)) from None
        pairs.append(BatchPair(name, inputs, tuple(hints) if any(hints) else None))
    if not pairs:
        raise InputError("the manifest lists no pairs", str(path))
    return pairs


def _count_sources(header: list[str], path: Path) -> int:
    numbers = sorted(int(m.group(1)) for h in header if (m := _SOURCE.match(h)))
    if len(numbers) < 2 or numbers != list(range(1, len(numbers) + 1)):
        raise InputError("a manifest needs columns source1, source2 (and source3, ... for more "
                         f"sources); found {', '.join(header) or 'no header'}", str(path))
    return len(numbers)
