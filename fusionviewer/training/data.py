"""The Harvard training pairs (shared/data/harvard): manifest rows and gray 8-bit sources."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..image import LUMA_WEIGHTS

TASK_FOLDERS = {"ct-mri": ("ct", "mri"), "pet-mri": ("mri", "pet"), "spect-mri": ("mri", "spect")}
FUNCTIONAL_INDEX = {"ct-mri": 0, "pet-mri": 1, "spect-mri": 1}  # which of (a, b) is CT/PET/SPECT
TASKS = tuple(TASK_FOLDERS)


def default_data_root() -> Path:
    """../shared/data/harvard beside the source tree (training only; the app never reads it)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "harvard"


@dataclass(frozen=True)
class Pair:
    task: str
    name: str
    split: str
    path_a: Path
    path_b: Path

    @property
    def functional(self) -> int:
        return FUNCTIONAL_INDEX[self.task]

    @property
    def key(self) -> str:
        return f"{self.task}/{self.name}"


def read_gray_u8(path: Path) -> np.ndarray:
    """An 8-bit PNG as uint8 gray; RGB -> rint(0.299 R + 0.587 G + 0.114 B) (metrics.md)."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as im:
            arr = np.asarray(im)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read image ({exc})", str(path)) from None
    if arr.ndim == 3:
        arr = np.rint(arr[..., :3].astype(np.float64) @ LUMA_WEIGHTS)
    return np.clip(arr, 0, 255).astype(np.uint8)


def list_pairs(root: str | Path | None = None, split: str | None = None,
               tasks: tuple[str, ...] = TASKS) -> list[Pair]:
    """Pairs of manifest.csv in file order, filtered by split and task."""
    root = Path(root) if root else default_data_root()
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise InputError("manifest.csv not found (is the Harvard data set there?)", str(root))
    out = []
    with open(manifest, newline="") as fh:
        for row in csv.DictReader(fh):
            if (split and row["split"] != split) or row["task"] not in tasks:
                continue
            fa, fb = TASK_FOLDERS[row["task"]]
            out.append(Pair(row["task"], row["name"], row["split"],
                            root / row["task"] / fa / row["name"],
                            root / row["task"] / fb / row["name"]))
    return out


def load_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """The two sources of a pair as uint8 gray arrays."""
    return read_gray_u8(pair.path_a), read_gray_u8(pair.path_b)
