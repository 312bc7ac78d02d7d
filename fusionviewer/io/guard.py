"""The one output guard: where FusionViewer may write, and how (atomically, never half-written).

``check_destination`` runs before any work: the destination is not a source file and not
inside a source series folder, not a device or special file, its folder exists (or can be
made) and takes a file, the disk has room for the expected size, and an existing output needs
``force``. ``atomic_path`` / ``atomic_folder`` write into a temporary file or folder beside the
destination and move it into place only after the writer succeeded and the size is right; any
failure removes the temporary and raises ``InputError("PATH: problem")``.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import InputError

# Headroom on top of an expected output size when checking the free disk space.
_SPACE_MARGIN = 1.05


def same_file(a: str | Path, b: str | Path) -> bool:
    """True if both paths name the same file (resolved, existing or not; hard links too)."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return Path(a).exists() and Path(b).exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path == folder or folder in path.parents
    except OSError:
        return False


def check_destination(path: str | Path, *, force: bool = False,
                      sources: Iterable[str | Path] = (),
                      series_folders: Iterable[str | Path] = (),
                      expected_bytes: int | None = None, folder: bool = False) -> Path:
    """Raise InputError unless FusionViewer may write ``path`` (a file, or with ``folder`` a
    folder of files); returns the path. ``sources``: input files and folders, never written;
    ``series_folders``: folders holding a source series, never written into."""
    path = Path(path)
    target = path.resolve()
    for src in sources:
        if src and same_file(target, src):
            raise InputError("refusing to write over a source file", str(path))
        if src and Path(src).is_dir() and _inside(target, Path(src).resolve()):
            raise InputError("refusing to write into a source folder (it holds a loaded series)", str(path))
    for series in series_folders:
        if series and _inside(target, Path(series).resolve()):
            raise InputError("refusing to write into a source folder (it holds a loaded series)", str(path))
    if path.exists() or path.is_symlink():
        _check_existing(path, force, folder)
    _check_folder_writable(path.parent, path)
    if folder and path.is_dir():
        _check_folder_writable(path, path)
    if expected_bytes:
        existing = path.parent
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        _check_space(path, existing, expected_bytes)
    return path


def _check_existing(path: Path, force: bool, folder: bool) -> None:
    mode = os.stat(path).st_mode if path.exists() else 0
    if path.exists() and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError("not a regular file (a device or special file); choose a file name",
                         str(path))
    if folder:
        if not path.is_dir():
            raise InputError("a file exists there; this output needs a folder", str(path))
        if any(path.iterdir()) and not force:
            raise InputError("output folder exists and is not empty (use --force to overwrite)",
                             str(path))
        return
    if path.is_dir():
        raise InputError("output is a folder; give a file name", str(path))
    if not force:
        raise InputError("output exists (use --force to overwrite)", str(path))


def _check_folder_writable(folder: Path, path: Path) -> None:
    """``folder`` (or, when missing, its nearest existing ancestor, where the writer will make
    it) takes a new file; nothing is created here. Errors name ``path``, the destination."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"cannot write there: {folder} is not a folder", str(path))
    try:  # the only reliable test (read-only mounts, /proc, immutable folders, root's access())
        fd, probe = tempfile.mkstemp(prefix=".fusionviewer-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write in the folder {folder}: {exc.strerror or exc}",
                         str(path)) from None


def _check_space(path: Path, folder: Path, expected_bytes: int) -> None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < expected_bytes * _SPACE_MARGIN:
        raise InputError(f"not enough free disk space: about {_size(expected_bytes)} needed, "
                         f"{_size(free)} free", str(path))


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fail(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write: {exc.strerror or exc}", str(path))


@contextmanager
def atomic_path(path: str | Path, verify: Callable[[Path], str | None] | None = None
                ) -> Iterator[Path]:
    """Yield a temp path beside ``path`` (same suffixes); move it onto ``path`` on success.

    ``verify(tmp)`` may return a problem ("truncated: ...") to reject the written file.
    """
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp" + suffix,
                                   dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _fail(path, exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _flush(tmp_path)
        if tmp_path.stat().st_size == 0:
            raise InputError("cannot write: nothing was written (disk full?)", str(path))
        problem = verify(tmp_path) if verify else None
        if problem:
            raise InputError(f"cannot write: {problem}", str(path))
        # mkstemp creates the file 0600; give the output the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    except OSError as exc:
        raise _fail(path, exc) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _flush(path: Path) -> None:
    """fsync, so that a full disk shows now (delayed allocation) and not after the rename."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_folder(folder: str | Path, stale: Callable[[Path], bool] | None = None
                  ) -> Iterator[Path]:
    """Yield a temp folder beside ``folder``; on success its files move into ``folder`` (made
    if missing), and files of ``folder`` for which ``stale(path)`` is true are removed."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    except OSError as exc:
        raise _fail(folder, exc) from None
    try:
        yield tmp
        for p in tmp.iterdir():
            _flush(p)
        if not folder.exists():
            os.chmod(tmp, 0o777 & ~_current_umask())
            os.rename(tmp, folder)
            return
        new = {p.name for p in tmp.iterdir()}
        for p in tmp.iterdir():
            os.replace(p, folder / p.name)
        if stale is not None:
            for old in folder.iterdir():
                if old.name not in new and stale(old):
                    old.unlink()
    except OSError as exc:
        raise _fail(folder, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
