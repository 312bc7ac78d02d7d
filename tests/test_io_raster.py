"""Raster loading (PNG/JPEG/TIFF via Pillow) on real Harvard slices, and its bad-input cases."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from harvard_data import read_gray_u8
from fusionviewer.errors import InputError
from fusionviewer.io import load_image


def test_gray_png_loads_as_uint8_slice(ct_mri_pair):
    ct, _ = ct_mri_pair
    image = load_image(ct)
    assert image.shape == (1, 256, 256)
    assert image.array.dtype == np.uint8
    assert not image.is_color
    assert np.array_equal(image.array[0], np.asarray(PILImage.open(ct)))
    assert image.modality == "OT"
    assert image.spacing == (1.0, 1.0, 1.0)
    assert image.provenance.source_paths == (str(ct),)


@pytest.mark.parametrize("hint,code", [("CT", "CT"), ("MRI", "MR"), ("PET", "PT"),
                                       ("spect", "NM")])
def test_modality_hint_is_canonical(ct_mri_pair, hint, code):
    assert load_image(ct_mri_pair[0], modality=hint).modality == code


def test_unknown_modality_hint_is_input_error(ct_mri_pair):
    with pytest.raises(InputError, match="unknown modality 'XRAY'"):
        load_image(ct_mri_pair[0], modality="XRAY")


def test_rgb_png_keeps_colour_and_luminance(pet_mri_pair):
    _, pet = pet_mri_pair
    image = load_image(pet, modality="PET")
    assert image.is_color and image.array.shape == (1, 256, 256, 3)
    assert np.array_equal(image.array[0], np.asarray(PILImage.open(pet).convert("RGB")))
    lum = image.luminance()[0]
    assert np.abs(np.rint(lum) - read_gray_u8(pet)).max() <= 1


def test_rgba_png_becomes_rgb(spect_mri_pair, tmp_path):
    rgb = np.asarray(PILImage.open(spect_mri_pair[1]).convert("RGB"))
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    path = tmp_path / "rgba.png"
    PILImage.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA").save(path)
    image = load_image(path)
    assert image.array.shape == (1, 256, 256, 3)
    assert np.array_equal(image.array[0], rgb)


def test_16bit_gray_png_keeps_values(ct_mri_pair, tmp_path):
    u16 = np.asarray(PILImage.open(ct_mri_pair[0])).astype(np.uint16) * 200 + 7
    path = tmp_path / "ct16.png"
    PILImage.fromarray(u16).save(path)
    image = load_image(path)
    assert image.array.dtype == np.uint16
    assert int(image.array.max()) > 255
    assert np.array_equal(image.array[0], u16)


def test_jpeg_gray_and_rgb(ct_mri_pair, pet_mri_pair, tmp_path):
    gray = np.asarray(PILImage.open(ct_mri_pair[0]))
    PILImage.fromarray(gray).save(tmp_path / "ct.jpg", quality=95)
    rgb = np.asarray(PILImage.open(pet_mri_pair[1]).convert("RGB"))
    PILImage.fromarray(rgb).save(tmp_path / "pet.jpeg", quality=95)
    g = load_image(tmp_path / "ct.jpg")
    c = load_image(tmp_path / "pet.jpeg")
    assert g.array.shape == (1, 256, 256) and c.array.shape == (1, 256, 256, 3)
    assert np.abs(g.array[0].astype(int) - gray).mean() < 3  # lossy, but close
    assert np.abs(c.array[0].astype(int) - rgb).mean() < 6


def test_tiff_gray_16bit_and_multipage(ct_mri_pair, harvard, tmp_path):
    gray = np.asarray(PILImage.open(ct_mri_pair[0]))
    PILImage.fromarray(gray).save(tmp_path / "ct.tif")
    assert np.array_equal(load_image(tmp_path / "ct.tif").array[0], gray)
    u16 = gray.astype(np.uint16) * 100
    PILImage.fromarray(u16).save(tmp_path / "ct16.tiff")
    loaded = load_image(tmp_path / "ct16.tiff").array
    assert loaded.dtype == np.uint16 and np.array_equal(loaded[0], u16)
    pages = [PILImage.open(harvard / "ct-mri" / "ct" / f"340{k:02d}.png") for k in (10, 11, 12)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    stack = load_image(tmp_path / "stack.tif")
    assert stack.shape == (3, 256, 256)
    assert np.array_equal(stack.array[2], np.asarray(pages[2]))


def test_float_tiff_with_nan_is_input_error(tmp_path):
    data = np.ones((16, 16), np.float32)
    data[3, 4] = np.nan
    data[5, 5] = np.inf
    path = tmp_path / "nan.tif"
    PILImage.fromarray(data, mode="F").save(path)
    with pytest.raises(InputError, match="2 voxel.*NaN or infinite") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_truncated_png_is_input_error(ct_mri_pair, tmp_path):
    data = ct_mri_pair[0].read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt or truncated") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_corrupt_png_bytes_is_input_error(ct_mri_pair, tmp_path):
    data = bytearray(ct_mri_pair[0].read_bytes())
    data[200:400] = b"\x00" * 200  # damage compressed data (CRC and zlib stream)
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_text_file_with_png_suffix_is_input_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with pytest.raises(InputError, match="not a readable image"):
        load_image(path)


def test_non_image_file_is_input_error(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not an image file") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        load_image(tmp_path / "empty.png")


def test_too_many_voxels_refused(ct_mri_pair, monkeypatch):
    import fusionviewer.io._common as common

    monkeypatch.setattr(common, "MAX_VOXELS", 256 * 255)
    with pytest.raises(InputError, match="image too large: 65536 voxels"):
        load_image(ct_mri_pair[0])


def test_palette_png_gray_or_colour(ct_mri_pair, pet_mri_pair, tmp_path):
    gray = PILImage.open(ct_mri_pair[0])
    gray.convert("P").save(tmp_path / "gray_p.png")  # gray palette (L -> P keeps 256 grays)
    image = load_image(tmp_path / "gray_p.png")
    assert not image.is_color
    assert np.array_equal(image.array[0], np.asarray(PILImage.open(tmp_path / "gray_p.png")
                                                     .convert("L")))
    pet = PILImage.open(pet_mri_pair[1]).convert("RGB")
    pet.quantize(64).save(tmp_path / "pet_p.png")
    colour = load_image(tmp_path / "pet_p.png")
    assert colour.is_color
    assert np.array_equal(colour.array[0], np.asarray(PILImage.open(tmp_path / "pet_p.png")
                                                      .convert("RGB")))
