"""Experiment 5: convergence of the bundled model, from the training log committed in models/.

The log is JSON written by ``fusionviewer.training``; this module reads the loss per iteration
and any validation metrics from it without retraining (a full training run is its own command).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import model_path
from .context import Context, Section
from .markdown import fmt, table, write_csv
from .plotting import new_figure, save

NUMBER = 5
TITLE = "Convergence of the training"
X_KEYS = ("iteration", "iter", "step", "it", "iterations", "steps", "epoch")


def find_log(folder: Path | None = None) -> Path | None:
    """The training log beside the bundled weights: the JSON file in models/ with a loss series."""
    folder = Path(folder) if folder is not None else model_path()
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.json")):
        try:
            if extract_series(json.loads(path.read_text(encoding="utf-8")))[1]:
                return path
        except (OSError, ValueError):
            continue
    return None


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 1 and all(
        isinstance(x, (int, float)) or x is None for x in v)


def extract_series(obj: Any) -> tuple[str, dict[str, tuple[list[float], list[float]]]]:
    """(x name, {series name: (x, y)}) from a log: records [{iteration, loss, ...}] or
    parallel lists {iteration: [...], loss: [...]}, searched recursively."""
    if isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj):
        xkey = next((k for k in X_KEYS if k in obj[0]), None)
        if xkey is not None:
            keys = []
            for r in obj:
                keys += [k for k, v in r.items() if k != xkey and k not in keys
                         and isinstance(v, (int, float)) and not isinstance(v, bool)]
            out = {}
            for k in keys:
                pts = [(r[xkey], r[k]) for r in obj if isinstance(r.get(k), (int, float))
                       and math.isfinite(r[k])]
                if len(pts) > 1:
                    out[k] = ([p[0] for p in pts], [p[1] for p in pts])
            if any("loss" in k.lower() for k in out):
                return xkey, out
    if isinstance(obj, dict):
        xkey = next((k for k in X_KEYS if _numbers(obj.get(k))), None)
        if xkey is not None:
            xs = obj[xkey]
            out = {k: ([x for x, y in zip(xs, v) if y is not None],
                       [y for y in v if y is not None])
                   for k, v in obj.items() if k != xkey and _numbers(v) and len(v) == len(xs)}
            if any("loss" in k.lower() for k in out):
                return xkey, out
        for key in sorted(obj, key=lambda k: ("loss" not in str(k).lower(), "log" not in str(k))):
            found = extract_series(obj[key])
            if found[1]:
                return found
    return "", {}


def run(ctx: Context) -> Section:
    """Plot the loss (and validation metric) curves of the bundled weights' training log."""
    log = find_log()
    if log is None:
        return Section(NUMBER, TITLE, "No training log (a JSON file with a loss series) was found "
                       "in `models/`, so there is no curve to show.")
    data = json.loads(log.read_text(encoding="utf-8"))
    xkey, series = extract_series(data)
    losses = {k: v for k, v in series.items() if "loss" in k.lower()}
    others = {k: v for k, v in series.items() if k not in losses and "time" not in k.lower()
              and k.lower() not in ("lr", "learning_rate")}
    fig = new_figure(10 if others else 5.5, 3.8)
    ax = fig.add_subplot(1, 2 if others else 1, 1)
    for k, (x, y) in losses.items():
        ax.plot(x, y, lw=0.6, alpha=0.5 if len(y) > 50 else 1.0, label=f"{k} per {xkey}")
        if len(y) > 50:  # the per-iteration loss is noisy: add its running mean
            w = max(5, len(y) // 40)
            ax.plot(x[w - 1:], np.convolve(y, np.ones(w) / w, mode="valid"), lw=1.5,
                    label=f"{k}, running mean of {w}")
    if all(v > 0 for _, y in losses.values() for v in y):
        ax.set_yscale("log")
    ax.set_xlabel(f"{xkey} (training {xkey}s)" if xkey != "epoch" else "epoch")
    cfg = data.get("config") if isinstance(data, dict) else None
    if isinstance(cfg, dict):
        from ..training.config import loss_label

        ax.set_ylabel(loss_label(cfg), fontsize=7)
    else:
        ax.set_ylabel("loss (unitless)", fontsize=8)
    ax.set_title("training loss", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    if others:
        ax2 = fig.add_subplot(1, 2, 2)
        for k, (x, y) in others.items():
            ax2.plot(x, y, marker="o", ms=2, lw=1, label=k)
        ax2.set_xlabel(xkey)
        ax2.set_ylabel("validation value (metric units)")
        ax2.set_title("logged validation / other series", fontsize=10)
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=7)
    fig.tight_layout()
    name = save(fig, ctx.out / "convergence.png")
    rows = []
    for k, (x, y) in series.items():
        rows += [{"series": k, xkey: xv, "value": yv} for xv, yv in zip(x, y)]
    write_csv(ctx.out / "convergence.csv", rows, ["series", xkey, "value"])
    trows = []
    for k, (x, y) in series.items():
        tail = y[max(0, len(y) - max(1, len(y) // 10)):]
        trows.append([k, str(len(y)), fmt(y[0], 4), fmt(y[-1], 4), fmt(min(y), 4),
                      fmt(sum(tail) / len(tail), 4)])
    facts = []
    if isinstance(data, dict):
        if isinstance(data.get("seconds"), (int, float)):
            facts.append(f"training time {data['seconds'] / 60:.1f} min")
        if isinstance(data.get("hardware"), str):
            facts.append(f"hardware: {data['hardware']}")
        if isinstance(data.get("parameters"), int):
            facts.append(f"{data['parameters']:,} parameters")
        if isinstance(data.get("pairs"), list):
            facts.append(f"{len(data['pairs'])} training pairs")
        logged = data.get("sha256")
        if isinstance(logged, str):
            from ..fusion.weights import default_weights_path, sha256_file

            path = default_weights_path()
            current = sha256_file(path) if path.is_file() else None
            facts.append("weights SHA-256 in the log " + (
                "matches the bundled file" if logged == current else
                f"({logged[:12]}...) differs from the bundled file "
                f"({(current or 'missing')[:12]}...): the curve is not that of these weights"))
    body = [f"Read from `models/{log.name}`, the log written when the bundled weights were "
            "trained (no retraining here)" + (f"; as logged: {'; '.join(facts)}" if facts else "")
            + "." + ("" if others else " The log holds no validation metric per iteration, "
                     "so only the training loss is shown.") + "\n",
            table(["series", "points", "first", "last", "min", "mean of last 10 %"], trows),
            f"\n![Training convergence]({name})", "\nData: `convergence.csv`."]
    head = []
    for k, (x, y) in losses.items():
        head.append(f"Convergence: {k} {fmt(y[0], 4)} at {xkey} {x[0]:g} → {fmt(y[-1], 4)} at "
                    f"{xkey} {x[-1]:g}.")
        break
    return Section(NUMBER, TITLE, "\n".join(body), files=[name, "convergence.csv"], headline=head)
