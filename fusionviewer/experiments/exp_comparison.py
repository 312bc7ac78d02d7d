"""Experiment 2: our CNN against average, Laplacian pyramid and GFF on the val split.

Published IFCNN and DenseFuse rows are copied from baselines_val.md as reference rows.
"""

from __future__ import annotations

import numpy as np

from ..progress import check_cancel, report
from .context import Context, Section
from .data import TASKS, load_pair, pick, val_pairs
from .fusing import LABELS, fuse_u8, score
from .markdown import fmt, fmt_pm, mean_std, table, write_csv, write_json
from .plotting import metric_label, new_figure, save

NUMBER = 2
TITLE = "Comparison with classical and published methods (val split)"
# The columns of baselines_val.md, in its order; the rest go into a second table.
MAIN = ("EN", "SD", "SF", "AG", "MI", "MI_fun", "MI_mri", "SCD", "VIF", "Qabf", "SSIM", "Q0",
        "QW", "QE", "CClow")
OTHER = ("MEAN", "EOG", "CC", "PSNR")
HEADLINE = ("Qabf", "VIF", "MI", "SSIM", "CClow")


def run(ctx: Context) -> Section:
    """Fuse every chosen val pair with every method, score, summarise, plot."""
    cfg = ctx.config
    rows = []
    todo = {t: pick(val_pairs(ctx.manifest, t), cfg.comparison_pairs, cfg.seed) for t in TASKS}
    total = sum(len(v) for v in todo.values()) or 1
    done = 0
    for task in TASKS:
        for pair in todo[task]:
            check_cancel(ctx.cancel)
            a, b = load_pair(cfg.data, pair)
            for method in ctx.methods:
                fused, seconds = fuse_u8(method, [a, b], device=cfg.device)
                m = score(fused, [a, b], pair.functional, pair.labels)
                rows.append({"task": task, "pair": pair.name, "method": method,
                             "time_ms": seconds * 1000.0, **m})
            done += 1
            report(ctx.progress, "comparison", done / total)

    metric_cols = list(MAIN) + list(OTHER)
    summary = summarise(rows, ctx.methods, metric_cols + ["time_ms"])
    for task in summary:  # timing: the median over pairs resists the spikes of a shared CPU
        for method in summary[task]:
            summary[task][method]["time_ms_median"] = float(np.median(
                [r["time_ms"] for r in rows if r["task"] == task and r["method"] == method]))
    write_csv(ctx.out / "comparison_per_pair.csv", rows,
              ["task", "pair", "method", "time_ms"] + metric_cols)
    write_json(ctx.out / "comparison_summary.json",
               {"pairs": {t: [p.name for p in todo[t]] for t in TASKS}, "summary": summary,
                "published": ctx.baselines or {}})
    fig = tradeoff_figure(ctx, summary)

    body = [f"Every method fuses the same {sum(len(v) for v in todo.values())} val pairs "
            f"({', '.join(f'{t}: {len(todo[t])}' for t in TASKS)}) under the gray protocol; "
            "cells are mean ± standard deviation over the pairs; ms/pair is the wall time of "
            "one fusion call on this machine (median over the pairs; inputs in memory, no file "
            "I/O; see section 7 for repeated timings). " + ctx.baselines_note]
    for task in TASKS:
        if not todo[task]:
            continue
        body.append(f"\n### {task} ({len(todo[task])} pairs)\n")
        trows = []
        for method in ctx.methods:
            s = summary[task][method]
            trows.append([LABELS[method]] + [fmt_pm(*s[k]) for k in MAIN]
                         + [fmt(s["time_ms_median"], 2)])
        for name, pub in (ctx.baselines or {}).get(task, {}).items():
            trows.append([f"*{name} (published, baselines_val.md)*"]
                         + [fmt(pub.get(k)) for k in MAIN] + [fmt(pub.get("ms/pair"), 2)])
        body.append(table(["Method"] + list(MAIN) + ["ms/pair"], trows))
        body.append("\nOther metrics (mean ± std):\n")
        body.append(table(["Method"] + list(OTHER),
                          [[LABELS[m]] + [fmt_pm(*summary[task][m][k]) for k in OTHER]
                           for m in ctx.methods]))
    body.append(f"\n![Edge and information metrics against functional fidelity]({fig})\n")
    body.append("Per-pair values: `comparison_per_pair.csv`; means and standard deviations: "
                "`comparison_summary.json`.")
    return Section(NUMBER, TITLE, "\n".join(body),
                   files=[fig, "comparison_per_pair.csv", "comparison_summary.json"],
                   headline=headline(ctx, summary), data={"summary": summary})


def summarise(rows: list[dict], methods: list[str], cols: list[str]) -> dict:
    """{task: {method: {col: (mean, std)}}} over the pairs."""
    out: dict = {}
    for task in TASKS:
        for method in methods:
            sel = [r for r in rows if r["task"] == task and r["method"] == method]
            if sel:
                out.setdefault(task, {})[method] = {c: mean_std([r.get(c) for r in sel])
                                                    for c in cols}
    return out


def tradeoff_figure(ctx: Context, summary: dict) -> str:
    """Qabf and VIF against CClow per task, our methods with error bars, published as stars."""
    tasks = [t for t in TASKS if t in summary]
    fig = new_figure(3.6 * max(1, len(tasks)), 6.4)
    for j, task in enumerate(tasks):
        for i, key in enumerate(("Qabf", "VIF")):
            ax = fig.add_subplot(2, max(1, len(tasks)), i * len(tasks) + j + 1)
            for method in ctx.methods:
                s = summary[task][method]
                ax.errorbar(s["CClow"][0], s[key][0], xerr=s["CClow"][1], yerr=s[key][1],
                            marker="o", capsize=2, ls="none", label=LABELS[method])
            for name, pub in (ctx.baselines or {}).get(task, {}).items():
                if "CClow" in pub and key in pub:
                    ax.plot(pub["CClow"], pub[key], marker="*", ms=10, ls="none",
                            label=f"{name} (published)")
            ax.set_xlabel(metric_label("CClow"), fontsize=8)
            ax.set_ylabel(metric_label(key), fontsize=8)
            ax.set_title(task, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=7,
               bbox_to_anchor=(0.5, 0.955))
    fig.suptitle("Edge (Qabf) and visual (VIF) fidelity against functional fidelity (CClow): "
                 "mean ± std over the val pairs; stars = published", fontsize=9, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.89))
    return save(fig, ctx.out / "comparison_tradeoff.png")


def headline(ctx: Context, summary: dict) -> list[str]:
    """One sentence per task: the CNN (or its stand-in) against every other row."""
    lines = []
    ours = ctx.primary
    for task in TASKS:
        if task not in summary:
            continue
        parts = []
        wins = []
        for key in HEADLINE:
            mine = summary[task][ours][key][0]
            rivals = {LABELS[m].split(" (")[0]: summary[task][m][key][0]
                      for m in ctx.methods if m != ours}
            rivals.update({f"{n} (published)": p[key]
                           for n, p in (ctx.baselines or {}).get(task, {}).items() if key in p})
            if rivals and mine >= max(rivals.values()):
                wins.append(key)
            others = ", ".join(f"{n} {fmt(v)}" for n, v in rivals.items())
            parts.append(f"{key} {fmt(mine)} (vs {others})")
        best = (f" Best of all rows on {len(wins)} of {len(HEADLINE)}"
                + (f" ({', '.join(wins)})" if wins else "") + ".")
        lines.append(f"**{task}**, {LABELS[ours]}: " + "; ".join(parts) + "." + best)
    return lines
