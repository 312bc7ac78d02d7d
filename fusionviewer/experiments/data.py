"""The experiments' data: Harvard val pairs under the gray protocol, and the published rows.

Gray protocol (shared docs/baselines_val.md): 8-bit gray sources, RGB converted with
rint(0.299 R + 0.587 G + 0.114 B); fused results are rounded to 8 bits before scoring.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
# Folder of image a and image b per task, which of the two is functional, the gray-protocol reader.
from ..training.data import FUNCTIONAL_INDEX, TASK_FOLDERS, TASKS, read_gray_u8  # noqa: F401


@dataclass(frozen=True)
class Pair:
    """One registered pair of the data set: task, file name, case, slice, split."""

    task: str
    name: str
    case: int
    slice: int
    split: str

    @property
    def key(self) -> str:
        return f"{self.task}/{self.name}"

    @property
    def functional(self) -> int:
        """Index (0 or 1) of the functional source: CT, PET or SPECT."""
        return FUNCTIONAL_INDEX[self.task]

    @property
    def labels(self) -> tuple[str, str]:
        """Metric labels of the two sources: MI_fun / MI_mri as in baselines_val.md."""
        return ("fun", "mri") if self.functional == 0 else ("mri", "fun")

    @property
    def modalities(self) -> tuple[str, str]:
        return tuple(f.upper() for f in TASK_FOLDERS[self.task])  # type: ignore[return-value]


def default_data_dir(repo_root: Path) -> Path:
    """../shared/data/harvard beside the repository (the project layout)."""
    return repo_root.parent / "shared" / "data" / "harvard"


def check_data_dir(path: Path) -> Path:
    """The data folder if it holds manifest.csv, else InputError saying what is expected."""
    path = Path(path)
    if not (path / "manifest.csv").is_file():
        raise InputError("no Harvard pair data here (expected manifest.csv and ct-mri/, pet-mri/, "
                         "spect-mri/ folders); pass --data DIR", str(path))
    return path


def read_manifest(data_dir: Path) -> list[Pair]:
    """All pairs of manifest.csv, in file order."""
    path = Path(data_dir) / "manifest.csv"
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [Pair(r["task"], r["name"], int(r["case"]), int(r["slice"]), r["split"])
                for r in rows]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"cannot read the manifest: {exc}", str(path)) from exc


def val_pairs(pairs: list[Pair], task: str) -> list[Pair]:
    """The val pairs of one task, sorted by case and slice."""
    return sorted((p for p in pairs if p.task == task and p.split == "val"),
                  key=lambda p: (p.case, p.slice))


def pick(pairs: list[Pair], n: int | None, seed: int) -> list[Pair]:
    """n pairs spread evenly over the sorted list (all when n is None or >= len), seeded offset."""
    if n is None or n >= len(pairs):
        return list(pairs)
    if n <= 0:
        return []
    step = len(pairs) / n
    offset = np.random.default_rng(seed).uniform(0, step)
    return [pairs[min(len(pairs) - 1, int(offset + k * step))] for k in range(n)]


def load_pair(data_dir: Path, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Image a and image b of a pair as float64 gray 0..255 (see the module docstring)."""
    fa, fb = TASK_FOLDERS[pair.task]
    base = Path(data_dir) / pair.task
    return (read_gray_u8(base / fa / pair.name).astype(np.float64),
            read_gray_u8(base / fb / pair.name).astype(np.float64))


_ROW_NAMES = {"IFCNN": "IFCNN-MAX", "DenseFuse": "DenseFuse"}


def read_baseline_tables(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Every row of baselines_val.md's tables: {task: {row label: {column: value}}}.

    Labels and cells lose their markdown emphasis (``**0.555**`` -> 0.555); non-numbers are skipped.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    task = None
    header: list[str] | None = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^###\s+(\S+)", line)
        if m:
            task, header = m.group(1), None
            continue
        if task is None or not line.startswith("|"):
            continue
        cells = [c.strip().replace("*", "") for c in line.strip().strip("|").split("|")]
        if cells[0] == "Method":
            header = cells
            continue
        if header is None or set(cells[0]) <= set("-: "):
            continue
        row = {}
        for col, cell in zip(header[1:], cells[1:]):
            try:
                row[col] = float(cell)
            except ValueError:
                continue
        out.setdefault(task, {})[cells[0]] = row
    return out


def parse_baselines(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Published rows of baselines_val.md: {task: {method: {column: value}}} (IFCNN, DenseFuse).

    Columns are those of the file (EN, SD, ..., CClow, ms/pair); bold marks are dropped.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for task, rows in read_baseline_tables(path).items():
        if task not in TASKS:
            continue
        for label, row in rows.items():
            for short, prefix in _ROW_NAMES.items():
                if label.startswith(prefix):
                    out.setdefault(task, {})[short] = row
    return out


def baselines_file(data_dir: Path) -> Path | None:
    """docs/baselines_val.md in the data folder's sibling docs (shared/docs), when present."""
    candidate = Path(data_dir).resolve().parent.parent / "docs" / "baselines_val.md"
    return candidate if candidate.is_file() else None
