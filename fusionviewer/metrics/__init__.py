"""Fusion-quality metrics of shared/docs/metrics.md (no Qt).

``compute_metrics`` scores one 2-D fused image against its sources (and a target);
``evaluate_volume`` does it slice by slice; ``METRICS_INFO`` describes each key for the GUI;
``to_display_u8`` maps [0, 1] floats onto the 0..255 grid the metrics expect. The single
metrics are exported by name too (each module's docstring gives its inputs and units).
"""

from .compute import ALIASES, compute_metrics
from .correlation import (correlation_coefficient, functional_correlation, pearson,
                          sum_of_correlation_differences)
from .fused_only import (average_gradient, energy_of_gradient, entropy, mean_level,
                         spatial_frequency, standard_deviation)
from .info import GROUPS, METRICS_INFO, metric_info
from .information import mutual_information
from .qabf import qabf
from .quality_index import q0_value, qw_value, ssim_values
from .vif import vif, vifp_per_source
from .volume import evaluate_volume, has_signal, to_display_u8

__all__ = ["ALIASES", "GROUPS", "METRICS_INFO", "average_gradient", "compute_metrics",
           "correlation_coefficient", "energy_of_gradient", "entropy", "evaluate_volume",
           "functional_correlation", "has_signal", "mean_level", "metric_info",
           "mutual_information", "pearson", "q0_value", "qabf", "qw_value", "spatial_frequency",
           "ssim_values", "standard_deviation", "sum_of_correlation_differences",
           "to_display_u8", "vif", "vifp_per_source"]
