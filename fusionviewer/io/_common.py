"""Shared helpers of the loaders and writers: the voxel limit and atomic, no-clobber writes."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError

# Refuse images above this many voxels (colour channels included) before reading pixel data:
# 2**30 voxels is 1 GiB at 8 bits and 4 GiB as float32, far beyond any CT/MR/PET study.
MAX_VOXELS = 2 ** 30


def check_voxel_count(count: int, path: str | Path) -> None:
    """Raise InputError if an image of ``count`` voxels is too large to load."""
    if count > MAX_VOXELS:
        raise InputError(f"image too large: {count} voxels exceeds the limit of {MAX_VOXELS} "
                         "(2**30)", str(path))


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception as one short line for an InputError message."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text[:limit]


def same_file(a: str | Path, b: str | Path) -> bool:
    """True if both paths name the same file (resolved, existing or not)."""
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def check_target(path: Path, *, force: bool, protected: Iterable[str | Path] = ()) -> None:
    """Raise InputError if writing ``path`` would clobber a source or (without force) an output."""
    for src in protected:
        if src and same_file(path, src):
            raise InputError("refusing to write over a source file", str(path))
    if path.exists() and not force:
        raise InputError("output exists (use --force / force=True to overwrite)", str(path))
    if path.is_dir():
        raise InputError("output path is a folder, expected a file", str(path))
    if not path.parent.is_dir():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the output folder: {exc.strerror}",
                             str(path.parent)) from None


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path`` (same suffixes); rename it onto ``path`` on success."""
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates the file 0600; give the output the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", str(path)) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
