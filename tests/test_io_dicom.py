"""DICOM loading on synthetic series built with pydicom from consecutive Harvard CT-MRI slices."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image as PILImage

from fusionviewer.errors import InputError
from fusionviewer.io import describe, list_series, load_image
from fusionviewer.io.synthetic import write_series

SLICES = range(10, 18)  # CT-MRI case 34 (val), 8 consecutive slices
OBLIQUE = (0.9848077, 0.1736482, 0.0, -0.1736482, 0.9848077, 0.0)  # 10 degrees about z


def _stack(harvard, folder: str) -> np.ndarray:
    return np.stack([np.asarray(PILImage.open(harvard / "ct-mri" / folder / f"340{k:02d}.png"))
                     for k in SLICES])


@pytest.fixture
def ct_u8(harvard) -> np.ndarray:
    return _stack(harvard, "ct")


@pytest.fixture
def mr_u8(harvard) -> np.ndarray:
    return _stack(harvard, "mri")


def _ct_series(ct_u8, folder, **kw):
    """CT stored as 12-bit 8*v + 24 with intercept -1024: HU = 8 v - 1000."""
    args = dict(modality="CT", pixel_spacing=(0.9, 0.8), slice_spacing=5.0,
                origin=(-115.0, -102.4, 20.0), rescale=(1.0, -1024.0), window=(20.0, 2040.0),
                bits_stored=12, description="CT demo")
    args.update(kw)
    return write_series(ct_u8.astype(np.uint16) * 8 + 24, folder, **args)


def _sitk_series(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def test_series_folder_hu_geometry_and_window(ct_u8, tmp_path):
    _ct_series(ct_u8, tmp_path / "ct")
    image = load_image(tmp_path / "ct")
    assert image.shape == (8, 256, 256)
    assert image.modality == "CT"
    assert image.array.dtype == np.int16
    assert np.array_equal(image.array, ct_u8.astype(np.int16) * 8 - 1000)
    assert image.spacing == pytest.approx((0.8, 0.9, 5.0))
    assert image.origin == pytest.approx((-115.0, -102.4, 20.0))
    assert image.window == (20.0, 2040.0)
    # The window reproduces the atlas display: (HU - (C - W/2)) / W * 255 == original PNG value.
    c, w = image.window
    assert np.array_equal(np.rint((image.array - (c - w / 2)) / w * 255), ct_u8)
    # Same voxels and geometry as SimpleITK's (GDCM) series reader.
    ref = _sitk_series(tmp_path / "ct")
    assert np.array_equal(sitk.GetArrayFromImage(ref), image.array)
    assert np.allclose(ref.GetSpacing(), image.spacing)
    assert np.allclose(ref.GetOrigin(), image.origin)
    assert np.allclose(ref.GetDirection(), image.direction)


def test_provenance_has_uids_and_patient_attributes(ct_u8, tmp_path):
    paths = _ct_series(ct_u8, tmp_path / "ct", patient_name="DOE^JANE", patient_id="P42")
    image = load_image(tmp_path / "ct")
    first = pydicom.dcmread(paths[0])
    prov = image.provenance
    assert prov.series_instance_uid == first.SeriesInstanceUID
    assert prov.study_instance_uid == first.StudyInstanceUID
    assert prov.frame_of_reference_uid == first.FrameOfReferenceUID
    assert prov.sop_class_uid == first.SOPClassUID
    assert prov.sop_instance_uids == tuple(pydicom.dcmread(p).SOPInstanceUID for p in paths)
    assert prov.source_paths == tuple(str(p) for p in paths)
    assert prov.attributes["PatientName"] == "DOE^JANE"
    assert prov.attributes["PatientID"] == "P42"
    assert prov.attributes["StudyDate"] == "20000101"


def test_single_file(ct_u8, tmp_path):
    paths = _ct_series(ct_u8, tmp_path / "ct")
    image = load_image(paths[3])
    assert image.shape == (1, 256, 256)
    assert np.array_equal(image.array[0], ct_u8[3].astype(np.int16) * 8 - 1000)
    assert image.origin == pytest.approx((-115.0, -102.4, 35.0))
    assert image.spacing[2] == pytest.approx(5.0)  # from SliceThickness
    assert image.provenance.sop_instance_uids == (pydicom.dcmread(paths[3]).SOPInstanceUID,)


def test_shuffled_files_sorted_by_position_along_normal(ct_u8, tmp_path):
    paths = _ct_series(ct_u8, tmp_path / "src", orientation=OBLIQUE)
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    order = list(range(len(paths)))
    random.Random(3).shuffle(order)
    for new_index, k in enumerate(order):
        ds = pydicom.dcmread(paths[k])
        ds.InstanceNumber = new_index + 1  # misleading instance numbers too
        ds.save_as(shuffled / f"x{new_index:02d}_{random.Random(k).randint(0, 999)}.dcm")
    image = load_image(shuffled)
    assert np.array_equal(image.array, ct_u8.astype(np.int16) * 8 - 1000)
    assert image.spacing[2] == pytest.approx(5.0)
    assert image.direction == pytest.approx(
        (OBLIQUE[0], OBLIQUE[3], 0.0, OBLIQUE[1], OBLIQUE[4], 0.0, 0.0, 0.0, 1.0), abs=1e-6)
    ref = _sitk_series(shuffled)
    assert np.array_equal(sitk.GetArrayFromImage(ref), image.array)
    assert np.allclose(ref.GetOrigin(), image.origin, atol=1e-4)
    assert np.allclose(ref.GetDirection(), image.direction, atol=1e-6)


def test_rescale_integer_and_fractional(mr_u8, tmp_path):
    write_series(mr_u8.astype(np.uint16), tmp_path / "int", modality="MR", rescale=(2.0, -100.0))
    ints = load_image(tmp_path / "int")
    assert ints.array.dtype == np.int16
    assert np.array_equal(ints.array, mr_u8.astype(np.int16) * 2 - 100)
    write_series(mr_u8.astype(np.uint16), tmp_path / "frac", modality="PT", rescale=(0.25, 1.5))
    frac = load_image(tmp_path / "frac")
    assert frac.modality == "PT"
    assert frac.array.dtype == np.float32
    assert np.allclose(frac.array, mr_u8 * 0.25 + 1.5)


def test_several_series_need_a_choice(ct_u8, mr_u8, tmp_path):
    from pydicom.uid import generate_uid

    study, frame = generate_uid(), generate_uid()
    _ct_series(ct_u8, tmp_path / "study" / "ct", study_uid=study, frame_of_reference_uid=frame,
               series_number=2)
    write_series(mr_u8.astype(np.uint16) * 4, tmp_path / "study" / "mr", modality="MR",
                 study_uid=study, frame_of_reference_uid=frame, series_number=3,
                 description="T2 demo", pixel_spacing=(0.9, 0.8), slice_spacing=5.0,
                 origin=(-115.0, -102.4, 20.0))
    infos = list_series(tmp_path / "study")
    assert [(i.modality, i.num_instances, i.description) for i in infos] == [
        ("CT", 8, "CT demo"), ("MR", 8, "T2 demo")]
    assert infos[0].study_uid == infos[1].study_uid == study
    assert "DEMO^ATLAS" in infos[0].patient
    with pytest.raises(InputError, match="holds 2 series") as err:
        load_image(tmp_path / "study")
    message = str(err.value)
    assert infos[0].uid in message and infos[1].uid in message
    assert "CT 'CT demo'" in message and "MR 'T2 demo'" in message
    assert "\n" not in message
    mr = load_image(tmp_path / "study", series_uid=infos[1].uid)
    assert mr.modality == "MR" and np.array_equal(mr.array, mr_u8.astype(np.uint16) * 4)
    ct = load_image(tmp_path / "study", series_uid=infos[0].uid)
    assert ct.same_grid(mr)
    with pytest.raises(InputError, match="series 1.2.3 not found"):
        load_image(tmp_path / "study", series_uid="1.2.3")
    info = describe(tmp_path / "study")
    assert info["format"] == "DICOM folder" and len(info["series"]) == 2
    assert "modality" not in info  # nothing loaded without a choice


def test_multiframe_with_per_frame_positions(ct_u8, tmp_path):
    _ct_series(ct_u8, tmp_path / "mf", multiframe=True, orientation=OBLIQUE)
    image = load_image(tmp_path / "mf")
    assert image.shape == (8, 256, 256)
    assert np.array_equal(image.array, ct_u8.astype(np.int16) * 8 - 1000)
    assert image.spacing == pytest.approx((0.8, 0.9, 5.0))
    assert image.origin == pytest.approx((-115.0, -102.4, 20.0))
    assert image.window == (20.0, 2040.0)
    uid = image.provenance.sop_instance_uids[0]
    assert image.provenance.sop_instance_uids == (uid,) * 8


def test_multiframe_frames_in_reverse_position_order(ct_u8, tmp_path):
    # Frames stored top-down: positions decrease, the loader must sort them upwards.
    _ct_series(ct_u8[::-1], tmp_path / "mf", multiframe=True, slice_spacing=-5.0,
               origin=(-115.0, -102.4, 55.0))
    image = load_image(tmp_path / "mf")
    assert np.array_equal(image.array, ct_u8.astype(np.int16) * 8 - 1000)
    assert image.origin == pytest.approx((-115.0, -102.4, 20.0))
    assert image.spacing[2] == pytest.approx(5.0)


def test_legacy_multiframe_without_per_frame_positions(mr_u8, tmp_path):
    (path,) = write_series(mr_u8, tmp_path / "nm", modality="NM", multiframe=True,
                           slice_spacing=4.0, origin=(1.0, 2.0, 3.0))
    ds = pydicom.dcmread(path)
    del ds.PerFrameFunctionalGroupsSequence
    del ds.SharedFunctionalGroupsSequence
    ds.ImagePositionPatient = [1.0, 2.0, 3.0]
    ds.SpacingBetweenSlices = 4.0
    ds.save_as(path)
    image = load_image(path)
    assert image.modality == "NM"
    assert np.array_equal(image.array, mr_u8)
    assert image.spacing[2] == pytest.approx(4.0)
    assert image.origin == pytest.approx((1.0, 2.0, 3.0))


def test_rgb_dicom_keeps_colour(harvard, pet_mri_pair, tmp_path):
    rgb = np.asarray(PILImage.open(pet_mri_pair[1]).convert("RGB"))
    write_series(rgb[np.newaxis], tmp_path / "pet", modality="PT", colour=True)
    image = load_image(tmp_path / "pet")
    assert image.is_color and np.array_equal(image.array[0], rgb)
    assert image.provenance.attributes["PhotometricInterpretation"] == "RGB"


def test_monochrome1_is_inverted(mr_u8, tmp_path):
    (path,) = write_series(mr_u8[:1], tmp_path / "m1", modality="OT")
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(path)
    image = load_image(path)
    assert np.array_equal(image.array[0], 255 - mr_u8[0])


def test_modality_from_header_then_hint_then_ot(mr_u8, tmp_path):
    write_series(mr_u8[:2], tmp_path / "mr", modality="MR")
    assert load_image(tmp_path / "mr", modality="CT").modality == "MR"  # header wins
    write_series(mr_u8[:2], tmp_path / "sc", modality="OT")
    assert load_image(tmp_path / "sc", modality="SPECT").modality == "NM"
    assert load_image(tmp_path / "sc").modality == "OT"


def test_non_dicom_files_in_series_folder_are_ignored(ct_u8, tmp_path):
    _ct_series(ct_u8, tmp_path / "ct")
    (tmp_path / "ct" / "README.txt").write_text("exported by a PACS")
    assert load_image(tmp_path / "ct").shape == (8, 256, 256)


def test_jpeg_lossless_decoded_through_gdcm(harvard, tmp_path):
    # pydicom has no JPEG Lossless decoder installed here; GDCM (SimpleITK) decodes it.
    hu = np.asarray(PILImage.open(harvard / "ct-mri" / "ct" / "34014.png")).astype(np.int16)
    hu = hu * 8 - 1000
    img = sitk.GetImageFromArray(hu[np.newaxis])
    img.SetSpacing((0.9, 0.8, 5.0))
    img.SetMetaData("0008|0060", "CT")
    writer = sitk.ImageFileWriter()
    writer.SetImageIO("GDCMImageIO")
    writer.SetFileName(str(tmp_path / "jpeg.dcm"))
    writer.SetUseCompression(True)
    writer.SetCompressor("JPEG")
    writer.Execute(img)
    ds = pydicom.dcmread(tmp_path / "jpeg.dcm")
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.70"  # JPEG Lossless SV1
    image = load_image(tmp_path / "jpeg.dcm")
    assert image.modality == "CT" and np.array_equal(image.array[0], hu)


def test_dicomdir_file_loads_its_folder(ct_u8, tmp_path):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    _ct_series(ct_u8, tmp_path / "disc")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.FileSetID = "DEMO"
    ds.save_as(tmp_path / "disc" / "DICOMDIR", enforce_file_format=True)
    assert load_image(tmp_path / "disc" / "DICOMDIR").shape == (8, 256, 256)


# --- bad input ---------------------------------------------------------------------------------

def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty folder") as err:
        load_image(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(err.value)


def test_folder_without_dicom_files(ct_mri_pair, tmp_path):
    shutil.copy(ct_mri_pair[0], tmp_path / "a.png")
    with pytest.raises(InputError, match="no DICOM image files found among 1 file"):
        load_image(tmp_path)


def test_dicom_without_image_is_empty_series(tmp_path):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, generate_uid()
    ds.SeriesInstanceUID, ds.Modality = generate_uid(), "SR"
    (tmp_path / "sr").mkdir()
    ds.save_as(tmp_path / "sr" / "report.dcm", enforce_file_format=True)
    with pytest.raises(InputError, match="no DICOM image files"):
        load_image(tmp_path / "sr")
    with pytest.raises(InputError, match="holds no image"):
        load_image(tmp_path / "sr" / "report.dcm")


def test_image_without_pixel_data(ct_u8, tmp_path):
    paths = _ct_series(ct_u8[:2], tmp_path / "ct")
    ds = pydicom.dcmread(paths[1])
    del ds.PixelData
    ds.save_as(paths[1])
    with pytest.raises(InputError, match="no pixel data") as err:
        load_image(tmp_path / "ct")
    assert str(paths[1]) in str(err.value)


def test_truncated_dicom_in_series(ct_u8, tmp_path):
    paths = _ct_series(ct_u8, tmp_path / "ct")
    data = paths[5].read_bytes()
    paths[5].write_bytes(data[: len(data) - 20000])
    with pytest.raises(InputError, match="corrupt or truncated DICOM pixel data") as err:
        load_image(tmp_path / "ct")
    assert str(paths[5]) in str(err.value)


def test_truncated_dicom_header(ct_u8, tmp_path):
    paths = _ct_series(ct_u8[:1], tmp_path / "ct")
    paths[0].write_bytes(paths[0].read_bytes()[:300])
    with pytest.raises(InputError) as err:
        load_image(paths[0])
    assert str(paths[0]) in str(err.value)


def test_garbage_after_preamble(tmp_path):
    path = tmp_path / "bad.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="corrupt DICOM") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_dcm_suffix_without_dicom_content(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("not dicom at all")
    with pytest.raises(InputError) as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_two_time_points_at_one_position_are_refused(ct_u8, tmp_path):
    _ct_series(ct_u8[:3], tmp_path / "t", prefix="A")
    series = pydicom.dcmread(tmp_path / "t" / "A_0001.dcm").SeriesInstanceUID
    _ct_series(ct_u8[:3], tmp_path / "t", prefix="B", series_uid=series)
    with pytest.raises(InputError, match="share one position.*4-D"):
        load_image(tmp_path / "t")


def test_slices_of_different_sizes(ct_u8, tmp_path):
    paths = _ct_series(ct_u8[:2], tmp_path / "ct")
    series = pydicom.dcmread(paths[0]).SeriesInstanceUID
    write_series(ct_u8[2:3, :128, :128].astype(np.uint16), tmp_path / "ct", modality="CT",
                 series_uid=series, prefix="Z", origin=(0, 0, 50))
    with pytest.raises(InputError, match="differs from the series"):
        load_image(tmp_path / "ct")


def test_huge_multiframe_refused_before_pixel_data(tmp_path):
    # The header claims 300 frames of 4096 x 4096 (5e9 voxels) over a few bytes of pixel data:
    # refused from the header (a 'too large' error, not a 'truncated' one).
    (path,) = write_series(np.zeros((1, 4, 4), np.uint8), tmp_path / "big", multiframe=True)
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 4096, 4096, 300
    ds.save_as(path)
    with pytest.raises(InputError, match="image too large"):
        load_image(tmp_path / "big")


def test_nan_float_pixel_data_refused(tmp_path):
    (path,) = write_series(np.zeros((1, 8, 8), np.uint16), tmp_path / "f", modality="OT")
    ds = pydicom.dcmread(path)
    data = np.zeros((8, 8), np.float32)
    data[2, 2] = np.nan
    del ds.PixelData
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.FloatPixelData = data.tobytes()
    ds.save_as(path)
    with pytest.raises(InputError, match="NaN or infinite") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_progress_and_cancel(ct_u8, tmp_path):
    from fusionviewer.errors import Cancelled
    from fusionviewer.progress import CancelToken

    _ct_series(ct_u8, tmp_path / "ct")
    seen: list[tuple[str, float]] = []
    load_image(tmp_path / "ct", progress=lambda stage, f: seen.append((stage, f)))
    assert len(seen) == 8 and seen[-1] == ("loading", 1.0)
    assert [f for _, f in seen] == sorted(f for _, f in seen)
    token = CancelToken()
    token.set()
    with pytest.raises(Cancelled):
        load_image(tmp_path / "ct", cancel=token)


def test_error_messages_are_one_line(ct_u8, tmp_path):
    paths = _ct_series(ct_u8[:2], tmp_path / "ct")
    paths[0].write_bytes(paths[0].read_bytes()[:200] + b"\n\n\x00garbage\nmore")
    with pytest.raises(InputError, match="corrupt DICOM") as err:
        load_image(tmp_path / "ct")
    assert "\n" not in str(err.value) and str(paths[0]) in str(err.value)


def test_uneven_slice_gap_is_noted(ct_u8, tmp_path):
    paths = _ct_series(ct_u8[:4], tmp_path / "gap")
    ds = pydicom.dcmread(paths[3])
    ds.ImagePositionPatient = [-115.0, -102.4, 40.0]  # 5, 5, then 10 mm
    ds.save_as(paths[3])
    image = load_image(tmp_path / "gap")
    assert image.spacing[2] == pytest.approx(5.0)  # the median step
    assert "non-uniform slice spacing 5..10 mm" in image.provenance.description


def test_series_without_positions_ordered_by_instance_number(mr_u8, tmp_path):
    paths = write_series(mr_u8[:3], tmp_path / "sc", modality="OT", slice_spacing=2.0)
    for k, p in zip((3, 1, 2), paths):  # instance numbers 3, 1, 2
        ds = pydicom.dcmread(p)
        del ds.ImagePositionPatient
        ds.InstanceNumber = k
        ds.save_as(p)
    image = load_image(tmp_path / "sc")
    assert np.array_equal(image.array, mr_u8[[1, 2, 0]])
    assert image.spacing[2] == pytest.approx(2.0)  # SliceThickness
    assert "ordered by InstanceNumber" in image.provenance.description


def test_describe_single_dicom_file(ct_u8, tmp_path):
    paths = _ct_series(ct_u8[:2], tmp_path / "ct")
    info = describe(paths[0])
    assert info["format"] == "DICOM file" and info["modality"] == "CT"
    assert info["size"] == [256, 256, 1] and info["window"] == [20.0, 2040.0]
    assert info["min"] == -1000.0 and len(info["series"]) == 1
