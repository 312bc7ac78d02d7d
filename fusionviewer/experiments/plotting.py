"""Figures for the report, drawn with matplotlib's Agg canvas (no pyplot, no display, no Qt)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ..metrics import metric_info

DPI = 90


def metric_label(key: str) -> str:
    """'Qabf' -> 'Qabf', 'AG' -> 'AG (grey levels)', 'time_s' -> 'time (s)'."""
    if key == "time_s":
        return "time per pair (s)"
    if key == "time_ms":
        return "time per pair (ms)"
    if key == "dwhole_max":
        return "max |tiled - whole| (grey levels)"
    if key == "dwhole_mean":
        return "mean |tiled - whole| (grey levels)"
    try:
        unit = metric_info(key).get("unit", "")
    except KeyError:
        unit = ""
    return f"{key} ({unit})" if unit else f"{key} (unitless)"


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: Path) -> str:
    """Write the figure as PNG; returns the file name."""
    fig.savefig(path, dpi=DPI)
    return Path(path).name


def errorbar_grid(path: Path, x: Sequence[float], series: dict[str, dict[str, tuple]],
                  metrics: Sequence[str], xlabel: str, title: str,
                  xticklabels: Sequence[str] | None = None, ncols: int = 4,
                  logy: Sequence[str] = ()) -> str:
    """One panel per metric: mean +- std (error bars) against x, one line per series; the
    metrics in ``logy`` get a logarithmic y axis."""
    n = len(metrics)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    height = 2.7 * nrows + 0.9  # 0.9 in on top for the title and the legend
    fig = new_figure(3.4 * ncols, height)
    xs = np.asarray(x, dtype=float)
    span = float(xs.max() - xs.min()) if xs.size > 1 else 1.0
    for k, key in enumerate(metrics):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        for j, (label, data) in enumerate(series.items()):
            if key not in data:
                continue
            mean, std = (np.asarray(v, dtype=float) for v in data[key])
            shift = (j - (len(series) - 1) / 2) * 0.015 * span  # keep error bars apart
            ax.errorbar(xs + shift, mean, yerr=std, marker="o", ms=3, capsize=2, lw=1,
                        label=label)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(metric_label(key), fontsize=8)
        ax.tick_params(labelsize=7)
        if key in logy:
            ax.set_yscale("log")
        if xticklabels is not None:
            ax.set_xticks(xs)
            ax.set_xticklabels(xticklabels, fontsize=7)
        ax.grid(alpha=0.3)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 5), fontsize=8,
               bbox_to_anchor=(0.5, 1 - 0.35 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.9 / height))
    return save(fig, path)


def image_grid(path: Path, rows: Sequence[Sequence[tuple[str, np.ndarray]]], title: str,
               row_labels: Sequence[str] | None = None, cell: float = 1.9) -> str:
    """A grid of gray images (0..255) with a title over each; rows may differ in length."""
    nrows = len(rows)
    ncols = max(len(r) for r in rows)
    fig = new_figure(cell * ncols + (0.4 if row_labels else 0), cell * nrows + 0.5)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = fig.add_subplot(nrows, ncols, i * ncols + j + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(row):
                ax.axis("off")
                continue
            label, img = row[j]
            ax.imshow(np.asarray(img), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(label, fontsize=7)
            if row_labels and j == 0:
                ax.set_ylabel(row_labels[i], fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / (cell * nrows + 0.5)))
    return save(fig, path)


def line_plot(path: Path, series: dict[str, tuple[Sequence[float], Sequence[float]]],
              xlabel: str, ylabel: str, title: str, logx: bool = False, logy: bool = False,
              errors: dict[str, Sequence[float]] | None = None, width: float = 5.5,
              height: float = 3.8, xticks: Sequence[float] | None = None) -> str:
    """Lines y(x), one per series, optional error bars, optional log axes."""
    fig = new_figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    for label, (xv, yv) in series.items():
        err = None if errors is None else errors.get(label)
        ax.errorbar(xv, yv, yerr=err, marker="o", ms=3, capsize=2, lw=1, label=label)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    if xticks is not None:
        ax.set_xticks(list(xticks))
        ax.set_xticklabels([f"{v:g}" for v in xticks])
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)
