"""The training command shared by ``python -m fusionviewer.training`` and ``fusionviewer train``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .data import TASKS, default_data_root, list_pairs
from .config import TEACHER_STEPS, TrainConfig

DEFAULTS = TrainConfig()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=None,
                   help="Harvard data folder with manifest.csv (default ../shared/data/harvard)")
    p.add_argument("--cache", type=Path, default=Path("cache"),
                   help="folder for cached teacher targets (default ./cache)")
    p.add_argument("--out", type=Path, default=Path("models/fusion_cnn.pt"),
                   help="weights file to write (its .sha256 is written beside it)")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="folder for training_log.json and convergence.png (default: beside "
                        "--out, where the experiments report finds the log)")
    p.add_argument("--teacher", choices=("optimised", "select"), default="optimised",
                   help="targets: 'optimised' = per pair, the network's output maps fitted to "
                        "the metrics (teacher-opt-v2, the bundled weights'; ~11 s per pair "
                        "and worker on a CPU, cached); 'select' = best of 14 classical "
                        "fusions (teacher-v1)")
    p.add_argument("--teacher-batch", type=int, default=1,
                   help="pairs the optimised teacher fits together (64 on a GPU)")
    p.add_argument("--teacher-workers", type=int, default=2,
                   help="one-thread processes the optimised teacher uses on a CPU (default 2)")
    p.add_argument("--teacher-steps", type=int, default=TEACHER_STEPS,
                   help="Adam steps per pair of the optimised teacher (cached per step count)")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--pair-stride", type=int, default=2,
                   help="use every k-th training pair of the manifest (default 2)")
    p.add_argument("--max-pairs", type=int, default=None, help="cap on the number of pairs")
    p.add_argument("--iterations", type=int, default=DEFAULTS.iterations)
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    p.add_argument("--crop", type=int, default=DEFAULTS.crop)
    p.add_argument("--lr", type=float, default=DEFAULTS.lr)
    p.add_argument("--grad-weight", type=float, default=DEFAULTS.grad_weight,
                   help="weight of the Sobel L1 term")
    p.add_argument("--noise-prob", type=float, default=DEFAULTS.noise_prob,
                   help="probability of Gaussian noise on a sample's inputs")
    p.add_argument("--noise-max", type=float, default=DEFAULTS.noise_max,
                   help="largest noise sigma in grey levels (uniform 0..max)")
    p.add_argument("--sup-weight", type=float, default=DEFAULTS.sup_weight,
                   help="weight of the imitation term (L1 + Sobel L1 to the teacher target)")
    p.add_argument("--metric-weight", type=float, default=DEFAULTS.metric_weight,
                   help="weight of the differentiable metric objective (0 = imitation only)")
    p.add_argument("--qabf-weight", type=float, default=DEFAULTS.qabf_weight)
    p.add_argument("--vif-weight", type=float, default=DEFAULTS.vif_weight)
    p.add_argument("--ssim-weight", type=float, default=DEFAULTS.ssim_weight)
    p.add_argument("--mi-weight", type=float, default=DEFAULTS.mi_weight)
    p.add_argument("--cclow-target", type=float, default=DEFAULTS.cclow_target,
                   help="batch-mean CClow below which the shortfall is penalised")
    p.add_argument("--cclow-weight", type=float, default=DEFAULTS.cclow_weight)
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--threads", type=int, default=DEFAULTS.threads)
    p.add_argument("--device", default="cpu",
                   help="training device (cpu, cuda); the bundled weights were trained on cpu")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..errors import InputError
    from .optimised_teacher import build_optimised_targets
    from .teacher import build_targets
    from .train import save_log, save_model, train

    if min(args.teacher_batch, args.teacher_steps, args.teacher_workers) < 1:
        raise InputError("--teacher-batch, --teacher-steps and --teacher-workers must be at "
                         "least 1")

    torch.set_num_threads(max(1, args.threads))
    t0 = time.perf_counter()
    pairs = list_pairs(args.data or default_data_root(), split="train",
                       tasks=tuple(args.tasks))[::max(1, args.pair_stride)]
    if args.max_pairs:
        pairs = pairs[:args.max_pairs]
    print(f"{len(pairs)} training pairs (train split only), teacher cache {args.cache}")
    cfg = TrainConfig(iterations=args.iterations, batch_size=args.batch_size, crop=args.crop,
                      lr=args.lr, seed=args.seed, threads=args.threads,
                      grad_weight=args.grad_weight, noise_prob=args.noise_prob,
                      noise_max=args.noise_max, sup_weight=args.sup_weight,
                      metric_weight=args.metric_weight, qabf_weight=args.qabf_weight,
                      vif_weight=args.vif_weight, ssim_weight=args.ssim_weight,
                      mi_weight=args.mi_weight, cclow_target=args.cclow_target,
                      cclow_weight=args.cclow_weight, device=args.device)
    if args.teacher == "optimised":
        records = build_optimised_targets(pairs, args.cache, device=args.device,
                                          batch=args.teacher_batch, steps=args.teacher_steps,
                                          workers=args.teacher_workers)
    else:
        records = build_targets(pairs, args.cache)
    t_teacher = time.perf_counter() - t0
    model, info = train(records, cfg)
    info["teacher"] = args.teacher
    if args.teacher == "optimised":
        from . import optimised_teacher

        info["teacher_version"] = optimised_teacher.VERSION
        info["teacher_objective"] = optimised_teacher.objective_text()
        info["teacher_steps"] = args.teacher_steps
    info["teacher_seconds"] = t_teacher
    info["total_seconds"] = time.perf_counter() - t0
    digest = save_model(model, args.out)
    info["sha256"] = digest
    save_log(info, args.log_dir or args.out.parent)
    print(f"wrote {args.out} (sha256 {digest}), {info['parameters']} parameters, "
          f"teacher {t_teacher:.0f} s, training {info['seconds']:.0f} s")
    return 0
