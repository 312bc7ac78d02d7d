"""Which image a path means: series detection, the modality guess from file names, the demo pair.

``load_source`` is the one loader the front ends use: a folder holding several DICOM series
without a chosen one raises ``SeveralSeries`` (the GUI asks the user, the CLI names the UIDs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ..image import Image, canonical_modality
from ..progress import ProgressCallback, check_cancel, report, sub_progress

# Folder/file name tokens that name a modality (the Harvard layout: ct-mri/ct/2010.png).
_MODALITY_TOKENS = {"ct": "CT", "mr": "MR", "mri": "MR", "t1": "MR", "t2": "MR", "pet": "PT",
                    "pt": "PT", "spect": "NM", "nm": "NM"}
# The bundled sample tasks, in the order the demo tries them.
SAMPLE_TASKS = ("pet-mri", "ct-mri", "spect-mri")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


class SeveralSeries(InputError):
    """A folder holds several DICOM series and none was chosen; ``series`` lists them."""

    def __init__(self, path: str, series: list):
        lines = "; ".join(f"{s.uid} ({s.line()})" if hasattr(s, "line") else s.uid
                          for s in series)
        super().__init__(f"the folder holds {len(series)} DICOM series; choose one with "
                         f"--series UID: {lines}", path)
        self.series = series


def guess_modality(path: str | Path) -> str | None:
    """A modality hint from the file or parent-folder name (non-DICOM files carry none)."""
    p = Path(path)
    stem = p.name[:-7] if p.name.lower().endswith(".nii.gz") else p.stem
    for part in [stem, p.parent.name]:
        tokens = [t for t in re.split(r"[^a-z0-9]+", part.lower()) if t]
        hits = {_MODALITY_TOKENS[t] for t in tokens if t in _MODALITY_TOKENS}
        if len(hits) == 1:
            return hits.pop()
    return None


def load_source(path: str | Path, *, series_uid: str | None = None,
                modality: str | None = None, progress: ProgressCallback | None = None,
                cancel=None) -> Image:
    """Load one source in its own units; several series and no ``series_uid`` -> SeveralSeries."""
    from ..io import list_series, load_image

    path = Path(path)
    if not path.exists():
        raise InputError("file or folder not found", str(path))
    if path.is_dir() and series_uid is None:
        series = list_series(path)
        if len(series) > 1:
            raise SeveralSeries(str(path), series)
    hint = canonical_modality(modality) if modality else None
    image = load_image(path, series_uid=series_uid or None, modality=hint, progress=progress,
                       cancel=cancel)
    image.check_finite(str(path))
    return image


def load_sources(paths: Sequence[str | Path], modalities: Sequence[str | None] | None = None,
                 series_uids: Sequence[str | None] | None = None, *,
                 progress: ProgressCallback | None = None, cancel=None) -> list[Image]:
    """Load every source; modality hints (None: guessed from the name) and series per source."""
    n = len(paths)
    modalities = list(modalities) if modalities is not None else [None] * n
    series_uids = list(series_uids) if series_uids is not None else [None] * n
    if len(modalities) != n or len(series_uids) != n:
        raise InputError(f"give one modality and one series entry per source ({n} sources)")
    images = []
    for k, path in enumerate(paths):
        check_cancel(cancel)
        hint = modalities[k] or guess_modality(path)
        images.append(load_source(path, series_uid=series_uids[k], modality=hint,
                                  progress=sub_progress(progress, k / n, (k + 1) / n),
                                  cancel=cancel))
        report(progress, "loading", (k + 1) / n)
    return images


def demo_pair(task: str | None = None, root: Path | None = None
              ) -> tuple[list[Path], list[str | None]]:
    """Two files of a bundled sample pair (MRI first) and their modalities.

    Layouts under ``samples_dir()``: ``<task>/<modality>/<name>.png`` (the Harvard data set) or
    ``<task>/<anything>_<modality>.png`` with exactly two images.
    """
    from ..paths import samples_dir

    root = Path(root) if root is not None else samples_dir()
    wanted = [task] if task else list(SAMPLE_TASKS)
    tasks = [root / t for t in wanted if (root / t).is_dir()]
    for folder in tasks:
        subdirs = sorted(d for d in folder.iterdir()
                         if d.is_dir() and d.name.lower() in _MODALITY_TOKENS)
        if len(subdirs) >= 2:
            names = [{p.name for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
                     for d in subdirs]
            common = sorted(set.intersection(*names))
            if common:
                return _mri_first([d / common[0] for d in subdirs])
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) == 2:
            return _mri_first(files)
    raise InputError(f"no bundled sample pair found (expected a {', '.join(wanted)} folder)",
                     str(root))


def _mri_first(files: list[Path]) -> tuple[list[Path], list[str | None]]:
    files = sorted(files, key=lambda p: 0 if guess_modality(p) == "MR" else 1)
    return files, [guess_modality(f) for f in files]
