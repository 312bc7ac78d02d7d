"""Experiment 3: CNN tile size 2**i (i = 1..8) and the whole image, every metric and time."""

from __future__ import annotations

from ..progress import check_cancel, report
from .context import Context, Section
from .data import TASKS, load_pair, pick, val_pairs
from .fusing import fuse_u8, score
from .markdown import fmt, mean_std, table, write_csv, write_json
from .plotting import errorbar_grid

NUMBER = 3
TITLE = "Block size"
PLOT = ("RMSE", "PSNR_R", "SSIM_R", "REL", "EN", "MEAN", "AG", "SD", "SF", "EOG", "MI", "Qabf",
        "VIF", "SSIM", "Q0", "QW", "QE", "CClow", "SCD", "CC", "PSNR", "time_s")
TABLE = ("RMSE", "REL", "SSIM_R", "EN", "AG", "Qabf", "VIF", "CClow", "time_s")


def i_label(i: int | None) -> str:
    return "whole" if i is None else str(i)


def run(ctx: Context) -> Section:
    """Fuse the chosen pairs with the CNN at every tile size and score against the target."""
    cfg = ctx.config
    if not ctx.has_cnn:
        return Section(NUMBER, TITLE, "The block size applies to the CNN only, and the CNN could "
                       f"not be loaded here ({ctx.cnn_note}), so this experiment did not run.")
    exps = cfg.block_exponents
    todo = [p for t in TASKS for p in pick(val_pairs(ctx.manifest, t), cfg.block_pairs, cfg.seed)]
    rows = []
    for k, pair in enumerate(todo):
        a, b = load_pair(cfg.data, pair)
        target = ctx.targets.get(pair, a, b)
        fuse_u8("cnn", [a, b], device=cfg.device)  # warm-up, not timed
        for i in exps:
            check_cancel(ctx.cancel)
            fused, seconds = fuse_u8("cnn", [a, b], block_size=None if i is None else 2 ** i,
                                     device=cfg.device)
            m = score(fused, [a, b], pair.functional, pair.labels, target)
            rows.append({"task": pair.task, "pair": pair.name, "i": i_label(i),
                         "block_px": "whole" if i is None else 2 ** i, "time_s": seconds, **m})
        report(ctx.progress, "block size", (k + 1) / max(1, len(todo)))

    metrics = [key for key in PLOT if rows and key in rows[0]]
    x = [i if i is not None else max(e for e in exps if e is not None) + 1 for i in exps]
    series = {}
    summary = {}
    for task in TASKS:
        sel = [r for r in rows if r["task"] == task]
        if not sel:
            continue
        summary[task] = {i_label(i): {key: mean_std([r[key] for r in sel if r["i"] == i_label(i)])
                                      for key in metrics} for i in exps}
        series[task] = {key: ([summary[task][i_label(i)][key][0] for i in exps],
                              [summary[task][i_label(i)][key][1] for i in exps]) for key in metrics}
    write_csv(ctx.out / "blocksize_per_pair.csv", rows,
              ["task", "pair", "i", "block_px"] + metrics)
    write_json(ctx.out / "blocksize_summary.json",
               {"pairs": [p.key for p in todo], "exponents": [i_label(i) for i in exps],
                "summary": summary})
    fig = errorbar_grid(ctx.out / "blocksize_metrics.png", x, series, metrics,
                        "i (tile = 2^i px; last = whole image)",
                        f"CNN tile size: mean ± std over pairs per task ({len(todo)} pairs; "
                        "RMSE, PSNR_R, SSIM_R, REL against the teacher's target)",
                        xticklabels=[i_label(i) for i in exps], ncols=5)
    pooled = {i_label(i): {key: mean_std([r[key] for r in rows if r["i"] == i_label(i)])[0]
                           for key in TABLE if key in metrics} for i in exps}
    hdr = ["i", "tile (px)"] + [k for k in TABLE if k in metrics]
    trows = [[i_label(i), "whole" if i is None else str(2 ** i)]
             + [pooled[i_label(i)][k] for k in hdr[2:]] for i in exps]
    body = [f"The CNN fused {len(todo)} val pairs ({', '.join(sorted(summary))}) in overlapping "
            "tiles of 2^i × 2^i pixels (blended by the inference module) and as a whole image. "
            "Time is the wall time per 256×256 pair on this machine (after one warm-up call). "
            "Mean over all pairs, selected metrics (all metrics per task in the figure and the "
            "CSV):\n", table(hdr, trows), f"\n![Block size study]({fig})",
            "\nData: `blocksize_per_pair.csv`, `blocksize_summary.json`."]
    return Section(NUMBER, TITLE, "\n".join(body),
                   files=[fig, "blocksize_per_pair.csv", "blocksize_summary.json"],
                   headline=_headline(pooled, exps), data={"pooled": pooled})


def _headline(pooled: dict, exps: tuple) -> list[str]:
    first, last = i_label(exps[0]), i_label(exps[-1])
    p, q = pooled[first], pooled[last]
    keys = [k for k in ("Qabf", "VIF", "EN", "AG", "RMSE", "time_s") if k in p]
    return [f"Block size: from i = {first} to {last}: " + ", ".join(
        f"{k} {fmt(p[k])} → {fmt(q[k])}" for k in keys) + "."]
