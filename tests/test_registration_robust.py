"""Registration a clinician can trust (issue #16), on the shared real CT and MR at 4 mm:
large known rotations recovered, same Frame of Reference keeps the identity, non-overlapping
sources fail, an implausible affine falls back to rigid, and the verdicts of these cases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import SimpleITK as sitk

from fusionviewer.errors import InputError
from fusionviewer.image import Image, Provenance
from fusionviewer.registration import affine_problem, register, resample_to
from fusionviewer.registration.masks import intensity_range
from real3d_cases import mean_error, moved_copy, real_volume, volume_points

MOTIONS = [((180.0, 0.0, 0.0), (30.0, -30.0, 30.0)),
           ((0.0, 180.0, 0.0), (-30.0, 30.0, 30.0)),
           ((0.0, 0.0, 180.0), (30.0, 30.0, -30.0)),
           ((0.0, 0.0, 90.0), (-30.0, -30.0, 30.0))]


@pytest.mark.parametrize("name", ["MR_T2", "CT"])
@pytest.mark.parametrize("rotation, shift", MOTIONS)
def test_large_known_rotations_are_recovered_within_1_mm(name, rotation, shift):
    original = real_volume(name)
    moved, known = moved_copy(original, rotation, shift)
    result = register(original, moved)
    err = mean_error(known, result.transform, volume_points(original))
    assert err < 1.0, f"{name} {rotation}: mean error {err:.2f} mm; {result.report.summary()}"
    assert isinstance(result.transform, sitk.Euler3DTransform)
    rep = result.report
    assert rep.verdict == "good", rep.summary()
    assert rep.start == "orientation search (48 starts)" and rep.starts_tried == 48
    assert rep.metric_end < rep.metric_start - 0.5  # a clear improvement over centres aligned
    assert rep.overlap_end > 0.95 and rep.clear_win is True
    assert rep.final_iterations < rep.iteration_cap
    assert rep.rotation_deg == pytest.approx(max(rotation), abs=2.0)
    assert result.image.same_grid(original) and "; good" in result.image.provenance.description


def test_a_single_start_from_the_centres_misses_a_180_degree_turn():
    # Why the search exists: the same case from one start ends in a wrong optimum.
    original = real_volume("MR_T2")
    moved, known = moved_copy(original, (0.0, 180.0, 0.0), (-30.0, 30.0, 30.0))
    result = register(original, moved, init="geometry")
    assert mean_error(known, result.transform, volume_points(original)) > 20.0
    assert result.report.start == "image centres" and result.report.clear_win is None


def _focal(ct: Image) -> Image:
    """A SPECT-like image in the CT's frame: a few blurred hot spots in dense tissue."""
    arr = ct.array.astype(np.float32)
    hot = np.zeros_like(arr)
    hot[arr > np.percentile(arr, 97)] = 1.0
    img = sitk.SmoothingRecursiveGaussian(sitk.GetImageFromArray(hot), 3.0)
    spect = sitk.GetArrayFromImage(img) * 1000.0
    spect += np.random.default_rng(1).poisson(5.0, spect.shape)
    return dataclasses.replace(ct, array=spect.astype(np.float32), modality="NM")


def test_same_frame_of_reference_keeps_the_identity():
    ct = real_volume("CT")
    spect = _focal(ct)
    assert ct.provenance.frame_of_reference_uid
    assert spect.provenance.frame_of_reference_uid == ct.provenance.frame_of_reference_uid
    result = register(ct, spect)
    rep = result.report
    assert rep.same_frame_of_reference and rep.identity_kept is True
    assert rep.start == "identity (same Frame of Reference)" and rep.starts_tried == 1
    assert "hardware alignment (identity) is kept" in rep.notes[0]
    points = volume_points(ct)
    assert mean_error(sitk.Euler3DTransform(), result.transform, points) < 1e-6
    # the same pair without a shared frame goes through the orientation search instead
    other = dataclasses.replace(spect, provenance=dataclasses.replace(
        spect.provenance, frame_of_reference_uid="another-session"))
    assert register(ct, other).report.start.startswith("orientation search")


def test_same_frame_of_reference_moves_when_the_metric_improves_clearly():
    mr = real_volume("MR_T2")
    shifted, known = moved_copy(mr, (0.0, 0.0, 4.0), (3.0, -2.0, 0.0),
                                frame=mr.provenance.frame_of_reference_uid)
    result = register(mr, shifted)
    assert result.report.identity_kept is False
    assert mean_error(known, result.transform, volume_points(mr)) < 1.0


def _slab_far_away(ct: Image) -> Image:
    """8 slices of the CT placed 500 mm beyond the MR's extent, no Frame of Reference."""
    slab = ct.array[20:28]
    prov = Provenance(source_paths=("slab.nii.gz",))
    return Image(slab, spacing=ct.spacing, origin=(ct.origin[0], ct.origin[1], 800.0),
                 direction=ct.direction, modality="CT", provenance=prov)


def test_sources_that_do_not_overlap_in_patient_space_fail():
    mr = dataclasses.replace(real_volume("MR_T2"), provenance=Provenance(
        source_paths=("mr.nii.gz",)))
    slab = _slab_far_away(real_volume("CT"))
    with pytest.raises(InputError, match="do not overlap in patient space"):
        register(slab, mr)
    with pytest.raises(InputError, match="slab.nii.gz"):
        register(mr, slab)


def test_an_implausible_affine_falls_back_to_rigid_with_a_doubtful_verdict():
    # The copy is the CT shrunk to 60 %: an affine fit needs scale 0.6, outside 0.8-1.25.
    ct = real_volume("CT")
    shrunk = dataclasses.replace(
        ct, spacing=tuple(0.6 * s for s in ct.spacing),
        provenance=dataclasses.replace(ct.provenance, frame_of_reference_uid="other"))
    result = register(ct, shrunk, transform="affine")
    rep = result.report
    assert rep.requested == "affine" and rep.transform == "rigid" and rep.affine_rejected
    assert isinstance(result.transform, sitk.Euler3DTransform)
    assert min(rep.scales) < 0.8 and rep.determinant < 0.8
    assert rep.verdict == "doubtful"
    assert any("affine result was implausible" in r for r in rep.reasons)
    assert any("rejected" in n for n in rep.notes)


def test_a_plausible_affine_is_kept():
    ct = real_volume("CT")
    scaled = dataclasses.replace(
        ct, spacing=(ct.spacing[0] * 1.05, ct.spacing[1], ct.spacing[2] * 0.95),
        provenance=dataclasses.replace(ct.provenance, frame_of_reference_uid="other"))
    result = register(ct, scaled, transform="affine")
    assert result.report.transform == "affine" and not result.report.affine_rejected
    assert isinstance(result.transform, sitk.AffineTransform)
    assert sorted(result.report.scales) == pytest.approx(sorted([1 / 1.05, 1.0, 1 / 0.95]),
                                                         abs=0.03)


def test_affine_sanity_rules():
    assert affine_problem(np.eye(3)) is None
    assert "determinant" in affine_problem(np.diag([1.0, 1.0, -1.0]))
    assert "scale factors" in affine_problem(np.diag([0.33, 0.87, 0.6]))
    shear = np.eye(3)
    shear[0, 1] = 0.3
    assert "shear" in affine_problem(shear)


def test_masks_ignore_ct_padding_and_air():
    ct = real_volume("CT")
    background, threshold, top = intensity_range(ct.array)
    assert -1100 < background < -900  # air, not the -2048 padding
    assert -900 < threshold < -200  # between air and fat
    mr_bg, mr_thr, _ = intensity_range(real_volume("MR_T2").array)
    assert mr_bg < mr_thr


def test_deformable_refinement_reduces_a_smooth_deformation(tmp_path):
    from fusionviewer.registration import load_transform, save_transform

    mr = real_volume("MR_T2")
    warp = sitk.BSplineTransformInitializer(sitk.Cast(mr.to_sitk(), sitk.sitkFloat32),
                                            [2, 2, 2], 3)
    warp.SetParameters(tuple(np.random.default_rng(0).normal(0, 4.0,
                                                             warp.GetNumberOfParameters())))
    warped = resample_to(mr, mr, warp)  # warped(p) = mr(warp(p)): the answer is warp^-1
    warped = dataclasses.replace(warped, provenance=dataclasses.replace(
        warped.provenance, frame_of_reference_uid="other"))
    z, y, x = np.nonzero(mr.array > np.percentile(mr.array, 70))
    points = (np.stack([x, y, z], 1)[::9] * np.asarray(mr.spacing) + np.asarray(mr.origin))

    def residual(tx):  # mean |warp(T(p)) - p| over the anatomy, mm
        return float(np.mean([np.linalg.norm(np.asarray(warp.TransformPoint(
            tx.TransformPoint(tuple(p)))) - p) for p in points]))

    tuning = {"bspline_iterations": 12, "bspline_grid_mm": 64.0}
    result = register(mr, warped, transform="deformable", **tuning)
    rep = result.report
    assert rep.transform == "deformable" and rep.requested == "deformable"
    assert isinstance(result.transform, sitk.CompositeTransform)
    assert rep.iteration_cap == 12 and rep.final_iterations <= 12
    rigid = register(mr, warped)
    assert rep.metric_end < rigid.report.metric_end
    assert residual(result.transform) < 0.7 * residual(rigid.transform)
    loaded = load_transform(save_transform(result.transform, tmp_path / "d.tfm"))
    assert mean_error(result.transform, loaded, points[::10]) < 1e-4
