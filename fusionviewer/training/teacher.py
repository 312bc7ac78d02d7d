"""The teacher: per training pair, the best of a family of fusions by a composite of metrics.

Candidates (functional source f = CT/PET/SPECT, known at training time only):
- GFF-biased: guided-filtering fusion weights (``fusion.classical.gff_weights``) with the logit
  of the functional source shifted by ``gb`` on the base layer and ``gd`` on the detail layer;
- pyramid: 4-level Laplacian pyramid, per level either a soft max-absolute rule or a fixed
  functional weight (coarse levels leaning to the functional source).
Each candidate is rounded to 8 bits and scored (``scoring.score_stack``). The pick maximises
``4 Qabf + VIF + 0.5 SSIM + 0.5 MI + lambda CClow``; ``lambda`` (one per task) is the smallest
of 0, 1, ..., 40 for which the picks keep a mean CClow >= 0.87 over that task's training pairs,
so functional fidelity is spent where it is cheapest. Every candidate's metrics are cached
(JSON per pair); the chosen candidate is recomputed (deterministic).
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
CCLOW_MIN = 0.87  # mean CClow the teacher's targets must keep, per task, on the training pairs
SCORE_WEIGHTS = {"Qabf": 4.0, "VIF": 1.0, "SSIM": 0.5, "MI": 0.5}
LAMBDAS = tuple(float(x) for x in range(0, 41))  # CClow prices tried, smallest that suffices

GFF_BIASES = [(1.0, 1.0), (1.5, 1.5), (2.0, 1.0), (1.0, 2.0), (2.0, 2.0), (3.0, 2.0), (2.0, 3.0),
              (3.0, 3.0), (4.0, 4.0)]


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


def composite(metrics: dict[str, float], lam: float, weights: dict | None = None) -> float:
    """The teacher's score of one candidate at CClow price ``lam``."""
    w = weights or SCORE_WEIGHTS
    return sum(v * metrics[k] for k, v in w.items()) + lam * metrics["CClow"]


def select(rows: dict[str, dict], lam: float, weights: dict | None = None) -> str:
    """Name of the best candidate given every candidate's metrics."""
    return max(rows, key=lambda n: composite(rows[n], lam, weights))


def calibrate(all_rows: list[dict[str, dict]], cclow_min: float = CCLOW_MIN,
              weights: dict | None = None) -> float:
    """Smallest CClow price whose picks keep a mean CClow >= cclow_min (the largest tried if none)."""
    for lam in LAMBDAS:
        picks = [select(r, lam, weights) for r in all_rows]
        if np.mean([r[p]["CClow"] for r, p in zip(all_rows, picks)]) >= cclow_min:
            return lam
    return LAMBDAS[-1]


def candidate(a: np.ndarray, b: np.ndarray, fun: int, name: str) -> np.ndarray:
    """One named candidate fusion (0..255 floats)."""
    if name.startswith("gff-"):
        _, gb, gd = name.split("-")
        return gff_biased(a, b, fun, float(gb), float(gd))
    return pyramid_rule(a, b, fun, PYRAMID_RULES[name])


def score_candidates(a: np.ndarray, b: np.ndarray, fun: int,
                     known: dict | None = None) -> dict[str, dict]:
    """Metrics of every candidate of one pair (only those missing from ``known`` are scored)."""
    known = dict(known or {})
    cands = {n: f for n, f in candidates(a, b, fun).items() if n not in known}
    if cands:
        names = list(cands)
        sc = scoring.score_stack(np.stack([cands[n] for n in names]), a, b, (a, b)[fun])
        known.update({n: {k: float(v[i]) for k, v in sc.items()} for i, n in enumerate(names)})
    return {n: known[n] for n in candidate_names()}


def candidate_names() -> list[str]:
    return [f"gff-{gb:g}-{gd:g}" for gb, gd in GFF_BIASES] + list(PYRAMID_RULES)


def best_target(a: np.ndarray, b: np.ndarray, fun: int, lam: float = 8.0
                ) -> tuple[np.ndarray, str, dict]:
    """The teacher's target (uint8) for one pair at CClow price ``lam``, its name and metrics."""
    rows = score_candidates(a, b, fun)
    name = select(rows, lam)
    target = np.clip(np.rint(candidate(a, b, fun, name)), 0, 255).astype(np.uint8)
    return target, name, rows[name]


def build_targets(pairs: list[Pair], cache_dir: Path, *, weights: dict | None = None,
                  cclow_min: float = CCLOW_MIN, progress: ProgressCallback | None = None,
                  cancel=None, log=print) -> list[dict]:
    """Teacher targets for ``pairs``; every candidate's metrics are cached in ``cache_dir``."""
    root = Path(cache_dir) / TEACHER_VERSION
    rows_of = []
    for i, pair in enumerate(pairs):
        check_cancel(cancel)
        path = root / pair.task / (Path(pair.name).stem + ".json")
        known = json.loads(path.read_text()) if path.is_file() else {}
        if set(candidate_names()) - set(known):
            a, b = load_pair(pair)
            known = score_candidates(a.astype(np.float64), b.astype(np.float64),
                                     pair.functional, known)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(known))
            tmp.replace(path)
        rows_of.append({n: known[n] for n in candidate_names()})
        report(progress, "teacher targets", 0.9 * (i + 1) / len(pairs))
        if log and (i % 50 == 0 or i == len(pairs) - 1):
            log(f"teacher: scored {i + 1}/{len(pairs)} pairs")
    lams = {t: calibrate([r for p, r in zip(pairs, rows_of) if p.task == t], cclow_min, weights)
            for t in sorted({p.task for p in pairs})}
    out = []
    for pair, rows in zip(pairs, rows_of):
        a, b = load_pair(pair)
        choice = select(rows, lams[pair.task], weights)
        target = candidate(a.astype(np.float64), b.astype(np.float64), pair.functional, choice)
        out.append({"pair": pair, "a": a, "b": b, "lambda": lams[pair.task], "choice": choice,
                    "target": np.clip(np.rint(target), 0, 255).astype(np.uint8),
                    "metrics": rows[choice]})
    report(progress, "teacher targets", 1.0)
    if log:
        for t, lam in lams.items():
            recs = [r for r in out if r["pair"].task == t]
            means = {k: np.mean([r["metrics"][k] for r in recs]) for k in recs[0]["metrics"]}
            log(f"teacher {t}: lambda {lam:g}, target means "
                + " ".join(f"{k}={v:.3f}" for k, v in means.items()))
    return out
