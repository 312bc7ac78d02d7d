"""Properties of the metrics: identities, symmetries, degenerate images, the spec's section 8."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from fusionviewer.errors import Cancelled, InputError
from fusionviewer.image import Image
from fusionviewer.metrics import (ALIASES, GROUPS, METRICS_INFO, compute_metrics,
                                  evaluate_volume, has_signal, metric_info, to_display_u8)
from fusionviewer.metrics.fused_only import entropy
from fusionviewer.metrics.information import mutual_information
from fusionviewer.metrics.quality_index import pair_sums, q0_value, qw_value

SIZE = 48
QABF_MAX = 0.9994 / (1 + math.exp(-7.5)) * 0.9879 / (1 + math.exp(-4.4))
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def make_image(seed: int, kind: str, size: int = SIZE) -> np.ndarray:
    """Integer 0..255 test images: noise, smooth, blocky (many flat windows), sparse, constant."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        x = rng.integers(0, 256, (size, size))
    elif kind == "smooth":
        x = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), 3)
        x = (x - x.min()) / max(np.ptp(x), 1e-9) * 255
    elif kind == "blocks":
        x = np.kron(rng.integers(0, 256, (size // 12, size // 12)), np.ones((12, 12)))
    elif kind == "sparse":
        x = np.zeros((size, size))
        x[rng.integers(0, size, 20), rng.integers(0, size, 20)] = rng.integers(1, 256, 20)
    else:
        x = np.full((size, size), float(rng.integers(0, 256)))
    return np.rint(x).astype(np.float64)


KINDS = st.sampled_from(["noise", "smooth", "blocks", "sparse", "constant"])
images = st.builds(make_image, st.integers(0, 2**31 - 1), KINDS)
textured = st.builds(make_image, st.integers(0, 2**31 - 1), st.sampled_from(["noise", "smooth"]))


def _close(x: float, y: float, rel: float = 1e-9) -> bool:
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=rel, abs_tol=1e-12)


# --- identities -------------------------------------------------------------------------------

@SETTINGS
@given(textured)
def test_identical_images_give_the_ideal_values(x):
    m = compute_metrics(x, [x, x], x)
    assert m["SSIM"] == pytest.approx(2.0, abs=1e-12)
    assert m["Q0"] == pytest.approx(1.0, abs=1e-12)
    assert m["QW"] == pytest.approx(1.0, abs=1e-12)
    assert m["QE"] == pytest.approx(1.0, abs=1e-12)
    assert m["VIF"] == pytest.approx(2.0, abs=1e-6)
    assert m["CC"] == pytest.approx(1.0, abs=1e-12)
    assert m["Qabf"] == pytest.approx(QABF_MAX, abs=1e-12)
    assert m["SSIM_R"] == pytest.approx(1.0, abs=1e-12)
    assert m["RMSE"] == 0 and m["REL"] == 0 and m["PSNR_R"] == math.inf
    assert m["MI_A"] == pytest.approx(entropy(x) * math.log(2), rel=1e-12)


def test_qabf_maximum_matches_the_spec():
    x = make_image(3, "smooth")
    assert compute_metrics(x, [x, x])["Qabf"] == pytest.approx(0.974794, abs=5e-7)


@SETTINGS
@given(textured, textured)
def test_q_indices_are_one_when_f_equals_both_sources_per_pair(a, b):
    # SSIM per pair is 1 when F = source; with F = A the A-term of each index is ideal
    ps = pair_sums([a], a, 8)[0]
    assert q0_value(ps) == pytest.approx(1.0, abs=1e-12)
    flat = np.full_like(b, 77.0)
    # QW(A, A, B) = 1 when B has no structure (metrics.md 4.9)
    assert compute_metrics(a, [a, flat])["QW"] == pytest.approx(1.0, abs=1e-12)


# --- symmetry and order -----------------------------------------------------------------------

@SETTINGS
@given(images, images, images)
def test_symmetric_in_two_sources(a, b, f):
    m1 = compute_metrics(f, [a, b], functional=0)
    m2 = compute_metrics(f, [b, a], functional=1)
    assert m1["MI_A"] == m2["MI_B"] and m1["MI_B"] == m2["MI_A"]
    for key in m1:
        if key not in ("MI_A", "MI_B"):
            assert _close(m1[key], m2[key]), key


@SETTINGS
@given(images, images, images, images, st.permutations([0, 1, 2]))
def test_invariant_to_the_order_of_three_sources(a, b, c, f, perm):
    srcs = [a, b, c]
    names = ["x", "y", "z"]
    m1 = compute_metrics(f, srcs, names=names)
    m2 = compute_metrics(f, [srcs[i] for i in perm], names=[names[i] for i in perm])
    assert set(m1) == set(m2)
    for key in m1:
        assert _close(m1[key], m2[key], rel=1e-9), key


def test_mutual_information_is_symmetric():
    a, b = make_image(1, "smooth"), make_image(2, "noise")
    qa, qb = np.rint(a).astype(np.intp), np.rint(b).astype(np.intp)
    assert mutual_information(qa, qb) == pytest.approx(mutual_information(qb, qa), rel=1e-12)


# --- degenerate images ------------------------------------------------------------------------

@SETTINGS
@given(images, images, images, images)
def test_never_nan(a, b, f, r):
    m = compute_metrics(f, [a, b], r, functional=0)
    assert not any(math.isnan(v) for v in m.values())


@pytest.mark.parametrize("va,vb,vf", [(0, 0, 0), (10, 200, 105), (0, 255, 0), (50, 50, 50)])
def test_constant_images_give_the_defined_values(va, vb, vf):
    a, b, f = (np.full((SIZE, SIZE), float(v)) for v in (va, vb, vf))
    m = compute_metrics(f, [a, b], a, functional=1)
    assert not any(math.isnan(v) for v in m.values())
    assert m["EN"] == 0 and m["SD"] == 0 and m["SF"] == 0 and m["AG"] == 0 and m["EOG"] == 0
    assert m["CC"] == 0 and m["SCD"] == 0 and m["CClow"] == 0 and m["MI"] == 0
    assert m["VIF"] == 2.0  # den = 0 for both references: VIFP = 1 each
    if va == vb == 0:  # zero padding gives constant non-zero images edges along the border
        assert m["Qabf"] == 0.0  # no edges at all
        assert m["QE"] == pytest.approx(m["QW"])  # edge images all zero: second factor 1
    else:
        assert 0 < m["Qabf"] <= QABF_MAX

    def lum(x, y):  # luminance factor of flat windows; 0/0 counts as 1
        return 1.0 if x == y == 0 else 2 * x * y / (x * x + y * y)

    assert m["Q0"] == pytest.approx((lum(va, vf) + lum(vb, vf)) / 2, abs=1e-12)


def test_small_images_work_without_vif():
    a = make_image(1, "noise", size=20)
    m = compute_metrics(a, [a, a])
    assert "VIF" not in m and m["Q0"] == 1.0 and not any(math.isnan(v) for v in m.values())
    b = make_image(2, "noise", size=41)
    assert "VIF" in compute_metrics(b, [b, b])


def test_flat_windows_in_textured_images_follow_the_zero_over_zero_rules():
    a = make_image(5, "blocks")
    assert compute_metrics(a, [a, a])["Q0"] == 1.0
    assert compute_metrics(a, [a, a])["QE"] == pytest.approx(1.0, abs=1e-15)


# --- section 8 sanity checks ------------------------------------------------------------------

def test_half_black_half_white():
    x = np.zeros((SIZE, SIZE))
    x[:, SIZE // 2:] = 255
    m = compute_metrics(x, [x, x])
    assert m["EN"] == pytest.approx(1.0, abs=1e-12)
    assert m["MI_A"] == pytest.approx(math.log(2), abs=1e-12)


@pytest.mark.parametrize("a,b", [(1, 0), (0, 2), (1, 1), (2, 3)])
def test_ramp(a, b):
    i, j = np.mgrid[0:SIZE, 0:SIZE]
    f = 10.0 + a * j + b * i  # at most 10 + 5 * 47 = 245: no clipping
    m = compute_metrics(f, [f, f])
    assert m["SF"] == pytest.approx(math.hypot(a, b), rel=1e-12)
    assert m["EOG"] == pytest.approx(a * a + b * b, rel=1e-12)
    assert m["AG"] == pytest.approx(math.sqrt((a * a + b * b) / 2), rel=1e-12)


@SETTINGS
@given(textured, textured)
def test_scd_of_sum_is_two(a, b):
    a, b = np.rint(a * 0.49), np.rint(b * 0.49)  # a + b stays within 0..255
    assert compute_metrics(a + b, [a, b])["SCD"] == pytest.approx(2.0, abs=1e-12)


def test_q0_of_doubled_image():
    x = np.rint(make_image(7, "noise") * 0.49)  # noise: no flat 8 x 8 window; 2x <= 255
    m = compute_metrics(2 * x, [x, x])
    assert m["Q0"] == pytest.approx(0.64, abs=1e-12)


def test_reference_metrics():
    r = np.rint(make_image(8, "smooth") * 0.9)
    m = compute_metrics(r + 3, [r, r], r)
    assert m["RMSE"] == pytest.approx(3.0, abs=1e-12)
    assert m["PSNR_R"] == pytest.approx(10 * math.log10(65025 / 9), abs=1e-9)
    assert m["PSNR_R"] == pytest.approx(38.588, abs=5e-4)
    r2 = np.rint(make_image(9, "smooth") * 0.49)
    assert compute_metrics(2 * r2, [r2, r2], r2)["REL"] == pytest.approx(1.0, abs=1e-12)


@SETTINGS
@given(textured, textured, textured)
def test_rotation_changes_only_eog_and_vif_and_transpose_only_qabf(a, b, f):
    m = compute_metrics(f, [a, b], a, functional=1)
    rot = compute_metrics(np.rot90(f, 2), [np.rot90(a, 2), np.rot90(b, 2)], np.rot90(a, 2),
                          functional=1)
    tr = compute_metrics(f.T, [a.T, b.T], a.T, functional=1)
    for key in m:
        if key not in ("EOG", "VIF"):
            assert _close(m[key], rot[key], rel=1e-9), key
        if key != "Qabf":
            assert _close(m[key], tr[key], rel=1e-9), key


# --- options, inputs, names -------------------------------------------------------------------

def test_variants_and_names():
    a, b = make_image(1, "smooth"), make_image(2, "noise")
    f = np.rint((a + b) / 2)
    base = compute_metrics(f, [a, b], a, aliases=True)
    bits = compute_metrics(f, [a, b], a, mi_base=2, psnr_peak="maxF", ssim_data_range=2,
                           names=["CT", "MR"])
    assert bits["MI"] == pytest.approx(base["MI"] / math.log(2), rel=1e-12)
    assert bits["MI_CT"] == pytest.approx(base["MI_A"] / math.log(2), rel=1e-12)
    assert "MI_A" not in bits
    mse = ((f - a) ** 2).mean() / 2 + ((f - b) ** 2).mean() / 2
    assert bits["PSNR"] == pytest.approx(10 * math.log10(f.max() ** 2 / mse), rel=1e-12)
    assert bits["SSIM"] < base["SSIM"]
    for alias, key in ALIASES.items():
        assert base[alias] == base[key]


def test_colour_sources_use_rounded_luma():
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8)
    gray = np.rint(rgb.astype(np.float64) @ [0.299, 0.587, 0.114])
    b = make_image(2, "smooth")
    assert compute_metrics(b, [rgb, b]) == compute_metrics(b, [gray, b])


def test_cclow_needs_an_explicit_functional_source():
    """compute_metrics applies no rule of its own (pipeline.functional_index is the rule)."""
    a, b = make_image(1, "smooth"), make_image(2, "smooth")
    f = np.rint((a + b) / 2)
    mr = Image(a, modality="MR")
    pet = Image(b, modality="PT")
    assert "CClow" not in compute_metrics(f, [mr, pet])
    assert "CClow" not in compute_metrics(f, [a, b])
    m = compute_metrics(f, [mr, pet], functional=1)
    assert m["CClow"] == compute_metrics(f, [a, b], functional=1)["CClow"]


@pytest.mark.parametrize("case", ["shape", "nan", "one", "functional", "names"])
def test_bad_input_raises_input_error(case):
    a = make_image(1, "smooth")
    with pytest.raises(InputError):
        if case == "shape":
            compute_metrics(a, [a, a[:-1]])
        elif case == "nan":
            bad = a.copy()
            bad[3, 3] = np.nan
            compute_metrics(a, [a, bad])
        elif case == "one":
            compute_metrics(a, [a])
        elif case == "functional":
            compute_metrics(a, [a, a], functional=2)
        else:
            compute_metrics(a, [a, a], names=["x"])


# --- info, display mapping, volumes ------------------------------------------------------------

def test_metrics_info_covers_every_key():
    a, b = make_image(1, "smooth"), make_image(2, "noise")
    m = compute_metrics(np.rint((a + b) / 2), [a, b], a, functional=0)
    for key in m:
        info = metric_info(key)
        assert info["group"] in GROUPS
        assert info["better"] in ("higher", "lower", None)
        assert info["description"].endswith(".") and info["name"]
    assert METRICS_INFO["RMSE"]["better"] == "lower"
    assert metric_info("MI_PET")["unit"] == "nats"


def test_to_display_u8():
    x = np.array([-0.5, 0.0, 0.5, 1 / 255, 1.5 / 255, 2.5 / 255, 1.0, 3.0])
    np.testing.assert_array_equal(to_display_u8(x), [0, 0, 128, 1, 2, 2, 255, 255])
    assert to_display_u8(x).dtype == np.float64


def test_evaluate_volume_means_slices_with_signal():
    a = np.stack([make_image(s, "smooth") for s in range(4)])
    b = np.stack([make_image(s + 10, "noise") for s in range(4)])
    f = np.rint((a + b) / 2)
    f[1] = 0
    f[3] = 40
    seen = []
    res = evaluate_volume(f, [a, b], a, functional=0, progress=lambda s, x: seen.append(x))
    assert res["num_slices"] == 4 and res["slices_with_signal"] == [0, 2]
    assert seen == [0.25, 0.5, 0.75, 1.0]
    for key in ("QE", "VIF", "MI_B", "RMSE"):
        want = (res["per_slice"][0][key] + res["per_slice"][2][key]) / 2
        assert res["mean"][key] == pytest.approx(want, rel=1e-12)
    assert res["per_slice"][2] == compute_metrics(f[2], [a[2], b[2]], a[2], functional=0)
    assert not has_signal(f[1]) and not has_signal(f[3]) and has_signal(f[0])


def test_evaluate_volume_cancels():
    a = np.stack([make_image(s, "smooth") for s in range(3)])
    token = threading.Event()

    def progress(stage, fraction):
        token.set()

    with pytest.raises(Cancelled):
        evaluate_volume(a, [a, a], progress=progress, cancel=token)


def test_evaluate_volume_rejects_mismatched_slices():
    a = np.stack([make_image(s, "smooth") for s in range(3)])
    with pytest.raises(InputError):
        evaluate_volume(a, [a, a[:2]])
