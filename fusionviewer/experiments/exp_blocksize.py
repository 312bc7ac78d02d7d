"""Experiment 3: CNN tile size 2**i (i = 1..8) and the whole image, every metric and time."""

from __future__ import annotations

import time

import numpy as np

from ..progress import check_cancel, report
from .context import Context, Section
from .data import TASKS, load_pair, pick, val_pairs
from .fusing import fuse_u8, score
from .markdown import fmt, mean_std, table, write_csv, write_json
from .plotting import errorbar_grid

NUMBER = 3
TITLE = "Block size"
# every metric (the paper's first: error, entropy, mean, gradient, REL, SSIM), then time
PLOT = ("dwhole_max", "dwhole_mean", "RMSE", "PSNR_R", "SSIM_R", "REL", "EN", "MEAN", "AG",
        "SD", "SF", "EOG", "MI", "MI_fun", "MI_mri", "Qabf", "VIF", "SSIM", "Q0", "QW", "QE",
        "CClow", "SCD", "CC", "PSNR", "time_s")
CSV = PLOT
TABLE = ("dwhole_max", "dwhole_mean", "RMSE", "REL", "SSIM_R", "EN", "AG", "Qabf", "VIF",
         "CClow", "time_s")


def i_label(i: int | None) -> str:
    return "whole" if i is None else str(i)


def run(ctx: Context) -> Section:
    """Fuse the chosen pairs with the CNN at every tile size and score against the target."""
    cfg = ctx.config
    if not ctx.has_cnn:
        return Section(NUMBER, TITLE, "The block size applies to the CNN only, and the CNN could "
                       f"not be loaded here ({ctx.cnn_note}), so this experiment did not run.")
    exps = cfg.block_exponents
    # a subset of the Table 1 pairs (their teacher targets are built once), tasks interleaved so
    # that a shortened run still covers every task
    chosen = {t: pick(pick(val_pairs(ctx.manifest, t), cfg.table_pairs, cfg.seed),
                      cfg.block_pairs, cfg.seed) for t in TASKS}
    todo = [chosen[t][k] for k in range(max(map(len, chosen.values()), default=0))
            for t in TASKS if k < len(chosen[t])]
    inputs = {}
    for pair in todo:
        a, b = load_pair(cfg.data, pair)
        inputs[pair.key] = (a, b, ctx.targets.get(pair, a, b))
    fuse_u8("cnn", list(inputs[todo[0].key][:2]), device=cfg.device)  # warm-up, not timed
    rows = []
    whole = {}  # whole-image fusion per pair, the reference of the tiled runs
    skipped = {}

    def run_one(i, pair) -> float:
        a, b, target = inputs[pair.key]
        fused, seconds = fuse_u8("cnn", [a, b], block_size=None if i is None else 2 ** i,
                                 device=cfg.device)
        if i is None:
            whole[pair.key] = fused
        m = score(fused, [a, b], pair.functional, pair.labels, target)
        diff = np.abs(fused - whole[pair.key])
        rows.append({"task": pair.task, "pair": pair.name, "i": i_label(i),
                     "block_px": "whole" if i is None else 2 ** i, "time_s": seconds,
                     "dwhole_max": float(diff.max()), "dwhole_mean": float(diff.mean()), **m})
        return seconds

    # Large tiles first: the cost grows about 4x per halving (a halo around every tile). Each i
    # runs on as many pairs as fit in half the remaining budget (all of it for the last i),
    # at least one, so the budget reaches the small tiles; tasks are interleaved in `todo`.
    t_start = time.perf_counter()
    order = sorted((i for i in exps if i is not None), reverse=True)
    for pair in todo:
        run_one(None, pair)
    prev_time, prev_i = sum(r["time_s"] for r in rows) / max(1, len(rows)), 9
    for n, i in enumerate(order):
        check_cancel(ctx.cancel)
        estimate = prev_time * 4.0 ** max(1, prev_i - i)
        remaining = cfg.block_budget_s - (time.perf_counter() - t_start)
        if estimate > remaining:
            skipped.update({i_label(j): estimate * 4.0 ** (i - j) for j in order[n:]})
            break
        share = remaining if n == len(order) - 1 else remaining / 2
        count = max(1, min(len(todo), int(share // max(estimate, 1e-9))))
        times = [run_one(i, pair) for pair in todo[:count]]
        prev_time, prev_i = sum(times) / len(times), i
        report(ctx.progress, "block size", (n + 1) / len(order))
    exps = tuple(i for i in exps if i_label(i) not in skipped)

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
    write_csv(ctx.out / "blocksize_per_pair.csv", rows, ["task", "pair", "i", "block_px"]
              + [k for k in CSV if rows and k in rows[0]])
    write_json(ctx.out / "blocksize_summary.json",
               {"pairs": [p.key for p in todo], "exponents": [i_label(i) for i in exps],
                "summary": summary, "skipped_estimated_s_per_pair": skipped})
    fig = errorbar_grid(ctx.out / "blocksize_metrics.png", x, series, metrics,
                        "i (tile = 2^i px; last = whole image)",
                        f"CNN tile size: mean ± std over pairs per task ({len(todo)} pairs; "
                        "RMSE, PSNR_R, SSIM_R, REL against the teacher's target)",
                        xticklabels=[i_label(i) for i in exps], ncols=6, logy=("time_s",))
    pooled = {i_label(i): {key: mean_std([r[key] for r in rows if r["i"] == i_label(i)])[0]
                           for key in TABLE if key in metrics} for i in exps}
    counts = {i_label(i): sum(r["i"] == i_label(i) for r in rows) for i in exps}
    hdr = ["i", "tile (px)", "pairs"] + [k for k in TABLE if k in metrics]
    trows = [[i_label(i), "whole" if i is None else str(2 ** i), str(counts[i_label(i)])]
             + [pooled[i_label(i)][k] for k in hdr[3:]] for i in exps]
    skip_note = ""
    if skipped:
        skip_note = (" Not run within this run's time budget for the study "
                     f"({cfg.block_budget_s:.0f} s): " + ", ".join(
                         f"i = {k} (estimated {v:.0f} s per pair)" for k, v in skipped.items())
                     + "; estimates are the measured time per pair at the smallest tile run, "
                     "times 4 per halving"
                     + f". Each tile is processed with a {_halo()}-pixel halo of real neighbours, "
                     "so the work grows about fourfold per halving of the tile.")
    if any(counts[k] < len(todo) for k in counts):
        skip_note += (" Small tiles ran on fewer pairs where the budget required it (column "
                      "'pairs'; each tile size on as many pairs as fitted in half the remaining "
                      "budget, tasks in turn).")
    body = [f"The CNN fused {len(todo)} val pairs ({', '.join(sorted(summary))}) in overlapping "
            "tiles of 2^i × 2^i pixels (blended by the inference module) and as a whole image. "
            "Time is the wall time per 256×256 pair on this machine (after one warm-up call); "
            "dwhole_max and dwhole_mean are the largest and the mean absolute difference, in grey "
            "levels, between the tiled and the whole-image fusion of the same pair."
            + skip_note + " Mean over the pairs, selected metrics (every metric per task in the "
            "figure and the CSV):\n", table(hdr, trows), f"\n![Block size study]({fig})",
            "\nData: `blocksize_per_pair.csv`, `blocksize_summary.json`."]
    return Section(NUMBER, TITLE, "\n".join(body),
                   files=[fig, "blocksize_per_pair.csv", "blocksize_summary.json"],
                   headline=_headline(rows, exps) if rows else [], data={"pooled": pooled})


def _halo() -> str:
    """The inference module's halo in pixels (as text), for the report."""
    from ..fusion import inference

    return str(getattr(inference, "HALO", "?"))


def _headline(rows: list[dict], exps: tuple) -> list[str]:
    """Values at the smallest tile, at i = 4 (the paper's largest) and for the whole image, on
    the pairs that ran at all three."""
    points = [i_label(exps[0])] + (["4"] if 4 in exps and exps[0] != 4 else []) + [
        i_label(exps[-1])]
    common = set.intersection(*({(r["task"], r["pair"]) for r in rows if r["i"] == p}
                                for p in points))
    keys = [k for k in ("dwhole_max", "Qabf", "VIF", "EN", "AG", "RMSE", "SSIM_R", "time_s")
            if rows and k in rows[0]]
    val = {p: {k: mean_std([r[k] for r in rows if r["i"] == p
                            and (r["task"], r["pair"]) in common])[0] for k in keys}
           for p in points}
    return [f"Block size (i = {' / '.join(points)}, mean over the {len(common)} pairs run at "
            "all of them; dwhole_max = largest grey-level difference to the whole-image "
            "fusion): " + ", ".join(f"{k} " + " / ".join(fmt(val[p][k]) for p in points)
                                   for k in keys) + "."]
