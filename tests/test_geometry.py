"""Patient space: the auto registration decision, non-overlapping sources, and layout invariance
(the same physical volume stored as LPS, RAS, flipped, sagittal, coronal or oblique fuses to the
same result on the fixed grid), on the real CT of shared/data/real3d and the bundled DICOM."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import SimpleITK as sitk

import patient_space_data as psd
from harvard_data import REPO
from fusionviewer.errors import InputError
from fusionviewer.geometry import decide_registration, has_patient_geometry, patient_box
from fusionviewer.image import Image, Provenance
from fusionviewer.io import load_image
from fusionviewer.pipeline import FusionJob, FusionOptions

SAMPLE_DICOM = REPO / "resources" / "samples" / "dicom" / "ct-mri-34"
COUNTS_WINDOW = {"window": (4000.0, 8000.0)}  # counts 0..8000 -> [0, 1], the same for every layout


def _img(path: str | None = None, frame: str | None = None, z: int = 4, origin=(0, 0, 0)):
    prov = Provenance(source_paths=(path,) if path else (), frame_of_reference_uid=frame)
    return Image(np.zeros((z, 8, 8), np.int16), origin=origin, provenance=prov)


@pytest.mark.parametrize("paths_frames, requested, transform, why", [
    ([("ct", "1.2.3"), ("nm", "1.2.3")], "auto", "identity", "share DICOM Frame of Reference"),
    ([("ct", "1.2.3"), ("mr", "1.2.4")], "auto", "rigid", "Frames of Reference differ"),
    ([("a.nii.gz", None), ("b.mha", None)], "auto", "identity", "no source carries"),
    ([("ct", "1.2.3"), ("b.nrrd", None)], "auto", "identity", "source(s) 2 carry no Frame"),
    ([("a.png", None), ("b.png", None)], "auto", "pixel grid", "no patient geometry"),
    ([("ct", "1.2.3"), ("mr", "1.2.4")], "none", "identity", "chosen by the user"),
    ([("ct", "1.2.3"), ("nm", "1.2.3")], "rigid", "rigid", "chosen by the user"),
    ([("ct", "1.2.3"), ("nm", "1.2.3")], "affine", "affine", "chosen by the user"),
])
def test_auto_decision(paths_frames, requested, transform, why):
    images = [_img(p, f) for p, f in paths_frames]
    decision = decide_registration(images, requested, 0)
    assert decision.transform == transform
    assert why in decision.reason
    assert decision.line().startswith("registration: ")
    assert decision.registers == (transform in ("rigid", "affine"))


def test_geometry_recognition():
    assert not has_patient_geometry(_img("x.png"))
    assert not has_patient_geometry(_img("x.TIFF", z=1))
    assert not has_patient_geometry(_img(None, z=1))  # in-memory 2-D, default geometry
    assert has_patient_geometry(_img(None, z=1, origin=(5, 0, 0)))
    assert has_patient_geometry(_img(None, z=4))  # in-memory volume
    assert has_patient_geometry(_img("ct/IM_0001.dcm", "1.2.3", z=1))


def test_auto_default_registers_different_frames_and_records_it():
    assert FusionOptions().register == "auto"
    a = Image(np.random.default_rng(0).random((6, 24, 24)).astype(np.float32),
              provenance=Provenance(frame_of_reference_uid="1.2.3"))
    b = dataclasses.replace(a, provenance=Provenance(frame_of_reference_uid="1.2.4"))
    result = FusionJob([a, b], FusionOptions(method="average")).run()
    assert result.decision.transform == "rigid" and result.registrations[1] is not None
    assert "rigid registration onto source 1 (auto: DICOM Frames of Reference differ" in \
        result.description
    # registered onto the fixed grid: the moving original now lives in the fixed frame
    assert result.originals[1].provenance.frame_of_reference_uid == "1.2.3"


def test_non_overlapping_sources_name_both():
    a = _img("a.nii.gz", z=6)
    b = dataclasses.replace(_img("b.nii.gz", z=6), origin=(0.0, 0.0, 500.0))
    a = a.with_array(np.arange(a.array.size, dtype=np.int16).reshape(a.shape))
    b = b.with_array(a.array.copy())
    with pytest.raises(InputError, match="do not overlap in patient space") as info:
        FusionJob([a, b], FusionOptions(method="average")).run()
    assert "a.nii.gz" in str(info.value) and "b.nii.gz" in str(info.value)
    assert info.value.path == "b.nii.gz"
    lo, hi = patient_box(b)
    assert np.allclose(lo, (-0.5, -0.5, 499.5)) and np.allclose(hi, (7.5, 7.5, 505.5))


def test_non_overlap_cli_exit_2(tmp_path, capsys):
    from fusionviewer.cli import main

    arr = np.random.default_rng(1).integers(0, 100, (6, 16, 16)).astype(np.int16)
    for name, z0 in (("a.nii.gz", 0.0), ("b.nii.gz", 300.0)):
        img = sitk.GetImageFromArray(arr)
        img.SetOrigin((0.0, 0.0, z0))
        sitk.WriteImage(img, str(tmp_path / name))
    code = main(["fuse", str(tmp_path / "a.nii.gz"), str(tmp_path / "b.nii.gz"), "-o",
                 str(tmp_path / "f.nii.gz"), "--method", "average", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "a.nii.gz" in err and "b.nii.gz" in err and "overlap" in err
    assert not (tmp_path / "f.nii.gz").exists()


# --- layout invariance ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ct_and_activity():
    ct = psd.real_ct(4.0)
    return ct, psd.activity_image(ct)


def _fuse_layout(ct: sitk.Image, moving: sitk.Image):
    fixed = Image.from_sitk(ct, modality="CT", provenance=Provenance(source_paths=("ct.nii",)))
    mov = Image.from_sitk(moving, modality="NM", provenance=Provenance(source_paths=("nm.nii",)))
    options = FusionOptions(method="average", normalization=[{"preset": "soft tissue"},
                                                             COUNTS_WINDOW])
    return FusionJob([fixed, mov], options).run()


@pytest.mark.parametrize("name", ["RAS", "flipped", "sagittal", "coronal", "oblique"])
def test_layouts_fuse_alike_real_ct(ct_and_activity, name):
    ct, act = ct_and_activity
    reference = _fuse_layout(ct, act)
    moved = psd.layout(act, name)
    assert name == "oblique" or moved.GetDirection() != act.GetDirection()
    result = _fuse_layout(ct, moved)
    assert result.decision.transform == "identity"
    assert result.fused_gray.shape == reference.fused_gray.shape == (64, 50, 50)
    truth = sitk.GetArrayFromImage(act)
    orig = result.originals[1].array.astype(np.float64)
    if name == "oblique":  # two linear interpolations (onto 2 mm tilted, back onto 4 mm)
        inner = (slice(3, -3),) * 3  # away from the tilted grid's edges
        err = np.abs(orig - truth)[inner]
        assert err.mean() < 15.0 and np.percentile(err, 99) < 300.0  # counts (peak 7700)
        diff = np.abs(result.fused_gray - reference.fused_gray)[inner]
        assert diff.mean() < 2e-3 and diff.max() < 0.05
    else:  # exact relayouts: voxel centres coincide, values equal up to float rounding
        np.testing.assert_allclose(orig, truth, atol=1e-2)
        np.testing.assert_allclose(result.fused_gray, reference.fused_gray, atol=1e-5)
    peak = np.unravel_index(np.argmax(orig), orig.shape)
    assert np.abs(np.asarray(peak) - np.unravel_index(np.argmax(truth), truth.shape)).max() <= 1


FRAME = "1.2.826.0.1.3680043.8.498.77"
DICOM_OPTIONS = FusionOptions(method="average", normalization=[None, COUNTS_WINDOW])


@pytest.fixture(scope="module")
def dicom_reference(ct_and_activity, tmp_path_factory):
    """The CT and the activity (LPS) as DICOM series of one frame, and their fusion."""
    ct, act = ct_and_activity
    folder = tmp_path_factory.mktemp("layouts")
    hu = sitk.Cast(sitk.Round(ct), sitk.sitkInt16)
    psd.write_sitk_series(hu, folder / "ct", modality="CT", frame_of_reference_uid=FRAME)
    counts = sitk.Cast(sitk.Round(act), sitk.sitkUInt16)
    psd.write_sitk_series(counts, folder / "lps", modality="NM", frame_of_reference_uid=FRAME)
    return folder, FusionJob([folder / "ct", folder / "lps"], DICOM_OPTIONS).run()


@pytest.mark.parametrize("name", ["RAS", "sagittal", "coronal", "oblique"])
def test_layouts_as_dicom_series(ct_and_activity, dicom_reference, tmp_path, name):
    """The activity written as a DICOM series in each right-handed layout, read back by the
    loader: on the CT grid it matches the LPS series."""
    _ct, act = ct_and_activity
    folder, ref = dicom_reference
    psd.write_sitk_series(sitk.Cast(sitk.Round(psd.layout(act, name)), sitk.sitkUInt16),
                          tmp_path / name, modality="NM", frame_of_reference_uid=FRAME)
    res = FusionJob([folder / "ct", tmp_path / name], DICOM_OPTIONS).run()
    assert res.decision.transform == "identity" and "share" in res.decision.reason
    a, b = ref.originals[1].array.astype(float), res.originals[1].array.astype(float)
    if name == "oblique":
        inner = (slice(3, -3),) * 3
        assert np.abs(a - b)[inner].mean() < 15.0
        assert np.abs(ref.fused_gray - res.fused_gray)[inner].mean() < 2e-3
    else:
        assert np.abs(a - b).max() <= 1.0  # integer counts, rounding only
        np.testing.assert_allclose(res.fused_gray, ref.fused_gray, atol=1.5 / 8000)


@pytest.mark.parametrize("code", ["RAS", "LPI", "PIR", "LIP"])
def test_layouts_bundled_dicom_sample(code):
    ct = load_image(SAMPLE_DICOM / "ct")
    mr = load_image(SAMPLE_DICOM / "mr")
    moved = sitk.DICOMOrient(mr.to_sitk(), code)
    mr2 = Image.from_sitk(moved, modality="MR", window=mr.window, provenance=mr.provenance)
    assert mr2.direction != mr.direction
    options = FusionOptions(method="average", normalization=[None, {"mode": "percentile"}])
    ref = FusionJob([ct, mr], options).run()
    res = FusionJob([ct, mr2], options).run()
    assert res.decision.transform == "identity"
    np.testing.assert_array_equal(res.originals[1].array, mr.array)
    np.testing.assert_allclose(res.fused_gray, ref.fused_gray, atol=1e-6)
