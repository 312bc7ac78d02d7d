"""NIfTI / MetaImage / NRRD loading (SimpleITK) of volumes stacked from Harvard slices."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image as PILImage

from fusionviewer.errors import InputError
from fusionviewer.io import load_image

DIRECTION = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # 90 degrees about z


@pytest.fixture
def mri_stack(harvard) -> np.ndarray:
    """MRI slices 10-14 of CT-MRI case 34 (consecutive), uint8 [z, y, x]."""
    return np.stack([np.asarray(PILImage.open(harvard / "ct-mri" / "mri" / f"340{k:02d}.png"))
                     for k in range(10, 15)])


def _sitk_volume(arr: np.ndarray):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.9, 0.8, 5.0))
    img.SetOrigin((-100.0, 20.0, 35.0))
    img.SetDirection(DIRECTION)
    return img


@pytest.mark.parametrize("name", ["vol.nii.gz", "vol.nii", "vol.mha", "vol.mhd", "vol.nrrd"])
def test_volume_formats_keep_pixels_and_geometry(mri_stack, tmp_path, name):
    path = tmp_path / name
    sitk.WriteImage(_sitk_volume(mri_stack), str(path))
    image = load_image(path, modality="MR")
    assert image.shape == (5, 256, 256)
    assert np.array_equal(image.array, mri_stack)
    assert np.allclose(image.spacing, (0.9, 0.8, 5.0), atol=1e-5)
    assert np.allclose(image.origin, (-100.0, 20.0, 35.0), atol=1e-4)
    assert np.allclose(image.direction, DIRECTION, atol=1e-5)
    assert image.modality == "MR"


def test_nibabel_nifti_affine_becomes_lps_geometry(mri_stack, tmp_path):
    # nibabel stores x, y, z; an affine scaling 0.9/0.8/5 mm in RAS.
    affine = np.diag([0.9, 0.8, 5.0, 1.0])
    affine[:3, 3] = (10.0, -20.0, 30.0)
    path = tmp_path / "nib.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(mri_stack, (2, 1, 0)).astype(np.int16), affine), path)
    image = load_image(path)
    assert np.array_equal(image.array, mri_stack)
    assert np.allclose(image.spacing, (0.9, 0.8, 5.0), atol=1e-5)
    # RAS -> LPS flips the sign of x and y.
    assert np.allclose(image.origin, (-10.0, 20.0, 30.0), atol=1e-4)
    assert np.allclose(image.direction, (-1, 0, 0, 0, -1, 0, 0, 0, 1), atol=1e-6)


def test_2d_nifti_is_one_slice(mri_stack, tmp_path):
    path = tmp_path / "slice.nii"
    sitk.WriteImage(sitk.GetImageFromArray(mri_stack[0]), str(path))
    image = load_image(path)
    assert image.shape == (1, 256, 256)
    assert np.array_equal(image.array[0], mri_stack[0])


def test_rgb_mha_kept_as_colour(pet_mri_pair, tmp_path):
    rgb = np.asarray(PILImage.open(pet_mri_pair[1]).convert("RGB"))[np.newaxis]
    path = tmp_path / "pet.mha"
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(path))
    image = load_image(path)
    assert image.is_color and np.array_equal(image.array, rgb)


def test_4d_nifti_is_input_error(mri_stack, tmp_path):
    data = np.stack([mri_stack, mri_stack], axis=-1).transpose(2, 1, 0, 3)  # x, y, z, t
    path = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.int16), np.eye(4)), path)
    with pytest.raises(InputError, match="4-D data.*not supported") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_4d_nifti_with_one_time_point_loads_as_3d(mri_stack, tmp_path):
    data = mri_stack.transpose(2, 1, 0)[..., np.newaxis]
    path = tmp_path / "one.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.int16), np.eye(4)), path)
    image = load_image(path)
    assert image.shape == (5, 256, 256)
    assert np.array_equal(image.array, mri_stack)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_voxels_are_input_error(mri_stack, tmp_path, bad):
    data = mri_stack.astype(np.float32)
    data[2, 100, 100] = bad
    path = tmp_path / "bad.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(data), str(path))
    with pytest.raises(InputError, match="1 voxel.*NaN or infinite") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_truncated_nifti_is_input_error(mri_stack, tmp_path):
    path = tmp_path / "cut.nii"
    sitk.WriteImage(sitk.GetImageFromArray(mri_stack), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt or truncated") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_truncated_gzip_nifti_is_input_error(mri_stack, tmp_path):
    raw = tmp_path / "v.nii"
    sitk.WriteImage(sitk.GetImageFromArray(mri_stack), str(raw))
    path = tmp_path / "v.nii.gz"
    path.write_bytes(gzip.compress(raw.read_bytes())[:3000])
    with pytest.raises(InputError) as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_text_file_named_nifti_is_input_error(tmp_path):
    path = tmp_path / "fake.nii.gz"
    path.write_text("hello")
    with pytest.raises(InputError, match="not a readable") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_huge_volume_refused_from_header_alone(tmp_path):
    # A MetaImage header claiming 2048 x 2048 x 512 voxels (2**31) over a 10-byte raw file:
    # the loader must refuse from the header, before trying to read the pixels.
    (tmp_path / "huge.raw").write_bytes(b"\0" * 10)
    path = tmp_path / "huge.mhd"
    path.write_text("ObjectType = Image\nNDims = 3\nDimSize = 2048 2048 512\n"
                    "ElementType = MET_UCHAR\nElementDataFile = huge.raw\n")
    with pytest.raises(InputError, match="image too large: 2147483648 voxels") as err:
        load_image(path)
    assert str(path) in str(err.value)
