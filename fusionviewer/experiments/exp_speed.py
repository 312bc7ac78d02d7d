"""Experiment 7: fusion speed per method, with image size and (CNN) batch size."""

from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np
from PIL import Image as PILImage

from ..pipeline import FusionOptions, fuse_gray
from ..progress import check_cancel, report
from .context import Context, Section
from .data import TASKS, load_pair, val_pairs
from .fusing import LABELS, gpu_available
from .markdown import fmt, table, write_json
from .plotting import line_plot

NUMBER = 7
TITLE = "Speed"


def _median_seconds(fn, inputs, repeats: int, spread: list | None = None, **options) -> float:
    """Median wall time of fn(inputs) over repeats, after one untimed warm-up call.

    Appends (max - min) / median of the repeats to ``spread`` when given.
    """
    fn(inputs, **options)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(inputs, **options)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    if spread is not None and med > 0:
        spread.append((max(times) - min(times)) / med)
    return med


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """A [0, 1] float image resized (bicubic) to size x size."""
    im = PILImage.fromarray(np.asarray(x, dtype=np.float32), mode="F")
    return np.clip(np.asarray(im.resize((size, size), PILImage.BICUBIC)), 0, 1).astype(np.float32)


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), else platform.processor(), else 'unknown'."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict:
    """CPU/GPU description for the report."""
    info = {"platform": platform.platform(), "processor": cpu_name(),
            "cpu_count": os.cpu_count()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def run(ctx: Context) -> Section:
    """Time every method per 256x256 pair, against image size, and the CNN against batch size."""
    cfg = ctx.config
    reps = cfg.speed_repeats
    pairs = [val_pairs(ctx.manifest, t)[0] for t in TASKS if val_pairs(ctx.manifest, t)]
    inputs = [[x.astype(np.float32) / 255.0 for x in load_pair(cfg.data, p)] for p in pairs]
    devices = [("cpu", m) for m in ctx.methods]
    if ctx.has_cnn and gpu_available():
        devices.append(("cuda", "cnn"))
    steps = len(devices) * (2 + len(cfg.speed_sizes)) + len(cfg.speed_batches)
    step = 0

    def tick():
        nonlocal step
        step += 1
        check_cancel(ctx.cancel)
        report(ctx.progress, "speed", step / steps)

    per_pair = {}
    spread: dict[str, list] = {}
    for dev, m in devices:
        fn = _method(m)
        ts = [_median_seconds(fn, x, reps, spread.setdefault(f"{m}@{dev}", []), device=dev)
              for x in inputs]
        per_pair[f"{m}@{dev}"] = statistics.median(ts) * 1000.0
        tick()
    sizes = {}
    for dev, m in devices:
        fn = _method(m)
        for s in cfg.speed_sizes:
            x = [_resize(v, s) for v in inputs[0]]
            sizes.setdefault(f"{m}@{dev}", {})[s] = _median_seconds(
                fn, x, reps if s <= 512 else min(reps, 3), device=dev) * 1000.0
            tick()
    batches = {}
    if ctx.has_cnn:
        fn = _method("cnn")
        zmax = max(cfg.speed_batches)
        vol = [np.stack([inputs[k % len(inputs)][i] for k in range(zmax)]) for i in (0, 1)]
        for dev in ["cpu"] + (["cuda"] if gpu_available() else []):
            for bsz in cfg.speed_batches:
                t = _median_seconds(fn, vol, max(1, reps // 2), device=dev, batch_size=bsz)
                batches.setdefault(f"cnn@{dev}", {})[bsz] = t / zmax * 1000.0
                tick()
    info = machine()
    write_json(ctx.out / "speed.json", {"machine": info, "ms_per_256_pair": per_pair,
                                        "relative_spread_256": spread,
                                        "ms_by_size": sizes, "ms_per_slice_by_batch": batches,
                                        "repeats": reps})
    label = {k: f"{LABELS[k.split('@')[0]]} on {k.split('@')[1].upper()}" for k in per_pair}
    files = [line_plot(ctx.out / "speed_size.png",
                       {label[k]: (list(v), list(v.values())) for k, v in sizes.items()},
                       "image side (pixels, square images)", "time per pair (ms)",
                       "Fusion time against image size", logx=True, logy=True,
                       xticks=cfg.speed_sizes)]
    if batches:
        zmax = max(cfg.speed_batches)
        files.append(line_plot(ctx.out / "speed_batch.png",
                               {f"CNN on {k.split('@')[1].upper()}": (list(v), list(v.values()))
                                for k, v in batches.items()},
                               "batch size (slices per forward pass)", "time per slice (ms)",
                               f"CNN time per 256×256 slice, volume of {zmax} slices",
                               logx=True, xticks=cfg.speed_batches))
    body = [f"Machine: {info.get('processor')} ({info.get('cpu_count')} cores visible, torch "
            f"{info.get('torch', '-')} with {info.get('torch_threads', '-')} threads"
            + (f", GPU {info['gpu']}" if "gpu" in info else ", no GPU") + "). Other work shared "
            "this machine while it ran (see the spread column). Median of "
            f"{reps} calls after a warm-up on each of {len(inputs)} pairs (one per task), then "
            "the median over the pairs; inputs in memory, no file I/O. Spread = (slowest - "
            "fastest) / median of the calls on one pair, the largest over the pairs.\n",
            table(["Method", "ms per 256×256 pair", "spread of repeats"],
                  [[label[k], fmt(v, 2), f"{100 * max(spread[k]):.0f} %"]
                   for k, v in per_pair.items()]),
            "\nTime per pair (ms) against image size:\n",
            table(["Method"] + [f"{s}²" for s in cfg.speed_sizes],
                  [[label[k]] + [fmt(v[s], 2) for s in cfg.speed_sizes] for k, v in sizes.items()])]
    if batches:
        body += ["\nCNN time per slice (ms) against batch size:\n",
                 table(["Device"] + [str(b) for b in cfg.speed_batches],
                       [[k.split("@")[1].upper()] + [fmt(v[b], 2) for b in cfg.speed_batches]
                        for k, v in batches.items()])]
    body += [f"\n![{f}]({f})" for f in files]
    body.append("\nData: `speed.json`.")
    head = ["Speed per 256×256 pair: " + ", ".join(f"{label[k]} {fmt(v, 2)} ms"
                                                     for k, v in per_pair.items()) + "."]
    return Section(NUMBER, TITLE, "\n".join(body), files=files + ["speed.json"], headline=head,
                   data={"per_pair": per_pair})


def _method(name: str):
    """``fn(images, device=..., batch_size=...)``: the named method through the pipeline."""
    def fn(images, device="cpu", batch_size=None):
        cnn = {"device": device, "batch_size": batch_size} if name == "cnn" else {}
        return fuse_gray(list(images), FusionOptions(method=name, **cnn))[0]
    return fn
