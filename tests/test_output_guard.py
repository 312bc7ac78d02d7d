"""The one output guard (fusionviewer.io.guard) through the CLI: full disks, read-only and
special destinations, sources, early checks. Each case failed before the guard existed (see the
issue's list): a corrupt NIfTI reported as written, tracebacks, outputs left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from fusionviewer.cli import main
from fusionviewer.io.guard import atomic_path, check_destination
from fusionviewer.errors import InputError

REPO = Path(__file__).resolve().parents[1]
A = REPO / "resources/samples/ct-mri/ct/34014.png"
B = REPO / "resources/samples/ct-mri/mri/34014.png"


def _tmpfs(mnt: Path, options: str):
    """Mount a tmpfs at ``mnt`` (CI runs as root, as this workplace's machines do)."""
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"cannot mount a tmpfs (needs root): {proc.stderr}"
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture
def tiny(tmp_path):
    """A 16 KB disk: a real full disk."""
    yield from _tmpfs(tmp_path / "tiny", "size=16k")


@pytest.fixture
def read_only(tmp_path):
    yield from _tmpfs(tmp_path / "ro", "ro,size=64k")


def _fuse(*args) -> int:
    return main(["fuse", str(A), str(B), "--method", "average", "--no-progress", *map(str, args)])


@pytest.mark.parametrize("name", ["x.nii.gz", "x.nii"])
def test_full_disk_nifti_fails_cleanly(tiny, capsys, name):
    assert _fuse("-o", tiny / name) == 2
    err = capsys.readouterr().err
    assert f"{tiny / name}: not enough free disk space" in err
    assert list(tiny.iterdir()) == []


def test_full_disk_register_fails_cleanly(tiny, capsys):
    rc = main(["register", str(A), str(B), "-o", str(tiny / "r.nii.gz"), "--no-progress"])
    assert rc == 2
    assert "not enough free disk space" in capsys.readouterr().err
    assert list(tiny.iterdir()) == []


def test_full_disk_png_and_dicom_leave_nothing(tiny, capsys):
    (tiny / "filler").write_bytes(b"\0" * 12 * 1024)  # leave about 4 KB
    assert _fuse("-o", tiny / "x.png") == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _fuse("-o", tiny / "dicom", "--format", "dicom") == 2
    assert "dicom:" in capsys.readouterr().err
    assert sorted(p.name for p in tiny.iterdir()) == ["filler"]


def test_write_that_comes_up_short_is_rejected(tmp_path):
    """A writer that reports success but wrote too little (ITK on a full disk only warns)."""
    out = tmp_path / "x.bin"
    with pytest.raises(InputError, match="x.bin: cannot write: wrote only 3 of 10 bytes"):
        with atomic_path(out, verify=lambda p: None if p.stat().st_size >= 10
                         else f"wrote only {p.stat().st_size} of 10 bytes") as tmp:
            tmp.write_bytes(b"abc")
    assert list(tmp_path.iterdir()) == []


def test_read_only_folder_fails_before_fusing(read_only, capsys, monkeypatch):
    import fusionviewer.pipeline.job as job

    monkeypatch.setattr(job.FusionJob, "run", lambda *a, **k: pytest.fail("fused anyway"))
    assert _fuse("-o", read_only / "x.png") == 2
    err = capsys.readouterr().err
    assert f"{read_only / 'x.png'}: cannot write in the folder {read_only}: Read-only file " \
           "system" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("target, message", [
    ("/proc/x.png", "/proc/x.png: cannot write in the folder /proc"),
    ("/dev/full", "/dev/full: not a regular file"),
])
def test_special_destinations_are_input_errors(capsys, target, message):
    assert _fuse("-o", target, "--format", "png", "--force") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_transform_destination_fails_before_registration(tmp_path, capsys):
    out = tmp_path / "r.png"
    rc = main(["register", str(A), str(B), "-o", str(out), "--save-transform", "/proc/x.tfm",
               "--no-progress"])
    assert rc == 2
    assert "/proc/x.tfm: cannot write in the folder /proc" in capsys.readouterr().err
    assert not out.exists()


def test_metrics_failure_leaves_no_output(tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for p in (a, b):
        PILImage.fromarray(np.full((1, 1), 100, np.uint8)).save(p)
    out = tmp_path / "out" / "f.png"
    rc = main(["fuse", str(a), str(b), "-o", str(out), "--method", "average", "--metrics",
               "--no-progress"])
    assert rc == 2
    assert "too small for the metrics" in capsys.readouterr().err
    assert not out.exists()


def test_source_file_and_series_folder_are_never_written(tmp_path):
    src = tmp_path / "series"
    src.mkdir()
    f = src / "IM_0001.dcm"
    f.write_bytes(b"x")
    with pytest.raises(InputError, match="refusing to write over a source file"):
        check_destination(f, force=True, sources=[f])
    with pytest.raises(InputError, match="refusing to write into a source folder"):
        check_destination(src / "fused.png", force=True, sources=[src])
    with pytest.raises(InputError, match="refusing to write into a source folder"):
        check_destination(src / "out", force=True, series_folders=[src], folder=True)
    assert f.read_bytes() == b"x" and sorted(os.listdir(src)) == ["IM_0001.dcm"]
