"""The local folder retrieved series are written to: visible to the user, clearable, ours only.

Layout: ``<cache>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``. A retrieve
writes into a ``.partial-*`` sibling first and renames it into place when complete, so a
cancelled or failed retrieve never leaves a half series where a finished one is expected.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import InputError

_SAFE = re.compile(r"[^0-9A-Za-z._-]")
MARKER = ".fusionviewer-pacs-cache"  # written into the root; clear_cache refuses other folders


def default_cache_dir() -> Path:
    """The platform's user cache folder + fusionviewer/pacs (env FUSIONVIEWER_PACS_CACHE wins)."""
    override = os.environ.get("FUSIONVIEWER_PACS_CACHE")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "fusionviewer" / "Cache" / "pacs"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "fusionviewer" / "pacs"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fusionviewer" / "pacs"


def _root(cache_dir: str | os.PathLike | None) -> Path:
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if root.exists() and not root.is_dir():
        raise InputError("the PACS cache is not a folder", str(root))
    if root.is_dir() and any(root.iterdir()) and not (root / MARKER).exists():
        raise InputError("this folder is not empty and is not a FusionViewer PACS cache; "
                         "choose an empty or new folder", str(root))
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).touch()
    return root


def series_dir(study_uid: str, series_uid: str, cache_dir=None) -> Path:
    """Where a retrieved series lives in the cache (not created)."""
    return _root(cache_dir) / _SAFE.sub("_", study_uid) / _SAFE.sub("_", series_uid)


def partial_dir(final: Path) -> Path:
    """A fresh temporary sibling of ``final`` to retrieve into."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".partial-{final.name[-16:]}-", dir=final.parent))


def commit_dir(partial: Path, final: Path) -> Path:
    """Replace ``final`` by the completed ``partial`` folder."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


def cache_size(cache_dir=None) -> tuple[int, int]:
    """(number of files, total bytes) held in the cache."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    files = [p for p in root.rglob("*.dcm") if p.is_file()] if root.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def clear_cache(cache_dir=None) -> int:
    """Delete every retrieved series; returns the number of files removed."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not root.is_dir():
        return 0
    if not (root / MARKER).exists():
        raise InputError("refusing to clear a folder that is not a FusionViewer PACS cache",
                         str(root))
    count = cache_size(root)[0]
    for child in root.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return count
