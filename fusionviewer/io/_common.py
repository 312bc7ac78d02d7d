"""Shared helpers of the loaders: the voxel limit and one-line error messages."""

from __future__ import annotations

from pathlib import Path

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
