"""Fusion-quality metrics of shared/docs/metrics.md (no Qt): compute_metrics, METRICS_INFO,
evaluate_volume, to_display_u8."""

from .compute import ALIASES, compute_metrics

__all__ = ["ALIASES", "compute_metrics"]
