"""Contribution and residual images of the current slice, computed in a worker and cached."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..analysis.contribution import (SOURCE_COLOURS, contribution_rgb, contribution_shares,
                                     residual)
from ..analysis.explain import source_stack
from .workers import TaskRunner


def explain_slice(result, k: int, mode: str) -> np.ndarray:
    """Contribution: the fused slice coloured by each source's share, (H, W, 3). Residual:
    |source - best local linear fit from the fused slice| of each source, side by side."""
    stack = source_stack(result, k)
    fused = result.fused_gray[k]
    if mode == "contribution":
        return contribution_rgb(fused, contribution_shares(result.method, stack))
    maps = [np.abs(residual(s, fused)) for s in stack]
    gap = np.zeros((stack.shape[1], 2), np.float32)
    parts = []
    for m in maps:
        parts += [m, gap]
    return np.concatenate(parts[:-1], axis=1)


def legend_html(names: list[str]) -> str:
    """Coloured squares naming each source's colour in the contribution mode."""
    items = []
    for i, name in enumerate(names):
        r, g, b = (int(v * 255) for v in SOURCE_COLOURS[i % len(SOURCE_COLOURS)])
        items.append(f"<span style='color: rgb({r},{g},{b}); font-size: 14px;'>■</span> {name}")
    return "&nbsp;&nbsp;".join(items)


class ExplainCache(QObject):
    """``get(result, k, mode)`` returns the image or None and starts computing it; ``ready``
    fires when it arrives."""

    ready = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = TaskRunner(self, max_threads=1)
        self.cache: dict = {}
        self.pending: set = set()

    def get(self, result, k: int, mode: str):
        key = (id(result), k, mode)
        if key in self.cache:
            return self.cache[key][1]
        if key not in self.pending:
            self.pending.add(key)
            self.runner.start(explain_slice, result, k, mode, name="explaining",
                              finished=lambda out, key=key, r=result: self._done(key, r, out),
                              done=lambda key=key: self.pending.discard(key))
        return None

    def _done(self, key, result, out) -> None:
        if len(self.cache) > 64:
            self.cache.clear()
        self.cache[key] = (result, out)  # keeps the result alive so its id stays unique
        self.ready.emit()

    def close(self) -> None:
        self.runner.close()
