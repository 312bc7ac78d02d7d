"""The teacher: per training pair, the best of a family of fusions by a composite of metrics.

Candidates (functional source f = CT/PET/SPECT, known at training time only):
- GFF-biased: guided-filtering fusion weights (``fusion.classical.gff_weights``) with the logit
  of the functional source shifted by ``gb`` on the base layer and ``gd`` on the detail layer;
- pyramid: 4-level Laplacian pyramid, per level either a soft max-absolute rule or a fixed
  functional weight (coarse levels leaning to the functional source).
Each candidate is rounded to 8 bits and scored (``scoring.score_stack``); the pick maximises
``2 Qabf + VIF + 0.5 SSIM + 0.2 MI`` among the candidates with ``CClow >= 0.87`` (the highest
CClow if none reaches it). Every candidate's metrics are cached (JSON per pair), so the pick
can be redone cheaply with other weights; the chosen candidate is recomputed (deterministic).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from ..fusion.classical import _box, gff_weights
from ..fusion.model import LaplacianPyramid
from ..progress import ProgressCallback, check_cancel, report
from . import scoring
from .data import Pair, load_pair

TEACHER_VERSION = "teacher-v1"
CCLOW_MIN = 0.87
SCORE_WEIGHTS = {"Qabf": 2.0, "VIF": 1.0, "SSIM": 0.5, "MI": 0.2}

GFF_BIASES = [(1.0, 1.0), (2.0, 2.0), (3.0, 2.0), (2.0, 3.0), (3.0, 3.0), (4.0, 4.0)]


def _logit(w: float) -> float:
    return math.log(w / (1 - w))


# per level (beta on |band| in grey levels, functional logit); last entry is the base
PYRAMID_RULES = {
    "lp-fine-max-avg": [(1, 0), (1, 0), (0, 0), (0, 0), (0, 0)],
    "lp-fine-max-fun": [(1, 0), (1, 0), (0, _logit(0.6)), (0, _logit(0.6)), (0, _logit(0.7))],
    "lp-max-base-fun": [(1, 0), (1, 0), (1, 0), (1, 0), (0, 9.0)],
    "lp-soft-0.3-0.5": [(0, _logit(0.3)), (0, _logit(0.3)), (0, 0), (0, 0), (0, 0)],
    "average": [(0, 0)] * 5,
}


def _bias(w: np.ndarray, fun: int, g: float) -> np.ndarray:
    wf = np.clip(w[fun], 1e-6, 1 - 1e-6)
    wf = 1.0 / (1.0 + np.exp(-(np.log(wf / (1 - wf)) + g)))
    out = w * ((1 - wf) / np.maximum(1 - w[fun], 1e-12))[None]
    out[fun] = wf
    return out


def gff_biased(a: np.ndarray, b: np.ndarray, fun: int, gb: float, gd: float) -> np.ndarray:
    """GFF with the functional weight's logit shifted by gb (base) and gd (detail); 0..255."""
    s = np.stack([a, b]).astype(np.float64) / 255.0
    base = _box(s, 15)
    wb, wd = gff_weights(s)
    f = (_bias(wb, fun, gb) * base).sum(0) + (_bias(wd, fun, gd) * (s - base)).sum(0)
    return np.clip(f * 255.0, 0, 255)


def pyramid_rule(a: np.ndarray, b: np.ndarray, fun: int, rule) -> np.ndarray:
    """Per-level Laplacian pyramid fusion: softmax(beta * local |band| + logit * is_functional)."""
    pyr = LaplacianPyramid(len(rule) - 1).double()
    x = torch.from_numpy(np.stack([a, b]).astype(np.float64))[None]
    isf = torch.zeros(1, 2, 1, 1, dtype=torch.float64)
    isf[0, fun] = 1.0
    fused = []
    for (beta, g), band in zip(rule, pyr.decompose(x)):
        act = torch.nn.functional.avg_pool2d(
            torch.nn.functional.pad(band.abs(), (1, 1, 1, 1), mode="replicate"), 3, 1)
        w = torch.softmax(beta * act + g * isf, dim=1)
        fused.append((w * band).sum(1, keepdim=True))
    return pyr.reconstruct(fused)[0, 0].clamp(0, 255).numpy()


def candidates(a: np.ndarray, b: np.ndarray, fun: int) -> dict[str, np.ndarray]:
    """All candidate fusions of one pair (0..255 floats)."""
    out = {f"gff-{gb:g}-{gd:g}": gff_biased(a, b, fun, gb, gd) for gb, gd in GFF_BIASES}
    for name, rule in PYRAMID_RULES.items():
        out[name] = pyramid_rule(a, b, fun, rule)
    return out


def select(rows: dict[str, dict], weights: dict | None = None,
           cclow_min: float = CCLOW_MIN) -> str:
    """Name of the best candidate given every candidate's metrics (see the module docstring)."""
    weights = weights or SCORE_WEIGHTS
    ok = [n for n, r in rows.items() if r["CClow"] >= cclow_min]
    if not ok:
        return max(rows, key=lambda n: rows[n]["CClow"])
    return max(ok, key=lambda n: sum(w * rows[n][k] for k, w in weights.items()))


def candidate(a: np.ndarray, b: np.ndarray, fun: int, name: str) -> np.ndarray:
    """One named candidate fusion (0..255 floats)."""
    if name.startswith("gff-"):
        _, gb, gd = name.split("-")
        return gff_biased(a, b, fun, float(gb), float(gd))
    return pyramid_rule(a, b, fun, PYRAMID_RULES[name])


def score_candidates(a: np.ndarray, b: np.ndarray, fun: int) -> dict[str, dict]:
    """Metrics of every candidate of one pair."""
    cands = candidates(a, b, fun)
    names = list(cands)
    sc = scoring.score_stack(np.stack([cands[n] for n in names]), a, b, (a, b)[fun])
    return {n: {k: float(v[i]) for k, v in sc.items()} for i, n in enumerate(names)}


def best_target(a: np.ndarray, b: np.ndarray, fun: int) -> tuple[np.ndarray, str, dict]:
    """The teacher's target (uint8), the chosen candidate's name and its metrics."""
    rows = score_candidates(a, b, fun)
    name = select(rows)
    target = np.clip(np.rint(candidate(a, b, fun, name)), 0, 255).astype(np.uint8)
    return target, name, rows[name]


def build_targets(pairs: list[Pair], cache_dir: Path, *, weights: dict | None = None,
                  cclow_min: float = CCLOW_MIN, progress: ProgressCallback | None = None,
                  cancel=None, log=print) -> list[dict]:
    """Teacher targets for ``pairs``; every candidate's metrics are cached in ``cache_dir``."""
    root = Path(cache_dir) / TEACHER_VERSION
    out = []
    for i, pair in enumerate(pairs):
        check_cancel(cancel)
        path = root / pair.task / (Path(pair.name).stem + ".json")
        a, b = load_pair(pair)
        af, bf = a.astype(np.float64), b.astype(np.float64)
        if path.is_file():
            rows = json.loads(path.read_text())
        else:
            rows = score_candidates(af, bf, pair.functional)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(rows))
            tmp.replace(path)
        choice = select(rows, weights, cclow_min)
        target = np.clip(np.rint(candidate(af, bf, pair.functional, choice)), 0, 255)
        out.append({"pair": pair, "a": a, "b": b, "target": target.astype(np.uint8),
                    "choice": choice, "metrics": rows[choice]})
        report(progress, "teacher targets", (i + 1) / len(pairs))
        if log and (i % 25 == 0 or i == len(pairs) - 1):
            log(f"teacher {i + 1}/{len(pairs)} {pair.key}: {choice} "
                + " ".join(f"{k}={v:.3f}" for k, v in rows[choice].items()))
    return out
