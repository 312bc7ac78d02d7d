"""ROI statistics on original values against plain numpy: rectangle, ellipse, 3-D box, SUVpeak."""

from __future__ import annotations

import numpy as np
import pytest

from fusionviewer.analysis.roi import PEAK_RADIUS_MM, Region, region_statistics, sphere_mean


@pytest.fixture
def volume():
    rng = np.random.default_rng(3)
    return (rng.normal(40, 300, (12, 60, 80))).astype(np.float32)  # HU-like, not clipped


def test_rectangle_matches_numpy(volume):
    stats = region_statistics(volume, (0.98, 0.98, 5.0), Region("rectangle", (10, 5, 20, 15), 4, 4))
    crop = volume[4, 5:20, 10:30].astype(np.float64)
    assert stats["mean"] == pytest.approx(crop.mean(), rel=1e-12)
    assert stats["sd"] == pytest.approx(crop.std(), rel=1e-12)
    assert (stats["min"], stats["max"], stats["n"]) == (crop.min(), crop.max(), 300)
    assert stats["volume_ml"] == pytest.approx(300 * 0.98 * 0.98 * 5.0 / 1000)
    assert stats["max"] > 300  # not clipped to any display window


def test_ellipse_matches_numpy(volume):
    stats = region_statistics(volume, (1, 1, 1), Region("ellipse", (20.0, 10.0, 30.0, 20.0), 2, 2))
    yy, xx = np.mgrid[0:60, 0:80] + 0.5
    inside = ((xx - 35) / 15) ** 2 + ((yy - 20) / 10) ** 2 <= 1
    vals = volume[2][inside].astype(np.float64)
    assert stats["n"] == inside.sum() < 30 * 20
    assert stats["mean"] == pytest.approx(vals.mean(), rel=1e-12)
    assert stats["sd"] == pytest.approx(vals.std(), rel=1e-12)
    assert stats["max"] == vals.max() and stats["min"] == vals.min()


def test_box_over_slices_matches_numpy(volume):
    stats = region_statistics(volume, (2, 2, 3), Region("box", (0, 0, 10, 10), 3, 7))
    block = volume[3:8, 0:10, 0:10].astype(np.float64)
    assert stats["n"] == 500
    assert stats["mean"] == pytest.approx(block.mean(), rel=1e-12)
    assert stats["volume_ml"] == pytest.approx(500 * 12 / 1000)


def test_region_clipped_at_the_border(volume):
    stats = region_statistics(volume, (1, 1, 1), Region("rectangle", (70, 50, 30, 30), 0, 0))
    assert stats["n"] == 10 * 10
    empty = region_statistics(volume, (1, 1, 1), Region("rectangle", (200, 200, 5, 5), 0, 0))
    assert empty["n"] == 0 and np.isnan(empty["mean"])


def test_suv_peak_is_the_mean_of_the_1ml_sphere_around_the_max():
    vol = np.ones((20, 40, 40), np.float32)
    vol[10, 20, 20] = 100.0
    spacing = (2.0, 2.0, 2.0)
    stats = region_statistics(vol, spacing, Region("box", (10, 10, 20, 20), 5, 15), peak=True)
    z, y, x = np.mgrid[0:20, 0:40, 0:40]
    d2 = ((z - 10) * 2.0) ** 2 + ((y - 20) * 2.0) ** 2 + ((x - 20) * 2.0) ** 2
    inside = d2 <= PEAK_RADIUS_MM ** 2
    assert stats["max"] == 100.0
    assert stats["peak"] == pytest.approx(vol[inside].mean())
    assert 1 < stats["peak"] < 100
    assert inside.sum() * 8 / 1000 == pytest.approx(1.0, abs=0.15)  # about 1 ml
    assert sphere_mean(vol, spacing, (0, 0, 0)) == 1.0
