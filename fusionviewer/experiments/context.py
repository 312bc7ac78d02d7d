"""Settings of one experiments run (full or quick) and the state the experiments share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..progress import ProgressCallback
from .data import Pair


@dataclass(frozen=True)
class Config:
    """What to run. ``pairs`` (per task) overrides every pair count; None keeps the defaults."""

    out: Path
    data: Path
    quick: bool = False
    pairs: int | None = None
    seed: int = 0
    device: str = "cpu"

    def _n(self, full: int | None, quick: int) -> int | None:
        if self.pairs is not None:
            return self.pairs
        return quick if self.quick else full

    @property
    def tiny(self) -> bool:
        """--quick --pairs 1: the smallest run (CI), with the lightest speed study."""
        return self.quick and self.pairs is not None and self.pairs <= 1

    @property
    def table_pairs(self) -> int | None:
        return self._n(10, 2)

    @property
    def comparison_pairs(self) -> int | None:
        return self._n(None, 3)  # None: the whole val split

    @property
    def block_pairs(self) -> int | None:
        return self._n(4, 1)

    @property
    def noise_pairs(self) -> int | None:
        return self._n(10, 1)

    @property
    def block_exponents(self) -> tuple[int | None, ...]:
        """Tile size 2**i per entry; None = whole image."""
        # tiles below 2**4 = BLOCK_SIZES[0] are not offered (a 64-px halo per tile: minutes a slice)
        return (4, 6, 8, None) if self.quick else (4, 5, 6, 7, 8, None)

    @property
    def block_budget_s(self) -> float:
        """Seconds the block-size study may spend; smaller tiles beyond it are skipped."""
        return 15.0 if self.tiny else 40.0 if self.quick else 900.0

    @property
    def noise_levels(self) -> tuple[str, ...]:
        """Disturbances: 'gauss:<sigma in grey levels>' or 'sp:<fraction>'."""
        if self.quick:
            return ("gauss:0", "gauss:10", "sp:0.01")
        return ("gauss:0", "gauss:5", "gauss:10", "gauss:20", "sp:0.01")

    @property
    def speed_sizes(self) -> tuple[int, ...]:
        if self.tiny:
            return (128, 256)
        return (128, 256, 512) if self.quick else (128, 256, 512, 1024)

    @property
    def speed_batches(self) -> tuple[int, ...]:
        if self.tiny:
            return (1, 4)
        return (1, 4, 16) if self.quick else (1, 2, 4, 8, 16, 32)

    @property
    def speed_repeats(self) -> int:
        return 1 if self.tiny else 3 if self.quick else 7


@dataclass
class Section:
    """One experiment's part of the report: its markdown and the files it wrote."""

    number: int
    title: str
    body: str
    files: list[str] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)  # sentences for the closing note
    data: dict[str, Any] = field(default_factory=dict)  # numbers other experiments may reuse


@dataclass
class Context:
    """Shared state: config, pairs, the methods that run here, targets, progress and cancel."""

    config: Config
    manifest: list[Pair]
    methods: list[str]
    cnn_note: str
    targets: Any  # TargetMaker
    baselines: dict | None
    baselines_note: str
    progress: ProgressCallback | None = None
    cancel: Any = None

    @property
    def out(self) -> Path:
        return self.config.out

    @property
    def has_cnn(self) -> bool:
        return "cnn" in self.methods

    @property
    def primary(self) -> str:
        """The method the CNN-only tables use: the CNN, else the app's fallback (GFF)."""
        return "cnn" if self.has_cnn else "gff"
