"""Time every metric and the full set on a 256 x 256 triplet (+ target), single thread; prints JSON.

Usage: python benchmarks/bench_metrics.py [--repeat N]
Each time is in milliseconds: "cpu" is the median of the thread's CPU time (robust when other
processes share the cores), "wall_min" the fastest wall-clock run. The per-metric times call the
metric's own function with its own preparation (Sobel, box sums...), so they add up to more
than the full set, which computes shared intermediates once.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusionviewer.metrics import compute_metrics  # noqa: E402
from fusionviewer.metrics import correlation, fused_only  # noqa: E402
from fusionviewer.metrics._windows import sobel  # noqa: E402
from fusionviewer.metrics.information import mutual_information  # noqa: E402
from fusionviewer.metrics.qabf import edge_angle, qabf  # noqa: E402
from fusionviewer.metrics.quality_index import (pair_sums, q0_value, qw_value,  # noqa: E402
                                                ssim_values)
from fusionviewer.metrics.vif import vif  # noqa: E402

HARVARD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "harvard"


def _triplet() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A CT-MRI pair from ../shared if present, else smooth random images; F = average, R = B."""
    try:
        from PIL import Image as PILImage

        a = np.asarray(PILImage.open(HARVARD / "ct-mri" / "ct" / "2010.png"), dtype=np.float64)
        b = np.asarray(PILImage.open(HARVARD / "ct-mri" / "mri" / "2010.png"), dtype=np.float64)
    except OSError:
        from scipy import ndimage

        rng = np.random.default_rng(0)
        a, b = (np.clip(np.rint(ndimage.gaussian_filter(rng.normal(128, 80, (256, 256)), 2) * 3
                                - 256), 0, 255) for _ in range(2))
    f = np.rint((a + b) / 2)
    return a, b, f, b.copy()


def _time(fn, repeat: int) -> dict[str, float]:
    fn()
    cpu, wall = [], []
    for _ in range(repeat):
        c0, t0 = time.thread_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return {"cpu": round(1000 * float(np.median(cpu)), 3), "wall_min": round(1000 * min(wall), 3)}


def _qabf(s, f):
    grads = [sobel(x) for x in s + [f]]
    g = [np.sqrt(gx * gx + gy * gy) for gx, gy in grads]
    ang = [edge_angle(gx, gy) for gx, gy in grads]
    return qabf(g[:-1], ang[:-1], g[-1], ang[-1])


def _qe(s, f):
    g = [np.sqrt(gx * gx + gy * gy) for gx, gy in (sobel(x) for x in s + [f])]
    return qw_value(pair_sums(s, f, 8)[0]) * qw_value(pair_sums(g[:-1], g[-1], 8)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    a, b, f, r = _triplet()
    s = [a, b]
    qf = fused_only.quantize(f)
    single = {
        "EN": lambda: fused_only.entropy(f),
        "SD": lambda: fused_only.standard_deviation(f),
        "MEAN": lambda: fused_only.mean_level(f),
        "SF": lambda: fused_only.spatial_frequency(f),
        "AG": lambda: fused_only.average_gradient(f),
        "EOG": lambda: fused_only.energy_of_gradient(f),
        "MI": lambda: [mutual_information(qf, fused_only.quantize(x)) for x in (a, b)],
        "SCD": lambda: correlation.sum_of_correlation_differences(f, [a, b]),
        "CC": lambda: correlation.correlation_coefficient(f, [a, b]),
        "VIF": lambda: vif(s, f),
        "Qabf": lambda: _qabf(s, f),
        "SSIM": lambda: ssim_values(pair_sums(s, f, 7)[0]),
        "PSNR": lambda: np.mean([np.mean((f - x) ** 2) for x in (a, b)]),
        "Q0": lambda: q0_value(pair_sums(s, f, 8)[0]),
        "QW": lambda: qw_value(pair_sums(s, f, 8)[0]),
        "QE": lambda: _qe(s, f),
        "target (RMSE, PSNR_R, SSIM_R, REL)": lambda: (np.mean((f - r) ** 2), np.sum(r * r),
                                                       ssim_values(pair_sums([r], f, 7)[0])),
        "CClow": lambda: correlation.functional_correlation(f, a),
    }
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} logical CPUs, single thread",
        "image": "256x256 CT-MRI triplet (F = average, target R = MRI)",
        "repeat": args.repeat,
        "unit": "ms; cpu = median thread CPU time, wall_min = fastest wall-clock run",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "per_metric_ms": {k: _time(fn, args.repeat) for k, fn in single.items()},
        "full_set_with_target_ms": _time(lambda: compute_metrics(f, [a, b], r, functional=0),
                                         args.repeat),
        "limits_ms": {"full_set_with_target": 150, "VIF": 30, "QE": 30},
    }
    pm = result["per_metric_ms"]
    full = result["full_set_with_target_ms"]
    result["within_limits_cpu"] = bool(full["cpu"] < 150 and pm["VIF"]["cpu"] < 30
                                       and pm["QE"]["cpu"] < 30)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
