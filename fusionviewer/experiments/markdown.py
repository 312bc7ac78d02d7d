"""Small writers for the report: number formatting, markdown tables, CSV and JSON files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np


def fmt(v: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant decimals for small values; '–' for missing/inf."""
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    v = float(v)
    if not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "–")
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.{digits}f}"


def fmt_pm(mean: float, std: float) -> str:
    """'mean ± std' with matching precision."""
    return f"{fmt(mean)} ± {fmt(std)}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align_first_left: bool = True) -> str:
    """A GitHub markdown table; non-str cells go through fmt."""
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join(["---" if i == 0 and align_first_left else "---:"
                             for i in range(len(headers))]) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |")
    return "\n".join(lines)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation over the finite values (NaN when none)."""
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if a.size == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std())


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, Path):
        return str(x)
    return x


def write_json(path: Path, obj: Any) -> None:
    """Write obj as indented JSON; inf/NaN become null."""
    Path(path).write_text(json.dumps(_jsonable(obj), indent=1) + "\n", encoding="utf-8")


def write_csv(path: Path, rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Write dict rows as CSV with the given (or first-seen) column order; floats to 6 digits."""
    if columns is None:
        columns = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in rows:
            out = []
            for c in columns:
                v = r.get(c, "")
                if isinstance(v, (float, np.floating)):
                    v = f"{float(v):.6g}"
                out.append(v)
            w.writerow(out)
