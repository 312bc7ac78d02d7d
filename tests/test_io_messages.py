"""Loader messages: whole sentences, no decoder text or Python warnings on the terminal."""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import pytest

from fusionviewer.errors import InputError
from fusionviewer.io import load_image
from fusionviewer.io._common import one_line

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))
from make_corpus import dicom_bytes  # noqa: E402

PYDICOM_LONG = ("The number of bytes of pixel data is less than expected (131072 vs 1800000000 "
                "bytes) - the dataset may be corrupted, have an invalid group 0028 element value, "
                "or the transfer syntax may be incorrect")


def test_one_line_keeps_short_text_whole():
    assert one_line(ValueError("short\n  and   simple")) == "short and simple"
    assert one_line(ValueError("")) == "ValueError"


@pytest.mark.parametrize("limit", [60, 100, 160])
def test_one_line_cuts_long_text_at_a_clause_or_word_with_an_ellipsis(limit):
    text = one_line(ValueError(PYDICOM_LONG), limit)
    assert text.endswith(" …") and len(text) <= limit + 2
    kept = text[:-2]
    assert PYDICOM_LONG.startswith(kept)
    assert PYDICOM_LONG[len(kept)] in " ,-;."  # the cut falls between words, never inside one


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_long_pydicom_error_is_kept_whole(tmp_path):
    path = _write(tmp_path, "bits12.dcm", dicom_bytes(BitsAllocated=12))
    with pytest.raises(InputError) as info:
        load_image(path)
    assert str(info.value).endswith("'Bits Allocated' value of '12' is invalid, it must be 1 or "
                                     "a multiple of 8 and in the range (1, 64))")


def test_jpeg2000_decoder_noise_stays_off_stderr(tmp_path, capfd):
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(io.BytesIO(dicom_bytes()))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"  # JPEG 2000 lossless
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 60])  # a broken SIZ marker
    ds["PixelData"].VR = "OB"
    path = tmp_path / "j2k.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(InputError, match="corrupt or truncated DICOM pixel data .*SIZ marker"):
        load_image(path)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # openjpeg/GDCM printed "Invalid marker size" here before


def test_pydicom_warnings_become_a_note_not_a_python_warning(tmp_path, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns while the test writes the bad value
        path = _write(tmp_path, "long_lo.dcm", dicom_bytes(StudyDescription="x" * 80))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image.provenance.description == ("DICOM header: The value length (80) exceeds the "
                                             "maximum length of 64 allowed for VR LO.")
    assert capfd.readouterr() == ("", "")
