"""Reproduction of the paper's experiments on our data and model (no Qt).

``run_experiments(Config(out, data, quick=..., pairs=..., seed=...))`` runs Table 1/2, the
comparison with classical and published methods, the block-size study, the disturbance study,
the convergence curve, a three-source fusion and the speed study, and writes ``report.md`` with
PNG figures (matplotlib Agg) and CSV/JSON data into ``out``.
"""

from .context import Config
from .runner import EXPERIMENTS, run_experiments

__all__ = ["Config", "EXPERIMENTS", "run_experiments"]
