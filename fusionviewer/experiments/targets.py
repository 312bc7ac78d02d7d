"""Target images for the target-based metrics: the supervised pipeline's teacher, per pair.

The paper scores its fusions against "a target image" from its training database of
successful fusion results. Our equivalent is the teacher of ``fusionviewer.training``, the
function that builds the CNN's training targets; here it is applied to val pairs (which the
CNN never saw), so RMSE/PSNR/SSIM/REL say how closely the CNN reproduces its teacher.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .data import Pair


def training_log() -> dict:
    """The bundled weights' training log (models/training_log.json); {} when unreadable."""
    import json

    from ..paths import model_path

    try:
        log = json.loads(model_path("training_log.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return log if isinstance(log, dict) else {}


def training_lambdas() -> dict[str, float]:
    """Per-task CClow prices the bundled weights' teacher used (models/training_log.json)."""
    lam = training_log().get("lambdas")
    return {str(k): float(v) for k, v in lam.items()} if isinstance(lam, dict) else {}


def find_optimised_teacher(steps: int | None = None) -> tuple[Callable | None, str]:
    """The optimising teacher as a target function and a description (see find_teacher)."""
    try:
        from ..training import optimised_teacher as ot
    except ImportError as exc:
        return None, f"no optimised teacher available ({exc})"
    steps = steps or ot.DEFAULT_STEPS

    def make(a: np.ndarray, b: np.ndarray, functional: int, task: str) -> np.ndarray:
        return ot.optimise_pair(a, b, functional, steps=steps, **ot.task_objective(task))[0]

    text = (f"`fusionviewer.training.optimised_teacher.optimise_pair`, {ot.VERSION}: the "
            f"network's own output maps fitted per pair by Adam to {ot.objective_text()}, "
            f"{steps} steps"
            + ("" if steps == ot.DEFAULT_STEPS else f" (training used {ot.DEFAULT_STEPS})"))
    return make, text


def find_teacher(steps: int | None = None) -> tuple[Callable | None, str]:
    """The target function ``(a, b, functional, task) -> 0..255 image`` of the teacher the
    bundled weights were trained on, and a description; (None, why) when it is unavailable.
    ``steps`` caps the optimising teacher's Adam steps (quick runs)."""
    if training_log().get("teacher") == "optimised":
        return find_optimised_teacher(steps)
    try:
        from ..training import teacher
    except ImportError as exc:
        return None, f"no teacher available ({exc})"
    best = getattr(teacher, "best_target", None)
    if best is None:
        return None, "fusionviewer.training.teacher has no best_target function"
    lambdas = training_lambdas()

    def make(a: np.ndarray, b: np.ndarray, functional: int, task: str) -> np.ndarray:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if task in lambdas:  # the CClow price the training targets of this task used
            return best(a, b, functional, lambdas[task])[0]
        return best(a, b, functional)[0]

    version = getattr(teacher, "TEACHER_VERSION", "teacher")
    doc = (teacher.__doc__ or "").strip().splitlines()
    text = "`fusionviewer.training.teacher.best_target`, " + (
        f"{version}: {doc[0].rstrip('.')}" if doc else version)
    weights = getattr(teacher, "SCORE_WEIGHTS", None)
    if weights:  # the rule as the teacher module defines it
        rule = " + ".join(f"{w:g} {k}" if w != 1 else k for k, w in weights.items())
        if lambdas:
            text += (f"; the pick maximises {rule} + λ CClow with the per-task λ of the bundled "
                     "weights' training log (" + ", ".join(f"{t} {v:g}" for t, v in
                                                            lambdas.items()) + ")")
        else:
            text += f"; the pick maximises {rule} (teacher defaults)"
    return make, text


class TargetMaker:
    """Builds (and caches per pair) the teacher's target on the 0..255 grid, timing each."""

    def __init__(self, fn: Callable | None = None, description: str = "",
                 steps: int | None = None):
        if fn is None and not description:
            fn, description = find_teacher(steps)
        self.fn = fn
        self.description = description
        self.cache: dict[str, np.ndarray] = {}
        self.seconds: dict[str, float] = {}

    @property
    def available(self) -> bool:
        return self.fn is not None

    @property
    def note(self) -> str:
        """One paragraph for the report saying what the target is."""
        if self.fn is None:
            return (f"none: {self.description}; the target-based metrics (RMSE, PSNR_R, SSIM_R, "
                    "REL) are omitted.")
        return ("the teacher's target image of our supervised training pipeline "
                "(" + self.description.rstrip(".")
                + "), built here for each val pair; the paper's targets are its own database "
                "of fusion results, which is not available.")

    def get(self, pair: Pair, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        """The target of a pair (0..255 float64, rounded to 8 bits), or None without a teacher."""
        if self.fn is None:
            return None
        if pair.key not in self.cache:
            t0 = time.perf_counter()
            target = self.fn(a, b, pair.functional, pair.task)
            self.seconds[pair.key] = time.perf_counter() - t0
            t = np.asarray(target, dtype=np.float64)  # uint8 grid already; kept as float64
            self.cache[pair.key] = np.clip(np.rint(t), 0, 255)
        return self.cache[pair.key]
