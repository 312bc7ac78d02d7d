"""Export: PNG, NIfTI and DICOM Secondary Capture read back with pydicom, SimpleITK, nibabel."""

from __future__ import annotations

import dataclasses
import os

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image as PILImage

from fusionviewer.errors import InputError
from fusionviewer.image import Image, Normalization, Provenance
from fusionviewer.io import load_image
from fusionviewer.io.export import (to_uint8, write_dicom_series, write_nifti, write_png,
                                    write_png_slices)
from fusionviewer.io.synthetic import write_series

OBLIQUE_DIRECTION = (0.9848077, -0.1736482, 0.0, 0.1736482, 0.9848077, 0.0, 0.0, 0.0, 1.0)


@pytest.fixture
def ct_u8(harvard) -> np.ndarray:
    """CT slices 10-15 of CT-MRI case 34 (consecutive), uint8 [z, y, x]."""
    return np.stack([np.asarray(PILImage.open(harvard / "ct-mri" / "ct" / f"340{k:02d}.png"))
                     for k in range(10, 16)])


@pytest.fixture
def ct_dicom(ct_u8, tmp_path) -> Image:
    """A 6-slice CT series (HU = 8 v - 1000, window 20/2040) loaded from DICOM files."""
    write_series(ct_u8.astype(np.uint16) * 8 + 24, tmp_path / "src", modality="CT",
                 pixel_spacing=(0.9, 0.8), slice_spacing=5.0, origin=(-115.0, -102.4, 20.0),
                 rescale=(1.0, -1024.0), window=(20.0, 2040.0), patient_name="DOE^JANE",
                 patient_id="P42", description="CT demo")
    return load_image(tmp_path / "src")


def _no_temp_files(folder) -> bool:
    return not [p for p in os.listdir(folder) if ".tmp" in p]


# --- PNG ----------------------------------------------------------------------------------------

def test_png_round_trip_uint8(ct_mri_pair, tmp_path):
    image = load_image(ct_mri_pair[0])
    out = write_png(image, tmp_path / "out.png")
    original = np.asarray(PILImage.open(ct_mri_pair[0]))
    assert np.array_equal(np.asarray(PILImage.open(out)), original)
    assert _no_temp_files(tmp_path)


def test_png_rgb_stays_rgb(pet_mri_pair, tmp_path):
    image = load_image(pet_mri_pair[1])
    out = write_png(image, tmp_path / "pet.png")
    with PILImage.open(out) as im:
        assert im.mode == "RGB"
        assert np.array_equal(np.asarray(im), image.array[0])


def test_png_float_unit_range_uses_rint(tmp_path):
    values = np.linspace(0.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    image = Image(values, normalization=Normalization("identity", 0.0, 1.0))
    out = write_png(image, tmp_path / "f.png")
    assert np.array_equal(np.asarray(PILImage.open(out)), np.rint(values * 255).astype(np.uint8))


def test_png_of_ct_uses_window_and_middle_slice(ct_dicom, ct_u8, tmp_path):
    out = write_png(ct_dicom, tmp_path / "ct.png")  # window 20/2040 reproduces the atlas PNG
    assert np.array_equal(np.asarray(PILImage.open(out)), ct_u8[3])
    out1 = write_png(ct_dicom, tmp_path / "ct1.png", slice_index=1)
    assert np.array_equal(np.asarray(PILImage.open(out1)), ct_u8[1])
    with pytest.raises(InputError, match="slice 9 out of range"):
        write_png(ct_dicom, tmp_path / "ct9.png", slice_index=9)


def test_png_slices(ct_dicom, ct_u8, tmp_path):
    paths = write_png_slices(ct_dicom, tmp_path / "slices")
    assert [p.name for p in paths] == [f"slice_{k:03d}.png" for k in range(6)]
    for k, p in enumerate(paths):
        assert np.array_equal(np.asarray(PILImage.open(p)), ct_u8[k])
    with pytest.raises(InputError, match="output exists"):
        write_png_slices(ct_dicom, tmp_path / "slices")


def test_to_uint8_min_max_without_window():
    image = Image(np.array([[100, 300], [500, 1100]], np.uint16))
    assert to_uint8(image).tolist() == [[[0, 51], [102, 255]]]


def test_png_no_overwrite_without_force_and_never_a_source(ct_mri_pair, tmp_path):
    image = load_image(ct_mri_pair[0])
    out = tmp_path / "o.png"
    out.write_bytes(b"old")
    with pytest.raises(InputError, match="output exists") as err:
        write_png(image, out)
    assert str(out) in str(err.value) and out.read_bytes() == b"old"
    write_png(image, out, force=True)
    assert np.array_equal(np.asarray(PILImage.open(out)), image.array[0])
    src = tmp_path / "src.png"
    src.write_bytes(ct_mri_pair[0].read_bytes())
    loaded = load_image(src)
    with pytest.raises(InputError, match="refusing to write over a source file"):
        write_png(loaded, src, force=True)
    assert src.read_bytes() == ct_mri_pair[0].read_bytes()


def test_failed_write_leaves_old_output_and_no_temp(ct_mri_pair, tmp_path, monkeypatch):
    image = load_image(ct_mri_pair[0])
    out = tmp_path / "o.png"
    out.write_bytes(b"old")

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PILImage.Image, "save", broken_save)
    with pytest.raises(InputError, match="No space left"):
        write_png(image, out, force=True)
    assert out.read_bytes() == b"old"
    assert _no_temp_files(tmp_path)


# --- NIfTI --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fused.nii.gz", "fused.nii"])
def test_nifti_keeps_geometry_sitk_and_nibabel(ct_dicom, tmp_path, name):
    image = dataclasses.replace(ct_dicom, direction=OBLIQUE_DIRECTION)
    out = write_nifti(image, tmp_path / name)
    back = sitk.ReadImage(str(out))
    assert np.array_equal(sitk.GetArrayFromImage(back), image.array)
    assert np.allclose(back.GetSpacing(), image.spacing, atol=1e-5)
    assert np.allclose(back.GetOrigin(), image.origin, atol=1e-4)
    assert np.allclose(back.GetDirection(), image.direction, atol=1e-5)
    nii = nib.load(out)
    assert np.array_equal(np.asarray(nii.dataobj).T, image.array)
    # nibabel's affine is RAS: LPS direction * spacing with x and y negated.
    lps = np.reshape(image.direction, (3, 3)) * np.array(image.spacing)
    assert np.allclose(nii.affine[:3, :3], np.diag([-1, -1, 1]) @ lps, atol=1e-4)
    assert np.allclose(nii.affine[:3, 3], np.array(image.origin) * [-1, -1, 1], atol=1e-3)
    reloaded = load_image(out)
    assert reloaded.same_grid(image) and np.array_equal(reloaded.array, image.array)
    assert _no_temp_files(tmp_path)


def test_nifti_float_and_rules(tmp_path):
    image = Image(np.random.default_rng(0).random((3, 16, 16)), spacing=(1.5, 1.5, 3.0))
    out = write_nifti(image, tmp_path / "f.nii.gz")
    back = sitk.ReadImage(str(out))
    assert back.GetPixelIDTypeAsString() == "32-bit float"
    assert np.allclose(sitk.GetArrayFromImage(back), image.array, atol=1e-7)
    with pytest.raises(InputError, match="output exists"):
        write_nifti(image, out)
    with pytest.raises(InputError, match=r"needs a \.nii or \.nii\.gz name"):
        write_nifti(image, tmp_path / "f.png")


# --- DICOM --------------------------------------------------------------------------------------

def test_dicom_series_from_dicom_source(ct_dicom, tmp_path):
    out = tmp_path / "fused"
    paths = write_dicom_series(ct_dicom, out, sources=[ct_dicom],
                               description="FusionViewer 0.1.0 fusion, method gff, rigid "
                                           "registration onto source 1")
    assert len(paths) == 6 and _no_temp_files(out)
    datasets = [pydicom.dcmread(p) for p in paths]
    src = ct_dicom.provenance
    for k, ds in enumerate(datasets):
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
        assert ds.PatientName == "DOE^JANE" and ds.PatientID == "P42"
        assert ds.StudyInstanceUID == src.study_instance_uid
        assert ds.SeriesInstanceUID != src.series_instance_uid
        assert ds.SeriesInstanceUID == datasets[0].SeriesInstanceUID
        assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
        assert "method gff" in ds.DerivationDescription
        assert "rigid registration" in ds.DerivationDescription
        assert "0.1.0" in ds.DerivationDescription
        assert "Research use only, not for diagnosis" in ds.DerivationDescription
        ref = ds.SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID == src.sop_instance_uids[k]
        assert ref.ReferencedSOPClassUID == src.sop_class_uid
        assert (float(ds.WindowCenter), float(ds.WindowWidth)) == (20.0, 2040.0)
        assert [float(v) for v in ds.PixelSpacing] == [0.9, 0.8]
        assert ds.FrameOfReferenceUID == src.frame_of_reference_uid
        assert ds.InstanceNumber == k + 1
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert np.array_equal(hu, ct_dicom.array[k])
    assert len({ds.SOPInstanceUID for ds in datasets}) == 6
    assert not {ds.SOPInstanceUID for ds in datasets} & set(src.sop_instance_uids)
    # SimpleITK rebuilds the volume with the same voxels and geometry.
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(out)))
    vol = reader.Execute()
    assert np.array_equal(sitk.GetArrayFromImage(vol), ct_dicom.array)
    assert np.allclose(vol.GetSpacing(), ct_dicom.spacing, atol=1e-5)
    assert np.allclose(vol.GetOrigin(), ct_dicom.origin, atol=1e-4)
    assert np.allclose(vol.GetDirection(), ct_dicom.direction, atol=1e-6)
    # ...and so does our own loader.
    again = load_image(out)
    assert again.same_grid(ct_dicom) and np.array_equal(again.array, ct_dicom.array)


def test_dicom_normalized_float_maps_back_to_original_units(ct_dicom, tmp_path):
    norm = Normalization("window", -20.0, 60.0, "CT brain window 80/40")
    fused = ct_dicom.with_array(norm.apply(ct_dicom.array), normalization=norm, modality="OT")
    fused = dataclasses.replace(fused, direction=OBLIQUE_DIRECTION)
    paths = write_dicom_series(fused, tmp_path / "out", sources=[ct_dicom], description="gff")
    ds = pydicom.dcmread(paths[0])
    assert (float(ds.WindowCenter), float(ds.WindowWidth)) == (20.0, 80.0)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "out")))
    vol = reader.Execute()
    expected = norm.invert(fused.array)
    assert np.abs(sitk.GetArrayFromImage(vol) - expected).max() <= 80.0 / 65535
    assert np.allclose(vol.GetDirection(), OBLIQUE_DIRECTION, atol=1e-6)
    # row cosine (0.98, 0.17, 0), column cosine (-0.17, 0.98, 0)
    assert list(ds.PatientOrientation) == ["LP", "PR"]
    assert np.allclose(vol.GetSpacing(), fused.spacing, atol=1e-5)
    assert np.allclose(vol.GetOrigin(), fused.origin, atol=1e-4)


def test_dicom_without_dicom_source_is_new_anonymous_study(ct_mri_pair, tmp_path):
    sources = [load_image(p) for p in ct_mri_pair]
    fused = sources[0].with_array(
        (sources[0].array.astype(np.float32) + sources[1].array) / 510.0,
        normalization=Normalization("identity", 0.0, 1.0))
    paths = write_dicom_series(fused, tmp_path / "out", sources=sources,
                               description="average of CT and MR")
    ds = pydicom.dcmread(paths[0])
    assert ds.PatientName.family_name == "ANONYMOUS" and ds.PatientID == "ANONYMOUS"
    assert "SourceImageSequence" not in ds
    assert ds.StudyInstanceUID and ds.StudyInstanceUID != ds.SeriesInstanceUID
    stored = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.abs(stored - fused.array[0]).max() <= 0.5 / 65535 + 1e-9
    vol = sitk.ReadImage(str(paths[0]))
    assert vol.GetSize()[:2] == (256, 256)


def test_dicom_colour_is_rgb(pet_mri_pair, tmp_path):
    pet = load_image(pet_mri_pair[1], modality="PET")
    paths = write_dicom_series(pet, tmp_path / "out", sources=[pet], description="colour")
    ds = pydicom.dcmread(paths[0])
    assert ds.PhotometricInterpretation == "RGB" and ds.SamplesPerPixel == 3
    assert np.array_equal(ds.pixel_array, pet.array[0])
    vol = sitk.ReadImage(str(paths[0]))
    assert vol.GetNumberOfComponentsPerPixel() == 3
    assert np.array_equal(sitk.GetArrayFromImage(vol).reshape(256, 256, 3), pet.array[0])
    again = load_image(tmp_path / "out")
    assert again.is_color and np.array_equal(again.array, pet.array)


def test_dicom_refuses_existing_output_and_source_folder(ct_dicom, tmp_path):
    out = tmp_path / "out"
    write_dicom_series(ct_dicom, out, sources=[ct_dicom], description="first")
    with pytest.raises(InputError, match="not empty.*--force") as err:
        write_dicom_series(ct_dicom, out, sources=[ct_dicom], description="second")
    assert str(out) in str(err.value)
    shorter = ct_dicom.slice(2)
    paths = write_dicom_series(shorter, out, sources=[ct_dicom], description="again",
                               force=True)
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths] == ["IM_0001.dcm"]
    src_folder = tmp_path / "src"  # where ct_dicom's own files live (IM_0001.dcm ...)
    before = {p.name: p.read_bytes() for p in src_folder.iterdir()}
    with pytest.raises(InputError, match="source folder"):
        write_dicom_series(ct_dicom, src_folder, sources=[ct_dicom], description="x")
    with pytest.raises(InputError, match="refusing to write into a source folder"):
        write_dicom_series(ct_dicom, src_folder, sources=[ct_dicom], description="x",
                           force=True)  # --force never reaches into a source series
    assert {p.name: p.read_bytes() for p in src_folder.iterdir()} == before


def test_dicom_output_path_is_a_file(ct_dicom, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="needs a folder"):
        write_dicom_series(ct_dicom, tmp_path / "file", sources=[], description="x")


def test_dicom_references_each_frame_of_a_multiframe_source(ct_u8, tmp_path):
    write_series(ct_u8, tmp_path / "mf", modality="OT", multiframe=True, slice_spacing=5.0)
    source = load_image(tmp_path / "mf")
    paths = write_dicom_series(source, tmp_path / "out", sources=[source], description="mf")
    for k, p in enumerate(paths):
        ref = pydicom.dcmread(p).SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID == source.provenance.sop_instance_uids[0]
        assert int(ref.ReferencedFrameNumber) == k + 1


def test_provenance_only_source_paths_are_protected(tmp_path, ct_u8):
    image = Image(ct_u8[:1], provenance=Provenance(source_paths=(str(tmp_path / "a.nii"),)))
    (tmp_path / "a.nii").write_bytes(b"source")
    with pytest.raises(InputError, match="source file"):
        write_nifti(image, tmp_path / "a.nii", force=True)
    assert (tmp_path / "a.nii").read_bytes() == b"source"
