"""Paths and readers for the shared Harvard pairs, importable by every test module.

Kept out of conftest.py because several conftest.py files exist (tests/gui, tests/pacs) and
``from harvard_data import ...`` would pick whichever was imported first.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
HARVARD = SHARED / "data" / "harvard"

# Folder of image a and image b per task (see shared/data/harvard/README.md).
TASK_FOLDERS = {"ct-mri": ("ct", "mri"), "pet-mri": ("mri", "pet"), "spect-mri": ("mri", "spect")}


def harvard_rows(task: str | None = None, split: str | None = None) -> list[dict]:
    """Rows of manifest.csv, filtered by task and split."""
    with open(HARVARD / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if (task is None or r["task"] == task)
            and (split is None or r["split"] == split)]


def harvard_pair_paths(task: str, name: str) -> tuple[Path, Path]:
    """Paths of image a and image b of one pair."""
    fa, fb = TASK_FOLDERS[task]
    return HARVARD / task / fa / name, HARVARD / task / fb / name


def read_gray_u8(path: Path) -> np.ndarray:
    """A Harvard PNG as uint8 gray, RGB converted as in shared/docs/metrics.md."""
    from PIL import Image as PILImage

    arr = np.asarray(PILImage.open(path))
    if arr.ndim == 3:
        arr = np.rint(arr[..., :3].astype(np.float64) @ [0.299, 0.587, 0.114])
    return np.clip(arr, 0, 255).astype(np.uint8)
