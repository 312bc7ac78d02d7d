"""Supervised training of PyramidFusionNet on cached teacher targets (seeded, deterministic on CPU).

Samples are random crops of (sources, target) with rot90/flip, random source order and Gaussian
noise on the inputs only (sigma 0..12 grey levels, the paper's "disturbance"), so the net learns
to give the clean teacher fusion from noisy inputs. Loss: ``sup_weight`` x (L1 on pixels + L1 on
Sobel gradients), plus, when ``metric_weight`` > 0, the metric objective of ``metric_loss``
(differentiable Qabf, VIF, SSIM, MI and a CClow shortfall against the clean sources; the bundled
weights use imitation only). The loss of every iteration goes to a JSON log and a convergence-curve
PNG.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..fusion.model import PyramidFusionNet
from ..progress import ProgressCallback, check_cancel, report
from . import losses as metric_terms
from .config import TrainConfig, loss_label


def seed_everything(seed: int, threads: int) -> None:
    """Seed torch/numpy, pin the thread count and ask torch for deterministic kernels."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True, warn_only=True)
    # deterministic mode would otherwise NaN-fill every new tensor, which doubles the run time
    torch.utils.deterministic.fill_uninitialized_memory = False


def _sobel(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=x.dtype,
                     device=x.device)
    kx, ky = k[None, None], k.t()[None, None]
    return torch.cat([F.conv2d(x, kx, padding=1), F.conv2d(x, ky, padding=1)], dim=1)


def loss_fn(pred: torch.Tensor, target: torch.Tensor, grad_weight: float) -> torch.Tensor:
    """L1 on pixels plus ``grad_weight`` x L1 on Sobel responses (images in [0, 1])."""
    return F.l1_loss(pred, target) + grad_weight * F.l1_loss(_sobel(pred), _sobel(target))


def metric_loss(pred: torch.Tensor, clean: torch.Tensor, fun: torch.Tensor,
                cfg: TrainConfig) -> torch.Tensor:
    """Metric objective on 0..255: -(weighted Qabf + VIF + SSIM + MI) / 5.5 + CClow shortfall."""
    f = pred * 255.0
    srcs = [clean[:, k:k + 1] * 255.0 for k in range(clean.shape[1])]
    score = metric_terms.metric_score(f, srcs, qabf_weight=cfg.qabf_weight,
                                      vif_weight=cfg.vif_weight, ssim_weight=cfg.ssim_weight,
                                      mi_weight=cfg.mi_weight, qabf_sharpness=cfg.qabf_sharpness)
    funct = torch.where(fun[:, None, None, None] == 0, srcs[0], srcs[1])
    # the floor is on the mean CClow over pairs, so the batch mean is constrained: a per-image
    # hinge lets the few slices with a tiny functional signal pull every output to a copy of it
    short = F.relu(cfg.cclow_target - metric_terms.cclow(f, funct).mean())
    return -score.mean() / 5.5 + cfg.cclow_weight * short


def sample_batch(records: list[dict], cfg: TrainConfig, rng: np.random.Generator):
    """A training batch: noisy inputs (B, 2, c, c), targets (B, 1, c, c), clean inputs and the
    index of the functional source per sample (B,)."""
    xs, ys, cs, fs = [], [], [], []
    for _ in range(cfg.batch_size):
        rec = records[rng.integers(len(records))]
        stack = np.stack([rec["a"], rec["b"], rec["target"]]).astype(np.float32) / 255.0
        h, w = stack.shape[1:]
        c = min(cfg.crop, h, w)
        top, left = rng.integers(0, h - c + 1), rng.integers(0, w - c + 1)
        stack = stack[:, top:top + c, left:left + c]
        stack = np.rot90(stack, k=int(rng.integers(4)), axes=(1, 2))
        if rng.random() < 0.5:
            stack = stack[:, :, ::-1]
        src = stack[:2]
        fun = rec["pair"].functional
        if rng.random() < 0.5:
            src = src[::-1]
            fun = 1 - fun
        cs.append(np.ascontiguousarray(src))
        fs.append(fun)
        if rng.random() < cfg.noise_prob:
            sigma = rng.uniform(0.0, cfg.noise_max) / 255.0
            src = np.clip(src + rng.normal(0.0, sigma, src.shape).astype(np.float32), 0, 1)
        xs.append(np.ascontiguousarray(src))
        ys.append(np.ascontiguousarray(stack[2:]))
    return (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys)),
            torch.from_numpy(np.stack(cs)), torch.tensor(fs))


def train(records: list[dict], cfg: TrainConfig, *, progress: ProgressCallback | None = None,
          cancel=None, log=print) -> tuple[PyramidFusionNet, dict]:
    """Train a fresh network on teacher records; returns it and the training log (dict)."""
    seed_everything(cfg.seed, cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    model = PyramidFusionNet(**cfg.model).to(cfg.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    warm = max(1, cfg.iterations // 20)

    def lr_factor(step: int) -> float:  # linear warm-up, then cosine decay to 2 %
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, cfg.iterations - warm)
        return 0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    losses = []
    start = time.perf_counter()
    model.train()
    for it in range(cfg.iterations):
        check_cancel(cancel)
        x, y, clean, fun = (t.to(cfg.device) for t in sample_batch(records, cfg, rng))
        pred = model(x)
        loss = cfg.sup_weight * loss_fn(pred, y, cfg.grad_weight)
        if cfg.metric_weight > 0:
            loss = loss + cfg.metric_weight * metric_loss(pred, clean, fun, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        report(progress, "training", (it + 1) / cfg.iterations)
        if log and (it % 50 == 0 or it == cfg.iterations - 1):
            log(f"iter {it + 1}/{cfg.iterations} loss {losses[-1]:.5f} "
                f"({time.perf_counter() - start:.0f} s)")
    model.eval().cpu()
    info = {
        "config": asdict(cfg),
        "iteration": list(range(1, len(losses) + 1)),
        "loss": losses,
        "seconds": time.perf_counter() - start,
        "pairs": [r["pair"].key for r in records],
        "teacher_choices": {r["pair"].key: r["choice"] for r in records},
        "lambdas": {r["pair"].task: r["lambda"] for r in records if "lambda" in r},
        "parameters": sum(p.numel() for p in model.parameters()),
        "hardware": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                    f"{cfg.threads} threads",
    }
    return model, info


def save_curve(losses: list[float], path: Path, ylabel: str = "loss") -> None:
    """Convergence curve PNG: loss per iteration and its 25-iteration running mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    it = np.arange(1, len(losses) + 1)
    ax.plot(it, losses, lw=0.6, alpha=0.5, label="loss per iteration")
    if len(losses) >= 25:
        ax.plot(it[24:], np.convolve(losses, np.ones(25) / 25, mode="valid"), lw=1.5,
                label="running mean (25)")
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel, fontsize=8)
    if min(losses) > 0:  # the metric objective makes the loss negative: log scale only if not
        ax.set_yscale("log")
    ax.set_title("PyramidFusionNet training convergence")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_model(model: PyramidFusionNet, path: Path) -> str:
    """Write the checkpoint (config + state_dict) and its checksum file; returns the SHA-256."""
    from ..fusion.weights import write_checksum

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save({"config": model.config(), "state_dict": state}, tmp)
    tmp.replace(path)
    return write_checksum(path)


def save_log(info: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "training_log.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    save_curve(info["loss"], folder / "convergence.png", loss_label(info.get("config", {})))
