"""Experiment 1: the paper's Table 1 (metrics against a target, time) and Table 2 (Q0, QE, QW,
Qabf), on val pairs of every task, for our CNN."""

from __future__ import annotations

from ..progress import check_cancel, report
from .context import Context, Section
from .data import TASKS, load_pair, pick, val_pairs
from .fusing import LABELS, fuse_u8, score
from .markdown import fmt, fmt_pm, mean_std, table, write_csv, write_json
from .plotting import image_grid

NUMBER = 1
TITLE = "Tables 1 and 2: metrics per test pair"
# The paper's Table 1 columns; Entropy, H and ENT are one metric (EN, shared metrics.md 3.1).
T1 = (("RMSE", "RMSE"), ("PSNR_R", "PSNR (dB)"), ("EN", "Entropy = H = ENT (bits)"),
      ("REL", "REL"), ("SSIM_R", "SSIM"), ("MI", "MI (nats)"), ("MEAN", "Mean"),
      ("SD", "STD"), ("AG", "GRAD"), ("time_s", "Time (s)"))
T2 = ("Q0", "QE", "QW", "Qabf")
TASK_NAMES = {"ct-mri": "CT and MRI", "spect-mri": "MRI and SPECT", "pet-mri": "MRI and PET"}
ORDER = ("ct-mri", "spect-mri", "pet-mri")  # the paper's order, PET-MRI added


def run(ctx: Context) -> Section:
    """Fuse the test pairs, build each pair's teacher target, score, write both tables."""
    cfg = ctx.config
    method = ctx.primary
    todo = {t: pick(val_pairs(ctx.manifest, t), cfg.table_pairs, cfg.seed) for t in TASKS}
    rows = []
    examples = []
    total = sum(len(v) for v in todo.values()) or 1
    for task in ORDER:
        for k, pair in enumerate(todo[task]):
            check_cancel(ctx.cancel)
            a, b = load_pair(cfg.data, pair)
            target = ctx.targets.get(pair, a, b)
            if k == 0:
                fuse_u8(method, [a, b], device=cfg.device)  # warm-up, not timed
            fused, seconds = fuse_u8(method, [a, b], device=cfg.device)
            m = score(fused, [a, b], pair.functional, pair.labels, target)
            if k == 0:
                examples.append([(f"{pair.modalities[0]} {pair.name}", a),
                                 (f"{pair.modalities[1]} {pair.name}", b),
                                 ("target (teacher)", target), (LABELS[method], fused)])
            rows.append({"task": task, "test": k + 1, "pair": pair.name, "time_s": seconds,
                         "target_s": ctx.targets.seconds.get(pair.key), **m})
            report(ctx.progress, "tables", len(rows) / total)

    keys1 = [k for k, _ in T1 if rows and k in rows[0]]
    cols = ["task", "test", "pair"] + keys1 + list(T2) + ["target_s"]
    write_csv(ctx.out / "table1_table2.csv", rows, cols)
    summary = {t: {k: mean_std([r[k] for r in rows if r["task"] == t])
                   for k in keys1 + list(T2)} for t in ORDER if todo[t]}
    write_json(ctx.out / "table1_table2.json", {"method": method, "target": ctx.targets.note,
                                                "pairs": {t: [p.name for p in todo[t]]
                                                          for t in ORDER},
                                                "summary": summary})

    examples = [[c for c in r if c[1] is not None] for r in examples]
    fig = image_grid(ctx.out / "tables_examples.png", examples,
                     "Sources, teacher target and fused image (test 1 of each task)",
                     row_labels=[t for t in ORDER if todo[t]]) if examples else None
    who = LABELS[method] + ("" if method == "cnn" else
                            f" (the CNN could not be loaded: {ctx.cnn_note})")
    body = [f"Fused by {who} on {sum(len(v) for v in todo.values())} val pairs, spread evenly "
            "over each task's val list (seeded). **Target:** " + ctx.targets.note + " RMSE, PSNR, "
            "REL and SSIM in Table 1 are against that target; the other columns need only the "
            "fused image (Entropy, Mean, STD, GRAD) or the sources (MI). All values on the 0..255 "
            "scale of the shared metrics specification, so they are not comparable in magnitude "
            "with the paper's (which look like [0, 1] data). The paper's Entropy, H and ENT "
            "columns are one metric (EN, in bits) and are shown once. Time is the wall time of "
            "one fusion call per pair on this machine."]
    for task in ORDER:
        sel = [r for r in rows if r["task"] == task]
        if not sel:
            continue
        body.append(f"\n**Table 1 ({TASK_NAMES[task]}).**\n")
        hdr = ["Test (pair)"] + [lbl for k, lbl in T1 if k in keys1]
        trows = [[f"Test {r['test']} ({r['pair']})"] + [fmt(r[k], 4) for k in keys1] for r in sel]
        trows.append(["**mean ± std**"] + [fmt_pm(*summary[task][k]) for k in keys1])
        body.append(table(hdr, trows))
    body.append("\n**Table 2.** Q0, QE, QW and Q^AB/F per test pair (test k of each task is its "
                "k-th pair above).\n")
    present = [t for t in ORDER if todo[t]]
    n = max(len(todo[t]) for t in present) if present else 0
    hdr = ["Test"] + [f"{TASK_NAMES[t]} {q}" for t in present for q in T2]
    trows = []
    for k in range(n):
        row = [f"Test {k + 1}"]
        for t in present:
            sel = [r for r in rows if r["task"] == t and r["test"] == k + 1]
            row += [fmt(sel[0][q], 4) if sel else "–" for q in T2]
        trows.append(row)
    trows.append(["**mean**"] + [fmt(summary[t][q][0], 4) for t in present for q in T2])
    body.append(table(hdr, trows))
    if fig:
        body.append(f"\n![Sources, target and fused image]({fig})")
    body.append("\nData: `table1_table2.csv` (every metric, per pair), `table1_table2.json`.")
    heads = [f"Tables 1/2 ({LABELS[method]} vs the teacher's target): " + "; ".join(
        f"{t} RMSE {fmt(summary[t]['RMSE'][0])}, SSIM_R {fmt(summary[t]['SSIM_R'][0])}, "
        f"Qabf {fmt(summary[t]['Qabf'][0])}" for t in present if "RMSE" in summary[t]) + "."]
    return Section(NUMBER, TITLE, "\n".join(body), files=([fig] if fig else [])
                   + ["table1_table2.csv", "table1_table2.json"],
                   headline=heads if len(heads[0]) > 60 else [], data={"summary": summary})
