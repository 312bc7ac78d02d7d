"""Every value of shared/docs/golden/metrics_golden.json, reproduced to 1e-6 relative."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from harvard_data import HARVARD, SHARED, read_gray_u8
from fusionviewer.metrics import compute_metrics

GOLDEN = json.loads((SHARED / "docs" / "golden" / "metrics_golden.json").read_text())
CASES = GOLDEN["cases"]
VARIANT_KEYS = {"SSIM_data_range_2": "SSIM", "SSIM_R_data_range_2": "SSIM_R",
                "PSNR_peak_maxF": "PSNR", "MI_bits": "MI"}
RTOL = 1e-6


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).hexdigest()


def _load_case(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a = read_gray_u8(HARVARD / case["A"])
    b = read_gray_u8(HARVARD / case["B"])
    r = read_gray_u8(HARVARD / case["R"])
    if case["fusion"] == "average":
        f = np.rint((a.astype(np.float64) + b) / 2).astype(np.uint8)
    else:
        f = np.maximum(a, b)
    return a, b, f, r


def test_golden_file_covers_every_key():
    assert len(CASES) == 10
    assert set(GOLDEN["metric_keys"]) <= set(CASES[0]["metrics"])
    assert set(GOLDEN["variant_keys"]) == set(VARIANT_KEYS)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_pixels(case):
    a, b, f, _ = _load_case(case)
    assert _sha(a) == case["pixels_sha256"]["A"]
    assert _sha(b) == case["pixels_sha256"]["B"]
    assert _sha(f) == case["pixels_sha256"]["F"]
    assert list(f.shape) == case["shape"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_metrics(case):
    a, b, f, r = _load_case(case)
    functional = "AB".index(case["functional_source"])
    got = compute_metrics(f, [a, b], r, functional=functional, aliases=True)
    for key, want in case["metrics"].items():
        assert got[key] == pytest.approx(want, rel=RTOL, abs=1e-12), key
    for alias, key in {"ENT": "EN", "H": "EN", "Entropy": "EN", "STD": "SD", "GRAD": "AG"}.items():
        assert got[alias] == got[key]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_variants(case):
    a, b, f, r = _load_case(case)
    got = compute_metrics(f, [a, b], r, ssim_data_range=2, psnr_peak="maxF", mi_base=2)
    for key, metric in VARIANT_KEYS.items():
        assert got[metric] == pytest.approx(case["variants"][key], rel=RTOL), key


@pytest.mark.parametrize("case", CASES[:3], ids=[c["id"] for c in CASES[:3]])
def test_golden_float_fused_is_rounded_like_png(case):
    """A float fused image (the unrounded average) scores as its rounded 8-bit PNG would."""
    a, b, f, r = _load_case(case)
    raw = (a.astype(np.float64) + b) / 2 if case["fusion"] == "average" else f + 0.3
    got = compute_metrics(raw, [a, b], r)
    want = compute_metrics(f, [a, b], r)
    assert got == want
