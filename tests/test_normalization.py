"""Normalization to [0, 1]: windows, presets, percentiles, the auto rules, colour and YCbCr."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from harvard_data import harvard_pair_paths
from fusionviewer.errors import InputError
from fusionviewer.image import Image
from fusionviewer.normalization import (CT_PRESETS, normalize, rgb_to_ycbcr, ycbcr_to_rgb)


def png(task: str, name: str, which: int) -> np.ndarray:
    arr = np.asarray(PILImage.open(harvard_pair_paths(task, name)[which]))
    return arr[np.newaxis, ..., :3] if arr.ndim == 3 else arr[np.newaxis]


def hu_volume() -> np.ndarray:
    """A CT-like volume in HU from a real Harvard CT slice: air -1000, brain ~0..80, bone > 400."""
    ct = png("ct-mri", "34012.png", 0).astype(np.float32)
    return np.where(ct < 5, -1000.0, ct * 8.0 - 400.0).astype(np.int16)


def test_presets_are_the_documented_windows():
    assert CT_PRESETS == {"brain": (40.0, 80.0), "soft tissue": (40.0, 400.0),
                          "bone": (400.0, 1800.0)}


@pytest.mark.parametrize("name,low,high", [("brain", 0, 80), ("soft tissue", -160, 240),
                                           ("bone", -500, 1300)])
def test_window_presets_map_their_range(name, low, high):
    hu = hu_volume()
    out = normalize(Image(hu, modality="CT"), preset=name)
    assert out.array.dtype == np.float32
    assert out.normalization.kind == "window"
    assert (out.normalization.low, out.normalization.high) == (low, high)
    expected = np.clip((hu.astype(np.float64) - low) / (high - low), 0, 1)
    np.testing.assert_allclose(out.array, expected, atol=1e-6)
    assert out.array.min() >= 0.0 and out.array.max() <= 1.0
    # the record maps back: invert(apply(v)) == v inside the window
    inside = (hu > low) & (hu < high)
    np.testing.assert_allclose(out.normalization.invert(out.array)[inside], hu[inside], atol=0.05)


def test_explicit_window_and_bad_window():
    img = Image(hu_volume(), modality="CT")
    out = normalize(img, mode="window", window=(50, 100))
    assert (out.normalization.low, out.normalization.high) == (0.0, 100.0)
    with pytest.raises(InputError, match="width must be a positive"):
        normalize(img, window=(40, 0))
    with pytest.raises(InputError, match="width must be a positive"):
        normalize(img, window=(40, -80))


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InputError, match="brain, soft tissue, bone"):
        normalize(Image(hu_volume(), modality="CT"), preset="lung")


def test_auto_ct_uses_the_header_window_first():
    img = Image(hu_volume(), modality="CT", window=(300.0, 1500.0))
    out = normalize(img)
    assert (out.normalization.low, out.normalization.high) == (-450.0, 1050.0)
    assert "header" in out.normalization.note
    assert out.window is None


def test_auto_ct_in_hu_without_header_uses_the_brain_preset():
    out = normalize(Image(hu_volume(), modality="CT"))
    assert (out.normalization.kind, out.normalization.low, out.normalization.high) == (
        "window", 0.0, 80.0)
    assert "brain" in out.normalization.note


def test_auto_ct_not_in_hu_uses_percentiles():
    ct = png("ct-mri", "34012.png", 0).astype(np.float32) * 3.0 + 10.0  # positive, not HU
    out = normalize(Image(ct, modality="CT"))
    assert out.normalization.kind == "percentile"
    lo, hi = np.percentile(ct, [0.5, 99.5])
    assert out.normalization.low == pytest.approx(lo)
    assert out.normalization.high == pytest.approx(hi)


def test_auto_uint8_is_fixed_and_exact_for_png_round_trips():
    mr = png("ct-mri", "34012.png", 1)
    assert mr.dtype == np.uint8
    out = normalize(Image(mr, modality="MR"))
    assert out.normalization.kind == "fixed"
    assert (out.normalization.low, out.normalization.high) == (0.0, 255.0)
    back = np.rint(out.array * 255.0).astype(np.uint8)
    np.testing.assert_array_equal(back, mr)
    # uint8 CT (a PNG) is also fixed, not windowed as HU
    assert normalize(Image(png("ct-mri", "34012.png", 0), modality="CT")).normalization.kind == \
        "fixed"


@pytest.mark.parametrize("modality", ["MR", "OT"])
def test_auto_non_ct_float_data_uses_robust_percentiles(modality):
    rng = np.random.default_rng(0)
    mr = png("ct-mri", "34012.png", 1).astype(np.float32) * 7.5
    mr.flat[rng.choice(mr.size, 20, replace=False)] = 1e6  # hot outliers must not set the scale
    out = normalize(Image(mr, modality=modality))
    assert out.normalization.kind == "percentile"
    assert out.normalization.high < 255 * 7.5 + 1
    assert np.mean(out.array >= 1.0) < 0.01
    assert out.array.min() >= 0.0 and out.array.max() <= 1.0


def test_percentile_mode_respects_the_requested_percentiles():
    data = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    out = normalize(Image(data, modality="MR"), mode="percentile", percentiles=(10, 90))
    assert out.normalization.low == pytest.approx(99.9)
    assert out.normalization.high == pytest.approx(899.1)
    with pytest.raises(InputError, match="percentiles"):
        normalize(Image(data), mode="percentile", percentiles=(90, 10))


def test_constant_image_gives_zeros_without_warnings():
    with np.errstate(all="raise"):
        for mode in ("auto", "percentile"):
            out = normalize(Image(np.full((1, 16, 16), 42.0, np.float32), modality="MR"),
                            mode=mode)
            assert out.array.dtype == np.float32 and not out.array.any()


def test_nan_input_is_an_input_error():
    data = np.zeros((1, 8, 8), np.float32)
    data[0, 3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        normalize(Image(data, modality="MR"))


def test_unknown_mode_is_an_input_error():
    with pytest.raises(InputError, match="unknown normalization mode"):
        normalize(Image(np.zeros((1, 4, 4), np.float32)), mode="zscore")


def test_colour_image_is_normalized_per_channel_with_one_map():
    pet = png("pet-mri", "30045.png", 1)
    assert pet.shape[-1] == 3 and pet.dtype == np.uint8
    out = normalize(Image(pet, modality="PT"))
    assert out.is_color and out.array.dtype == np.float32
    assert out.normalization.kind == "fixed"
    np.testing.assert_allclose(out.array, pet / 255.0, atol=1e-7)
    lum = out.luminance()
    np.testing.assert_allclose(lum, (pet @ [0.299, 0.587, 0.114]) / 255.0, atol=1e-6)


def test_normalized_image_is_returned_unchanged_by_auto():
    once = normalize(Image(hu_volume(), modality="CT"))
    assert normalize(once) is once


def test_ycbcr_round_trip_on_real_colour_pixels():
    rgb = png("spect-mri", "29008.png", 1)[0] / 255.0
    y, cb, cr = rgb_to_ycbcr(rgb)
    np.testing.assert_allclose(y, rgb @ [0.299, 0.587, 0.114], atol=1e-6)
    assert 0 <= cb.min() and cb.max() <= 1 and 0 <= cr.min() and cr.max() <= 1
    np.testing.assert_allclose(ycbcr_to_rgb(y, cb, cr), rgb, atol=1e-5)


def test_ycbcr_of_primaries_and_gray():
    rgb = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5]])
    y, cb, cr = rgb_to_ycbcr(rgb)
    np.testing.assert_allclose(y, [0.299, 0.587, 0.114, 0.5], atol=1e-7)
    np.testing.assert_allclose(cb[3], 0.5, atol=1e-7)
    np.testing.assert_allclose(cr[3], 0.5, atol=1e-7)
    np.testing.assert_allclose(cb[2], 1.0, atol=1e-6)  # pure blue: Cb at its maximum
    np.testing.assert_allclose(cr[0], 1.0, atol=1e-6)  # pure red: Cr at its maximum
    # out-of-gamut combinations (a fused Y with another chroma) are clipped to [0, 1]
    out = ycbcr_to_rgb(np.array([1.0]), np.array([1.0]), np.array([1.0]))
    assert out.min() >= 0.0 and out.max() <= 1.0


def _spect_with_hot_spot() -> tuple[np.ndarray, np.ndarray]:
    """SPECT-like counts: a body of ~40 counts (Poisson) and a Gaussian hot spot up to 8,526."""
    rng = np.random.default_rng(3)
    z, y, x = np.mgrid[:40, :64, :64].astype(np.float32)
    body = ((y - 32) ** 2 + (x - 32) ** 2) < 28 ** 2
    counts = rng.poisson(40.0 * body).astype(np.float32)
    hot = 8526.0 * np.exp(-((z - 20) ** 2 + (y - 30) ** 2 + (x - 36) ** 2) / (2 * 2.5 ** 2))
    return np.rint(counts + hot).astype(np.uint16), hot > 400.0


@pytest.mark.parametrize("modality", ["PT", "NM"])
def test_functional_normalization_keeps_hot_spot_contrast(modality):
    counts, uptake = _spect_with_hot_spot()
    image = Image(counts, modality=modality)
    old = normalize(image, mode="percentile")  # the former rule: most uptake voxels saturate
    assert np.mean(old.array[uptake] >= 1.0) > 0.5
    out = normalize(image)
    assert out.normalization.kind == "functional"
    assert out.normalization.low == 0.0 and out.normalization.high == float(counts.max())
    hot = out.array[uptake]
    assert np.sum(hot >= 1.0) == 1  # only the peak voxel reaches the top
    # internal contrast kept: normalized values follow the counts one to one inside the spot
    np.testing.assert_allclose(hot, counts[uptake] / counts.max(), rtol=1e-6)
    core = counts > 2000  # the spot's core: one flat level before, graded now
    assert len(np.unique(old.array[core])) == 1
    assert len(np.unique(np.round(out.array[core] * 255))) > 20
    # the background stays above zero (anatomy of the body is not lost, just dim)
    assert 0.0 < out.array[~uptake].mean() < 0.02


def test_functional_rule_leaves_8bit_and_colour_rasters_fixed(pet_mri_pair, spect_mri_pair):
    """The Harvard PET/SPECT are 8-bit RGB PNGs: still fixed 0..255 (the rule order)."""
    for pair, modality in ((pet_mri_pair, "PT"), (spect_mri_pair, "NM")):
        rgb = np.asarray(PILImage.open(pair[1]))[np.newaxis, ..., :3]
        out = normalize(Image(rgb, modality=modality))
        assert out.normalization.kind == "fixed" and out.normalization.high == 255.0
        np.testing.assert_array_equal(np.rint(out.array * 255).astype(np.uint8), rgb)


def test_functional_without_positive_values_falls_back_to_percentiles():
    out = normalize(Image(-np.arange(8, dtype=np.float32).reshape(2, 2, 2), modality="PT"))
    assert out.normalization.kind == "percentile"
