"""The optimising teacher (the bundled weights' targets): per pair, the output of
PyramidFusionNet's own output family (per-level bias and activity-gain maps at 1/8 resolution)
optimised directly for the metrics.

No network is involved: the maps of one pair are fitted by Adam to maximise ``objective_text()``
(``4 Qabf + sum over sources of (VIF + 0.5 SSIM + 0.5 MI) - 100 max(0, 0.87 - CClow)``, the
differentiable terms of ``losses``, with the per-task changes of ``TASK_OBJECTIVE``). The network can produce every such target; models/README.md
reports what imitating them gives. Targets are cached as 8-bit PNGs. Cost: about 75 ms per pair
and Adam step on one CPU core (150 steps: ~11 s per 256x256 pair); 253 pairs took 42 s on an
H100 with ``--device cuda --batch 64`` (teacher-opt-v1, before the faster filters).

    python -m fusionviewer.training.optimised_teacher --cache cache [--steps 150] [--pair-stride 2]
        [--part k/n] [--device cuda --batch 64]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..fusion.model import FastPyramid, fuse_bands
from . import losses
from ..progress import ProgressCallback, check_cancel, report
from .config import TEACHER_STEPS
from .data import TASKS, Pair, list_pairs, load_pair, read_gray_u8

# the version names the objectives; v2: pet-mri and spect-mri have their own (TASK_OBJECTIVE)
VERSION = "teacher-opt-v2"
DEFAULT_STEPS = TEACHER_STEPS
OBJECTIVE = {"qabf_weight": 4.0, "vif_weight": 1.0, "ssim_weight": 0.5, "mi_weight": 0.5,
             "cclow_target": 0.87}
# per-task changes, spending part of the functional tasks' CClow margin on SSIM and Qabf (their
# floors were out of reach or thin at the default: models/README.md)
TASK_OBJECTIVE = {"pet-mri": {"ssim_weight": 3.0, "cclow_target": 0.85},
                  "spect-mri": {"ssim_weight": 3.0, "cclow_target": 0.86}}


def task_objective(task: str) -> dict:
    """The objective weights used for the pairs of ``task``."""
    return {**OBJECTIVE, **TASK_OBJECTIVE.get(task, {})}


def objective_text(objective: dict | None = None) -> str:
    """The maximised objective in words (the default one, plus the per-task changes, when
    ``objective`` is not given)."""
    if objective is None:
        changes = "; ".join(f"{task}: " + ", ".join(f"{k.removesuffix('_weight')} {v:g}"
                                                   for k, v in change.items())
                            for task, change in TASK_OBJECTIVE.items())
        return objective_text(OBJECTIVE) + (f" ({changes})" if changes else "")

    def term(weight: float, name: str) -> str:
        return name if weight == 1 else f"{weight:g} {name}"

    o = objective
    return (f"{term(o['qabf_weight'], 'Qabf')} + sum over sources of ("
            f"{term(o['vif_weight'], 'VIF')} + {term(o['ssim_weight'], 'SSIM')} + "
            f"{term(o['mi_weight'], 'MI')}) - 100 max(0, {o['cclow_target']:g} - CClow)")


def cache_folder(cache_dir: Path, steps: int = DEFAULT_STEPS) -> Path:
    """Where targets of this objective and step count are cached (other step counts apart)."""
    return Path(cache_dir) / (VERSION if steps == DEFAULT_STEPS else f"{VERSION}-{steps}steps")


def optimise_batch(a: np.ndarray, b: np.ndarray, fun: np.ndarray, *,
                   steps: int = DEFAULT_STEPS,
                   cclow_target: float = OBJECTIVE["cclow_target"], lr: float = 0.1,
                   levels: int = 4, act_scale: float = 64.0,
                   qabf_weight: float = OBJECTIVE["qabf_weight"],
                   vif_weight: float = OBJECTIVE["vif_weight"],
                   ssim_weight: float = OBJECTIVE["ssim_weight"],
                   mi_weight: float = OBJECTIVE["mi_weight"], device: str = "cpu"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Optimised 8-bit targets (B, H, W) of gray pairs a, b (B, H, W; 0..255) with functional
    source index fun (B,), and the objective per step and pair (steps, B). Pairs are independent
    in exact arithmetic, not bit for bit: Adam turns rounding-level gradients in flat areas into
    full steps, so batch size and device move targets by a few grey levels (same objective)."""
    at = torch.as_tensor(np.asarray(a, np.float32), device=device)[:, None]
    bt = torch.as_tensor(np.asarray(b, np.float32), device=device)[:, None]
    srcs = [at, bt]
    funct = torch.where(torch.as_tensor(np.asarray(fun), device=device)[:, None, None, None] == 0,
                        at, bt)
    prepared = losses.prepare_sources(srcs)  # the sources' side of the metrics, once
    fun_blur = losses.cclow_reference(funct)
    pyramid = FastPyramid(levels)
    bands = pyramid.decompose(torch.cat(srcs, dim=1) / 255.0)
    h, w = at.shape[-2] // 8 or 1, at.shape[-1] // 8 or 1
    logits = torch.zeros(at.shape[0], 2, 2 * levels + 1, h, w, device=device)
    logits[:, :, 1:2 * levels:2] = -2.0  # start near the network's initial gains
    logits.requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=lr)
    history = []
    for _ in range(steps):
        f = fuse_bands(pyramid, bands, logits, act_scale) * 255.0
        score = losses.metric_score(f, srcs, prepared=prepared, qabf_weight=qabf_weight,
                                    vif_weight=vif_weight, ssim_weight=ssim_weight,
                                    mi_weight=mi_weight)
        score = score - 100.0 * F.relu(cclow_target - losses.cclow(f, funct, fun_blur))
        opt.zero_grad()
        (-score.sum()).backward()
        opt.step()
        history.append(score.detach().cpu().numpy())
    with torch.no_grad():
        f = fuse_bands(pyramid, bands, logits, act_scale)[:, 0].cpu().numpy() * 255.0
    return np.clip(np.rint(f), 0, 255).astype(np.uint8), np.array(history)


def optimise_pair(a: np.ndarray, b: np.ndarray, fun: int, **kwargs) -> tuple[np.ndarray, list[float]]:
    """The optimised 8-bit target of one gray pair (0..255) and the objective per step."""
    target, history = optimise_batch(np.asarray(a)[None], np.asarray(b)[None], np.array([fun]),
                                     **kwargs)
    return target[0], [float(v) for v in history[:, 0]]


def _fit_and_cache(chunk: list[Pair], root: Path, steps: int, device: str) -> tuple[float, float]:
    """Optimise one chunk of pairs and write their PNGs atomically; mean objective first/last."""
    from PIL import Image as PILImage

    loaded = [load_pair(q) for q in chunk]
    targets, hist = optimise_batch(np.stack([a for a, _ in loaded]),
                                   np.stack([b for _, b in loaded]),
                                   np.array([q.functional for q in chunk]), steps=steps,
                                   device=device, **task_objective(chunk[0].task))
    for pair, target in zip(chunk, targets):
        path = root / pair.task / pair.name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.png")
        PILImage.fromarray(target).save(tmp)
        tmp.replace(path)
    return float(hist[0].mean()), float(hist[-1].mean())


def build_optimised_targets(pairs: list[Pair], cache_dir: Path, *, steps: int = DEFAULT_STEPS,
                            device: str = "cpu", batch: int = 1, workers: int = 1,
                            progress: ProgressCallback | None = None, cancel=None,
                            log=print) -> list[dict]:
    """Training records (pair, a, b, target) with optimised targets; missing ones are computed
    (by ``workers`` one-thread processes on a CPU) and cached as PNG in
    ``cache_folder(cache_dir, steps)``/<task>/<name>."""
    root = cache_folder(cache_dir, steps)
    todo = [q for q in pairs if not (root / q.task / q.name).is_file()]
    size = max(1, batch)
    chunks = []  # one task per chunk: its pairs share an objective
    for task in dict.fromkeys(q.task for q in todo):
        same = [q for q in todo if q.task == task]
        chunks += [same[i:i + size] for i in range(0, len(same), size)]
    workers = 1 if device != "cpu" else max(1, min(workers, len(chunks)))
    if log:
        log(f"optimised teacher: {len(pairs) - len(todo)} of {len(pairs)} targets cached, "
            f"{len(todo)} to compute on {device}"
            + (f" in {workers} processes" if workers > 1 else ""))
    t0 = time.perf_counter()
    done = 0

    def finished(n: int, first: float, last: float) -> None:
        nonlocal done
        done += n
        report(progress, "teacher targets", 0.9 * done / len(todo))
        if log:
            log(f"optimised teacher: {done}/{len(todo)} (objective {first:.3f} -> {last:.3f}, "
                f"{time.perf_counter() - t0:.0f} s)")

    if workers == 1:
        for chunk in chunks:
            check_cancel(cancel)
            finished(len(chunk), *_fit_and_cache(chunk, root, steps, device))
    else:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        # spawn, not fork: the parent may hold torch's thread pools (and, in the app, Qt)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=torch.set_num_threads, initargs=(1,)) as pool:
            pending = {pool.submit(_fit_and_cache, c, root, steps, device): len(c)
                       for c in chunks}
            try:
                while pending:
                    check_cancel(cancel)
                    ready, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for fut in ready:
                        finished(pending.pop(fut), *fut.result())
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    out = []
    for pair in pairs:
        a, b = load_pair(pair)
        target = read_gray_u8(root / pair.task / pair.name)
        if target.shape != a.shape:
            raise InputError(f"cached target is {target.shape}, the pair is {a.shape}: delete it "
                             "to recompute", str(root / pair.task / pair.name))
        out.append({"pair": pair, "a": a, "b": b, "target": target, "choice": "optimised"})
    report(progress, "teacher targets", 1.0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="build and cache the optimising teacher's targets")
    p.add_argument("--cache", type=Path, default=Path("cache"))
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--pair-stride", type=int, default=2)
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--part", default="0/1", help="k/n: only every n-th pair from the k-th")
    p.add_argument("--batch", type=int, default=1, help="pairs optimised together (GPU: 64)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--workers", type=int, default=1, help="one-thread processes (CPU)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        k, n = (int(v) for v in args.part.split("/"))
        if not 0 <= k < n:
            raise ValueError
    except ValueError:
        p.error(f"--part must be k/n with 0 <= k < n, got {args.part!r}")
    if args.batch < 1 or args.steps < 1 or args.workers < 1:
        p.error("--batch, --steps and --workers must be >= 1")
    pairs = list_pairs(split="train", tasks=tuple(args.tasks))[::args.pair_stride][k::n]
    build_optimised_targets(pairs, args.cache, steps=args.steps, device=args.device,
                            batch=args.batch, workers=args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
