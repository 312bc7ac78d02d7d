"""Experiment 4: disturbance of the inputs (Gaussian noise, salt-and-pepper) against the metrics.

The paper's "primary" and "secondary" random disturbances are not specified; here they are
read as Gaussian noise of sigma 5 and 10 grey levels. Noisy inputs are rounded to 8 bits (as a
noisy PNG would be); the fused image is scored against the *clean* sources, so the metrics say
how much of the true content survives the noise.
"""

from __future__ import annotations

import numpy as np

from ..progress import check_cancel, report
from .context import Context, Section
from .data import TASKS, load_pair, pick, val_pairs
from .fusing import LABELS, fuse_u8, score
from .markdown import fmt, mean_std, table, write_csv, write_json
from .plotting import errorbar_grid, image_grid

NUMBER = 4
TITLE = "Disturbance: noise on the inputs"
PLOT = ("Qabf", "VIF", "MI", "SSIM", "CClow", "QW", "PSNR", "EN", "SD", "AG", "SF", "SCD")
DELTA = ("Qabf", "VIF", "SSIM", "MI", "CClow")


def level_label(level: str) -> str:
    """'gauss:5' -> 'σ=5', 'sp:0.01' -> 's&p 1%'."""
    kind, value = level.split(":")
    if kind == "gauss":
        return f"σ={float(value):g}"
    return f"s&p {float(value) * 100:g}%"


def disturb(image: np.ndarray, level: str, rng: np.random.Generator) -> np.ndarray:
    """A 0..255 image with the disturbance applied, rounded and clipped to 8 bits."""
    kind, value = level.split(":")
    v = float(value)
    x = np.asarray(image, dtype=np.float64)
    if kind == "gauss":
        if v == 0:
            return x.copy()
        return np.clip(np.rint(x + rng.normal(0.0, v, x.shape)), 0, 255)
    if kind == "sp":
        u = rng.random(x.shape)
        out = x.copy()
        out[u < v / 2] = 0.0
        out[(u >= v / 2) & (u < v)] = 255.0
        return out
    raise ValueError(f"unknown disturbance {level!r}")


def run(ctx: Context) -> Section:
    """Fuse disturbed copies of the chosen pairs with every method; metrics vs the clean sources."""
    cfg = ctx.config
    levels = cfg.noise_levels
    todo = [p for t in TASKS for p in pick(val_pairs(ctx.manifest, t), cfg.noise_pairs, cfg.seed)]
    rows = []
    example = None
    for k, pair in enumerate(todo):
        a, b = load_pair(cfg.data, pair)
        grid = {}
        for li, level in enumerate(levels):
            check_cancel(ctx.cancel)
            # one seed per (run seed, pair, level): every method sees the same noisy inputs
            rng = np.random.default_rng([cfg.seed, NUMBER, k, li])
            na, nb = disturb(a, level, rng), disturb(b, level, rng)
            grid[level] = {"A": na, "B": nb}
            for method in ctx.methods:
                fused, seconds = fuse_u8(method, [na, nb], device=cfg.device)
                grid[level][method] = fused
                m = score(fused, [a, b], pair.functional, pair.labels)
                rows.append({"task": pair.task, "pair": pair.name, "level": level,
                             "method": method, "time_ms": seconds * 1000.0, **m})
        if example is None or (pair.task == "spect-mri" and example[0].task != "spect-mri"):
            example = (pair, grid)
        report(ctx.progress, "disturbance", (k + 1) / max(1, len(todo)))

    metrics = [k for k in PLOT if rows and k in rows[0]]
    summary = {m: {lv: {key: mean_std([r[key] for r in rows if r["method"] == m
                                       and r["level"] == lv]) for key in metrics}
                   for lv in levels} for m in ctx.methods}
    deltas = _deltas(rows, ctx.methods, levels)
    write_csv(ctx.out / "noise_per_pair.csv", rows,
              ["task", "pair", "level", "method", "time_ms"] + metrics)
    write_json(ctx.out / "noise_summary.json",
               {"levels": list(levels), "pairs": [p.key for p in todo], "summary": summary,
                "delta_from_clean": deltas})

    series = {LABELS[m]: {key: ([summary[m][lv][key][0] for lv in levels],
                                [summary[m][lv][key][1] for lv in levels]) for key in metrics}
              for m in ctx.methods}
    files = []
    if rows:
        files.append(errorbar_grid(ctx.out / "noise_metrics.png", range(len(levels)), series,
                                   metrics, "disturbance of both inputs",
                                   f"Metrics against input noise (mean ± std over {len(todo)} "
                                   "pairs, scored against the clean sources)",
                                   xticklabels=[level_label(lv) for lv in levels]))
    if example is not None:
        pair, grid = example
        rows_img = [[(f"{name} {level_label(lv)}", grid[lv][key]) for lv in levels]
                    for key, name in (("A", pair.modalities[0]), ("B", pair.modalities[1]))]
        rows_img += [[(f"{LABELS[m].split(' (')[0]} {level_label(lv)}", grid[lv][m])
                      for lv in levels] for m in ctx.methods]
        files.append(image_grid(ctx.out / "noise_examples.png", rows_img,
                                f"{pair.key}: disturbed inputs (top two rows) and fused images",
                                row_labels=[pair.modalities[0], pair.modalities[1]]
                                + [m for m in ctx.methods]))

    body = [__doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
            f"\n{len(todo)} val pairs ({', '.join(sorted({p.task for p in todo}))}), levels: "
            f"{', '.join(level_label(lv) for lv in levels)}. Change of each metric from the clean "
            "input (mean over pairs; negative = worse for every metric shown):\n"]
    hdr = ["Metric", "Method"] + [level_label(lv) for lv in levels[1:]]
    body.append(table(hdr, [[key if j == 0 else "", LABELS[m]]
                            + [deltas[m][lv][key] for lv in levels[1:]]
                            for key in DELTA for j, m in enumerate(ctx.methods)]))
    for f in files:
        body.append(f"\n![{f}]({f})")
    body.append("\nData: `noise_per_pair.csv`, `noise_summary.json`.")
    return Section(NUMBER, TITLE, "\n".join(body), files=files + ["noise_per_pair.csv",
                                                                  "noise_summary.json"],
                   headline=_headline(ctx, deltas, levels), data={"deltas": deltas})


def _deltas(rows: list[dict], methods: list[str], levels: tuple[str, ...]) -> dict:
    """{method: {level: {metric: mean over pairs of (metric at level - metric clean)}}}."""
    clean = {(r["task"], r["pair"], r["method"]): r for r in rows if r["level"] == levels[0]}
    out: dict = {}
    for m in methods:
        for lv in levels[1:]:
            sel = [r for r in rows if r["method"] == m and r["level"] == lv]
            out.setdefault(m, {})[lv] = {
                key: mean_std([r[key] - clean[(r["task"], r["pair"], m)][key] for r in sel])[0]
                for key in DELTA}
    return out


def _headline(ctx: Context, deltas: dict, levels: tuple[str, ...]) -> list[str]:
    parts = []
    for lv in levels[1:]:
        cells = ", ".join(f"{LABELS[m].split(' (')[0]} {fmt(deltas[m][lv]['Qabf'])}/"
                          f"{fmt(deltas[m][lv]['VIF'])}" for m in ctx.methods)
        parts.append(f"{level_label(lv)}: {cells}")
    return ["Noise (change of Qabf/VIF from the clean input, vs the clean sources): "
            + "; ".join(parts) + "."]
