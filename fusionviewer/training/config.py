"""Training hyper-parameters (torch-free, so the CLI can show the defaults without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError

TEACHER_STEPS = 150  # Adam steps per pair of the optimising teacher (its cache is per count)


@dataclass
class TrainConfig:
    iterations: int = 2000
    batch_size: int = 16
    crop: int = 256
    lr: float = 3e-3
    grad_weight: float = 0.5
    noise_prob: float = 0.5
    noise_max: float = 12.0  # grey levels (0..255)
    # Defaults reproduce the bundled weights (imitation only, of the optimised teacher's
    # targets: ``python -m fusionviewer.training`` with no options). The optional metric objective
    # (metric_weight > 0): -(qabf_weight Qabf + vif_weight VIF + ssim_weight SSIM + mi_weight MI)
    # / 5.5 against the clean sources, plus cclow_weight * relu(cclow_target - batch-mean CClow);
    # models/README.md reports what it gave.
    sup_weight: float = 1.0  # weight of the imitation (L1 + Sobel L1 to the teacher) term
    metric_weight: float = 0.0
    qabf_weight: float = 4.0
    qabf_sharpness: float = 1.0  # < 1 widens Qabf's sigmoids in the loss (see losses.qabf)
    vif_weight: float = 1.0
    ssim_weight: float = 0.5
    mi_weight: float = 0.5
    cclow_target: float = 0.87
    cclow_weight: float = 20.0
    seed: int = 0
    threads: int = 2
    device: str = "cpu"  # training device; the bundled weights are trained on the CPU
    model: dict = field(default_factory=lambda: {"levels": 4, "width": 24, "act_scale": 64.0})

    def __post_init__(self) -> None:
        if self.metric_weight > 0 and self.crop < 64:
            raise InputError(f"crop {self.crop} is too small for the metric terms "
                             "(VIF needs >= 64)")


def loss_label(cfg: dict) -> str:
    """What the logged loss is, from a logged config."""
    sup = f"{cfg.get('sup_weight', 1.0):g} x (L1 + {cfg.get('grad_weight', 0.5):g} L1 Sobel)"
    if not cfg.get("metric_weight"):
        return "loss: " + sup
    return f"loss: {sup} - {cfg['metric_weight']:g} x metric objective + CClow penalty"
