"""Score the bundled CNN and the classical methods on the whole val split (gray protocol).

Protocol of shared/docs/baselines_val.md: sources read as 8-bit gray (RGB -> rint(0.299 R +
0.587 G + 0.114 B)), fused from u8 / 255, the result rounded to 8 bits and scored with
``fusionviewer.metrics.compute_metrics`` (functional source = CT / PET / SPECT). ``--noise 5 10``
adds seeded Gaussian noise (grey levels) to the inputs, rounds them to 8 bits, and scores the
fusion against the clean sources (the paper's "disturbance"). Prints a markdown table and
writes JSON + markdown to ``--out``; ``--samples DIR`` writes one comparison PNG per task.

    python benchmarks/eval_val.py --out /tmp/eval [--methods cnn average laplacian gff]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusionviewer.experiments.data import read_baseline_tables  # noqa: E402
from fusionviewer.fusion import get_method  # noqa: E402
from fusionviewer.metrics import compute_metrics  # noqa: E402
from fusionviewer.training.data import TASKS, list_pairs, load_pair  # noqa: E402

COLUMNS = ["EN", "SD", "SF", "AG", "MI", "MI_fun", "MI_mri", "SCD", "VIF", "Qabf", "SSIM", "Q0",
           "QW", "QE", "CClow"]
FLOOR_KEYS = ["CClow", "Qabf", "VIF", "MI", "SSIM"]
# floors from shared/docs/baselines_val.md (issue 4): CClow 0.85; Qabf = best method with
# CClow >= 0.80; VIF = best with CClow >= 0.85; MI = IFCNN; SSIM = LP-4
FLOORS = {
    "ct-mri": {"CClow": 0.85, "Qabf": 0.555, "VIF": 0.511, "MI": 1.82, "SSIM": 1.401},
    "pet-mri": {"CClow": 0.85, "Qabf": 0.676, "VIF": 0.754, "MI": 1.93, "SSIM": 1.279},
    "spect-mri": {"CClow": 0.85, "Qabf": 0.751, "VIF": 0.671, "MI": 1.95, "SSIM": 1.519},
}


def fuse_u8(method: str, a: np.ndarray, b: np.ndarray, **opts) -> np.ndarray:
    """Fuse two uint8 gray images with a registered method; the 8-bit result."""
    f = get_method(method)([a.astype(np.float32) / 255, b.astype(np.float32) / 255], **opts)
    return np.clip(np.rint(f * 255.0), 0, 255).astype(np.uint8)


def noisy(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.rint(x + rng.normal(0, sigma, x.shape)), 0, 255).astype(np.uint8)


def score(fused: np.ndarray, a: np.ndarray, b: np.ndarray, fun: int) -> dict[str, float]:
    m = compute_metrics(fused.astype(np.float64), [a.astype(np.float64), b.astype(np.float64)],
                        functional=fun)
    keys = ["MI_A", "MI_B"]
    m["MI_fun"], m["MI_mri"] = m[keys[fun]], m[keys[1 - fun]]
    return {k: float(m[k]) for k in COLUMNS}


def evaluate(methods: list[str], noise: float, seed: int, tasks, log=print) -> dict:
    """{task: {method: {metric: mean}}} and per-pair values, ms per pair per method."""
    out: dict = {"noise": noise, "tasks": {}}
    for task in tasks:
        pairs = list_pairs(split="val", tasks=(task,))
        per = {m: [] for m in methods}
        times = {m: [] for m in methods}
        rng = np.random.default_rng(seed)
        for pair in pairs:
            a, b = load_pair(pair)
            ia, ib = (noisy(a, noise, rng), noisy(b, noise, rng)) if noise else (a, b)
            for m in methods:
                t = time.perf_counter()
                f = fuse_u8(m, ia, ib)
                times[m].append(time.perf_counter() - t)
                per[m].append(score(f, a, b, pair.functional))
        out["tasks"][task] = {
            m: {"mean": {k: float(np.mean([r[k] for r in per[m]])) for k in COLUMNS},
                "sem": {k: float(np.std([r[k] for r in per[m]], ddof=1) / np.sqrt(len(per[m])))
                        for k in COLUMNS},
                "ms_per_pair_median": 1000 * float(np.median(times[m])),
                "pairs": len(per[m])} for m in methods}
        log(f"{task}: {len(pairs)} pairs done")
    return out


def markdown(result: dict) -> str:
    lines = []
    for task, rows in result["tasks"].items():
        n = next(iter(rows.values()))["pairs"]
        lines += [f"### {task} ({n} val pairs, noise sigma {result['noise']:g})", "",
                  "| Method | " + " | ".join(COLUMNS) + " | floors met |",
                  "|---|" + "---:|" * (len(COLUMNS) + 1)]
        for m, r in rows.items():
            fl = FLOORS[task]
            met = [k for k in FLOOR_KEYS if r["mean"][k] >= fl[k]]
            cells = " | ".join(f"{r['mean'][k]:.3f}" for k in COLUMNS)
            lines.append(f"| {m} | {cells} | {len(met)}/5 "
                         f"{'' if len(met) == 5 else '(missing ' + ', '.join(k for k in FLOOR_KEYS if k not in met) + ')'} |")
        fl = FLOORS[task]
        lines.append("| *floor* | " + " | ".join(f"{fl[k]:.3f}" if k in fl else "" for k in COLUMNS)
                     + " | |")
        lines.append("")
    return "\n".join(lines)


def write_samples(folder: Path, methods: list[str]) -> None:
    """One PNG per task: sources, then each method, for the middle val pair."""
    from PIL import Image as PILImage

    folder.mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        pairs = list_pairs(split="val", tasks=(task,))
        pair = pairs[len(pairs) // 2]
        a, b = load_pair(pair)
        tiles = [a, b] + [fuse_u8(m, a, b) for m in methods]
        strip = np.concatenate([np.pad(t, ((0, 0), (0, 4)), constant_values=255) for t in tiles],
                               axis=1)
        name = f"{task}_{Path(pair.name).stem}_" + "_".join(["a", "b"] + methods) + ".png"
        PILImage.fromarray(strip).save(folder / name)


def plot_tradeoff(result: dict, path: Path, published: dict | None = None) -> None:
    """Qabf and VIF against CClow per task: our methods (filled) and published rows (open)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(result["tasks"])
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks), 7), dpi=100)
    axes = np.asarray(axes).reshape(2, len(tasks))
    for j, task in enumerate(tasks):
        for i, key in enumerate(("Qabf", "VIF")):
            ax = axes[i, j]
            for m, r in result["tasks"][task].items():
                ax.scatter(r["mean"]["CClow"], r["mean"][key], s=40 if m == "cnn" else 25,
                           marker="*" if m == "cnn" else "o", zorder=3)
                ax.annotate(m, (r["mean"]["CClow"], r["mean"][key]), fontsize=7)
            for m, r in (published or {}).get(task, {}).items():
                if "CClow" in r and key in r:
                    ax.scatter(r["CClow"], r[key], facecolors="none", edgecolors="gray", s=25)
                    ax.annotate(m.split(" (")[0].split(",")[0], (r["CClow"], r[key]),
                                fontsize=6, color="gray")
            ax.axvline(0.85, color="red", lw=0.8, ls="--")
            fl = FLOORS[task][key]
            ax.axhline(fl, color="red", lw=0.8, ls=":")
            ax.set_xlabel("CClow")
            ax.set_ylabel(key)
            ax.set_title(f"{task}: {key} vs CClow")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["cnn", "average", "laplacian", "gff"])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--noise", nargs="*", type=float, default=[0.0],
                   help="input noise sigmas in grey levels (0 = clean)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="folder for eval_val.json/.md")
    p.add_argument("--samples", type=Path, default=None, help="folder for comparison PNGs")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    results = [evaluate(args.methods, s, args.seed, args.tasks,
                        log=lambda m: print(m, file=sys.stderr)) for s in args.noise]
    text = "\n".join(markdown(r) for r in results)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "eval_val.json").write_text(json.dumps(results, indent=1))
        (args.out / "eval_val.md").write_text(text)
        shared = Path(__file__).resolve().parents[2] / "shared" / "docs" / "baselines_val.md"
        pub = read_baseline_tables(shared) if shared.is_file() else None
        plot_tradeoff(results[0], args.out / "tradeoff.png", pub)
    if args.samples:
        write_samples(args.samples, args.methods)
    return 0


if __name__ == "__main__":
    sys.exit(main())
