"""run_experiments: all seven experiments into one folder, then report.md."""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from pathlib import Path

from .. import __version__
from ..paths import app_root
from ..progress import ProgressCallback, check_cancel, report, sub_progress
from . import (exp_blocksize, exp_comparison, exp_convergence, exp_multi, exp_noise, exp_speed,
               exp_tables)
from .context import Config, Context, Section
from .data import baselines_file, check_data_dir, parse_baselines, read_manifest
from .exp_speed import cpu_name
from .fusing import CLASSICAL, cnn_status
from .targets import TargetMaker

EXPERIMENTS = (exp_tables, exp_comparison, exp_blocksize, exp_noise, exp_convergence, exp_multi,
               exp_speed)
# Share of the progress bar per experiment (rough run-time proportions of the full run).
WEIGHTS = (0.15, 0.2, 0.25, 0.2, 0.02, 0.03, 0.15)


def weights_sha() -> str | None:
    """SHA-256 of the bundled weights file, None when there is none."""
    from ..fusion.weights import default_weights_path, sha256_file

    path = default_weights_path()
    return sha256_file(path) if path.is_file() else None


def weights_note() -> str:
    """File name and SHA-256 of the bundled weights (or why there are none)."""
    from ..fusion.weights import default_weights_path

    sha = weights_sha()
    if sha is None:
        return f"no weights file at `models/{default_weights_path().name}`"
    return f"`models/{default_weights_path().name}`, SHA-256 `{sha}`"


def shown_path(path: Path) -> str:
    """A path relative to the repository's parent folder (../shared/...) or models/, else as is."""
    root = app_root()
    p = Path(path).resolve()
    for base, prefix in ((root, ""), (root.parent, "../")):
        try:
            return prefix + p.relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


def make_context(config: Config, progress: ProgressCallback | None = None, cancel=None,
                 targets: TargetMaker | None = None) -> Context:
    """Check the data, probe the CNN, find the published rows: the state every experiment uses."""
    data = check_data_dir(config.data)
    manifest = read_manifest(data)
    ok, note = cnn_status(config.device)
    methods = (["cnn"] if ok else []) + list(CLASSICAL)
    bfile = baselines_file(data)
    if bfile is not None:
        baselines = parse_baselines(bfile)
        bnote = (f"Rows in *italics* are published figures copied from `{bfile.name}` (IFCNN-MAX "
                 "and DenseFuse with their authors' weights, same pairs, same gray protocol and "
                 "metric definitions; their timing is from that file's machine), not measured in "
                 "this run; they cover the whole val split of each task.")
    else:
        baselines = None
        bnote = ("The published IFCNN and DenseFuse rows are omitted: `baselines_val.md` was not "
                 "found in the `docs` folder beside the data folder.")
    # the optimising teacher costs ~11 s per pair on a CPU core: quick runs fit 30 steps, not 150
    targets = targets or TargetMaker(steps=30 if config.quick else None)
    return Context(config, manifest, methods, note, targets, baselines, bnote, progress, cancel)


def run_experiments(config: Config, progress: ProgressCallback | None = None, cancel=None,
                    only: tuple[int, ...] | None = None) -> Path:
    """Run the experiments (all, or the numbers in ``only``) and write config.out/report.md."""
    config.out.mkdir(parents=True, exist_ok=True)
    sha_start = weights_sha()
    ctx = make_context(config, progress=None, cancel=cancel)
    started = time.perf_counter()
    sections: list[Section] = []
    lo = 0.0
    for module, w in zip(EXPERIMENTS, WEIGHTS):
        check_cancel(cancel)
        if only is not None and module.NUMBER not in only:
            lo += w
            continue
        ctx.progress = sub_progress(progress, lo, min(1.0, lo + w))
        t0 = time.perf_counter()
        section = module.run(ctx)
        section.data["seconds"] = time.perf_counter() - t0
        sections.append(section)
        lo += w
    report(progress, "report", 1.0)
    path = config.out / "report.md"
    text = render(ctx, sections, time.perf_counter() - started)
    sha_end = weights_sha()
    if sha_end != sha_start:  # the weights were replaced while this ran: say so at the top
        warn = (f"\n**Warning: the CNN weights file changed during this run** (SHA-256 "
                f"{(sha_start or 'none')[:16]}... at the start, {(sha_end or 'none')[:16]}... at "
                "the end); the CNN numbers may mix the two. Run it again.\n")
        head, rest = text.split("\n", 1)
        text = head + "\n" + warn + rest
    path.write_text(text, encoding="utf-8")
    return path


def render(ctx: Context, sections: list[Section], seconds: float) -> str:
    """report.md: header, one part per experiment, closing note of headline numbers."""
    cfg = ctx.config
    argv = " ".join(["fusionviewer", "experiments"] + sys.argv[2:]) if len(sys.argv) > 1 \
        and sys.argv[1] == "experiments" else "fusionviewer.experiments.run_experiments(...)"
    lines = [
        "# FusionViewer experiments: reproducing Li et al. (2021) on our data and model",
        "",
        f"Generated by `{argv}` (fusionviewer {__version__}, "
        f"{'quick' if cfg.quick else 'full'} run, seed {cfg.seed}, "
        f"pairs per task {'default' if cfg.pairs is None else cfg.pairs}) on "
        f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min "
        f"on {cpu_name()} ({os.cpu_count()} cores visible). Every number below "
        "was computed by this run; nothing is typed in by hand except the rows marked as "
        "published.",
        "",
        f"- Data: Harvard Whole Brain Atlas pairs (`manifest.csv` val split) from `{shown_path(cfg.data)}`. "
        "Gray protocol of `baselines_val.md`: 8-bit gray sources, RGB PET/SPECT -> "
        "rint(0.299 R + 0.587 G + 0.114 B), fused images rounded to 8 bits, every metric as in "
        "the shared metrics specification (0..255 scale, MI in nats, SSIM and VIF summed over "
        "the sources).",
        f"- Model: {ctx.cnn_note}; weights {weights_note()}."
        if ctx.has_cnn else f"- Model: **the CNN did not run** ({ctx.cnn_note}); the classical "
        "methods stand in where the CNN is named.",
        f"- Methods: {', '.join(ctx.methods)}. Target images: {ctx.targets.note}",
        "",
    ]
    for s in sections:
        lines += [f"## {s.number}. {s.title}", "", s.body.strip(), "",
                  f"*({s.data.get('seconds', 0):.0f} s)*", ""]
    lines += ["## Closing note: headline results", ""]
    for s in sections:
        lines += [f"- {h}" for h in s.headline]
    lines += ["", f"Model weights used: {weights_note()}.", ""]
    return "\n".join(lines)
