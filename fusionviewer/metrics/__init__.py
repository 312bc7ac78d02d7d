"""Fusion-quality metrics of shared/docs/metrics.md (no Qt).

``compute_metrics`` scores one 2-D fused image against its sources (and a target);
``evaluate_volume`` does it slice by slice; ``METRICS_INFO`` describes each key for the GUI;
``to_display_u8`` maps [0, 1] floats onto the 0..255 grid the metrics expect.
"""

from .compute import ALIASES, compute_metrics
from .info import GROUPS, METRICS_INFO, metric_info
from .volume import evaluate_volume, has_signal, to_display_u8

__all__ = ["ALIASES", "GROUPS", "METRICS_INFO", "compute_metrics", "evaluate_volume",
           "has_signal", "metric_info", "to_display_u8"]
