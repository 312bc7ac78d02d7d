"""`fusionviewer fuse` with defaults on scanner-like DICOM: a same-Frame-of-Reference SPECT/CT
pair (identity by patient coordinates, the SPECT in place whatever its storage) and the real
CT + MR of shared/data/real3d at 4 mm (different Frames: registered by itself)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import patient_space_data as psd
from fusionviewer.cli import main
from fusionviewer.io import load_image


def _fuse(capsys, *argv) -> tuple[int, str, str]:
    code = main(["fuse", *map(str, argv), "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def spect_ct(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spect_ct")
    return psd.spect_ct_pair(folder / "plain"), psd.spect_ct_pair(folder / "flipped",
                                                                  flip_xy=True)


def _hot_spot_mm(image) -> np.ndarray:
    """Physical position (mm) of the hottest voxel."""
    k, j, i = np.unravel_index(np.argmax(image.array), image.shape)
    d = np.reshape(image.direction, (3, 3)) * np.asarray(image.spacing)
    return np.asarray(image.origin) + d @ np.array([i, j, k], dtype=float)


def test_fuse_same_frame_spect_ct_with_defaults(spect_ct, tmp_path, capsys):
    (ct_dir, nm_dir), _ = spect_ct
    out = tmp_path / "f.nii.gz"
    code, stdout, err = _fuse(capsys, ct_dir, nm_dir, "-o", out)
    assert code == 0, err
    assert "registration: no registration, identity in patient coordinates (auto: all " \
           "sources share DICOM Frame of Reference" in err
    assert "wrote" in stdout
    fused = sitk.ReadImage(str(out))
    ct = load_image(ct_dir)
    assert fused.GetSize() == ct.shape[::-1]
    np.testing.assert_allclose(fused.GetOrigin(), ct.origin, atol=1e-3)
    np.testing.assert_allclose(fused.GetSpacing(), ct.spacing, atol=1e-4)
    assert "auto" in fused.GetMetaData("descrip")
    # the functional source in place: the fused image's hot spot is where the SPECT's is
    arr = sitk.GetArrayFromImage(fused)
    k, j, i = np.unravel_index(np.argmax(arr), arr.shape)
    where = np.asarray(fused.TransformIndexToPhysicalPoint((int(i), int(j), int(k))))
    assert np.linalg.norm(where - np.asarray(psd.HOT_SPOT_MM)) < 8.0


def test_spect_stored_with_reversed_axes_lands_in_place(spect_ct):
    from fusionviewer.pipeline import FusionJob, FusionOptions

    (ct_dir, nm_dir), (_, nm_flipped) = spect_ct
    options = FusionOptions(method="average")
    plain = FusionJob([ct_dir, nm_dir], options).run()
    flipped = FusionJob([ct_dir, nm_flipped], options).run()
    assert load_image(nm_flipped).direction[0] < 0  # stored right-to-left
    for result in (plain, flipped):
        assert np.linalg.norm(_hot_spot_mm(result.originals[1]) - psd.HOT_SPOT_MM) < 6.0
        assert result.sources[1].normalization.kind == "functional"
    a, b = plain.originals[1].array.astype(float), flipped.originals[1].array.astype(float)
    assert np.abs(a - b).mean() < 0.01 * a.max()  # the two SPECT grids interleave differently
    assert np.abs(plain.fused_gray - flipped.fused_gray).mean() < 0.01


def test_fuse_real_ct_mr_with_defaults_registers(tmp_path, capsys):
    """The real CT + MR (different Frames of Reference, CT feet-first) at 4 mm as DICOM series
    carrying their own Frame of Reference UIDs: defaults register rigidly onto the CT grid."""
    from fusionviewer.io import load_image as load

    folders = {}
    for name, path, modality in (("ct", psd.REAL_CT, "CT"), ("mr", psd.REAL_MR, "MR")):
        real, header = psd.read_series(path)
        small = psd.resample_iso(real, 4.0, -1000.0 if modality == "CT" else 0.0)
        folders[name] = tmp_path / name
        arr = np.rint(sitk.GetArrayFromImage(small)).astype(np.int16)
        img = sitk.GetImageFromArray(arr)
        img.CopyInformation(small)
        psd.write_sitk_series(img, folders[name], modality=modality,
                              frame_of_reference_uid=header.FrameOfReferenceUID,
                              study_uid=header.StudyInstanceUID)
    out = tmp_path / "fused"
    code, stdout, err = _fuse(capsys, folders["ct"], folders["mr"], "-o", out,
                              "--format", "dicom")
    assert code == 0, err
    assert "registration: rigid registration onto source 1 (auto: DICOM Frames of Reference " \
           "differ" in err
    fused, ct = load(out), load(folders["ct"])
    assert fused.same_grid(ct)
    assert fused.provenance.frame_of_reference_uid == ct.provenance.frame_of_reference_uid


def test_dicom_export_of_fused_and_resampled_series(spect_ct, tmp_path, capsys):
    """Both series keep the CT's grid, Frame of Reference and study; read back by pydicom and
    SimpleITK; the resampled SPECT keeps its counts and modality."""
    import pydicom

    (ct_dir, nm_dir), _ = spect_ct
    out, res_dir = tmp_path / "fused", tmp_path / "nm_on_ct"
    code, stdout, err = _fuse(capsys, ct_dir, nm_dir, "-o", out, "--format", "dicom",
                              "--method", "average", "--export-resampled", res_dir)
    assert code == 0, err
    assert f"wrote {res_dir}" in stdout
    ct = load_image(ct_dir)
    for folder, modality in ((out, "OT"), (res_dir, "NM")):
        files = sorted(folder.glob("IM_*.dcm"))
        assert len(files) == ct.num_slices
        ds = pydicom.dcmread(files[0])
        assert ds.FrameOfReferenceUID == ct.provenance.frame_of_reference_uid
        assert ds.StudyInstanceUID == ct.provenance.study_instance_uid
        assert ds.Modality == modality and len(ds.SeriesDescription) <= 64
        assert "auto: identity, same FoR" in ds.SeriesDescription
        assert "auto" in ds.DerivationDescription and "Frame of Reference" in \
            ds.DerivationDescription
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
        img = reader.Execute()
        assert img.GetSize() == ct.shape[::-1]
        np.testing.assert_allclose(img.GetOrigin(), ct.origin, atol=1e-3)
        np.testing.assert_allclose(img.GetSpacing(), ct.spacing, atol=1e-4)
        np.testing.assert_allclose(img.GetDirection(), ct.direction, atol=1e-6)
    from fusionviewer.pipeline import FusionJob, FusionOptions

    expected = FusionJob([ct_dir, nm_dir], FusionOptions(method="average")).run().originals[1]
    back = load_image(res_dir)
    assert back.same_grid(ct)
    np.testing.assert_allclose(back.array, expected.array, atol=0.5)  # counts, original units
    assert back.array.max() > 7000


def test_series_description_cut_at_a_word():
    from fusionviewer.io.export import cut_at_word

    text = ("NM resampled onto source 1 (CT) grid, auto: identity, same FoR, with a long "
            "explanation")
    cut = cut_at_word(text, 64)
    assert len(cut) <= 64 and text.startswith(cut) and not text[len(cut)].isalnum()
    assert cut_at_word("short", 64) == "short"
    assert len(cut_at_word("x" * 100, 64)) == 64
