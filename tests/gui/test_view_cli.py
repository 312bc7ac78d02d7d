"""`fusionviewer view ... --screenshot`: hostile input never hangs, never writes silently wrong.

Issue 18 items 7 (one source / multi-series folder), 8 (write failure), 9 (overwrites).
Every run is a subprocess with a timeout well below the app's own 15-minute screenshot timeout,
so a hang shows up as a failure here (never as a stuck suite).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"
A = SAMPLES / "ct-mri" / "ct" / "34014.png"
B = SAMPLES / "ct-mri" / "mri" / "34014.png"
DICOM = SAMPLES / "dicom" / "ct-mri-34"
FAST_S = 60  # a refusal must come long before this (it used to wait 15 minutes)


def _run(args, tmp_path, timeout=300, **env_extra):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               FUSIONVIEWER_SETTINGS_DIR=str(tmp_path / "settings"), **env_extra)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "fusionviewer", *map(str, args)], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`fusionviewer {' '.join(map(str, args))}` still running after {timeout} s "
                    "(hangs)")
    proc.seconds = time.monotonic() - t0
    return proc


@pytest.fixture
def two_series_folder(tmp_path) -> Path:
    """One folder holding the CT and the MR sample series (as a CD export or PACS dump does)."""
    folder = tmp_path / "both"
    folder.mkdir()
    for sub in ("ct", "mr"):
        for f in sorted((DICOM / sub).iterdir()):
            shutil.copy(f, folder / f"{sub}_{f.name}")
    return folder


def _uids(folder: Path) -> dict[str, str]:
    from fusionviewer.io import list_series

    return {s.modality: s.uid for s in list_series(folder)}


def _is_fused_shot(path: Path) -> None:
    img = PILImage.open(path)
    assert img.size == (1600, 980)
    assert np.asarray(img.convert("L"), dtype=np.float32).std() > 10  # not a blank window


# --- 7: one source, several series ------------------------------------------------------------

def test_single_source_screenshot_fails_at_once(tmp_path):
    out = tmp_path / "x.png"
    proc = _run(["view", B, "--screenshot", out], tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert "two or more" in proc.stderr and "--screenshot" in proc.stderr
    assert not out.exists()


def test_single_source_offscreen_fails_at_once(tmp_path):
    """Offscreen without --screenshot nobody sees the window: one source is refused too."""
    proc = _run(["view", B], tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert "two or more" in proc.stderr and "offscreen" in proc.stderr


@pytest.mark.parametrize("with_other", [False, True])
def test_multi_series_folder_screenshot_lists_series(tmp_path, two_series_folder, with_other):
    out = tmp_path / "x.png"
    sources = [two_series_folder, A] if with_other else [two_series_folder]
    proc = _run(["view", *sources, "--screenshot", out], tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    for uid in _uids(two_series_folder).values():
        assert uid in proc.stderr
    assert "--series UID" in proc.stderr and "2 series" in proc.stderr
    assert not out.exists()


def test_multi_series_folder_offscreen_without_screenshot_fails(tmp_path, two_series_folder):
    """Offscreen, the series dialog could never be answered: refuse instead of waiting."""
    proc = _run(["view", two_series_folder, A], tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert "--series" in proc.stderr


@pytest.mark.parametrize("times", [2, 1])  # the folder once per series, or once for both
def test_series_option_picks_one_series_per_source(tmp_path, two_series_folder, times):
    uids = _uids(two_series_folder)
    out = tmp_path / "x.png"
    proc = _run(["view", *[two_series_folder] * times, "--series", uids["CT"],
                 "--series", uids["MR"], "--screenshot", out], tmp_path)
    assert proc.returncode == 0, proc.stderr
    _is_fused_shot(out)


def test_series_option_with_a_source_that_needs_none(tmp_path, two_series_folder):
    """`-` (or an empty entry) stands for a source that needs no series; commas work too."""
    uids = _uids(two_series_folder)
    out = tmp_path / "x.png"
    proc = _run(["view", two_series_folder, DICOM / "mr", "--series", f"{uids['CT']},-",
                 "--screenshot", out], tmp_path)
    assert proc.returncode == 0, proc.stderr
    _is_fused_shot(out)


@pytest.mark.parametrize("series, expected", [
    (["1.2.3.4", "-"], "series 1.2.3.4 not found"),
    (["x", "y", "z"], "3 --series values for 2 sources"),
])
def test_bad_series_option_exits_2(tmp_path, two_series_folder, series, expected):
    out = tmp_path / "x.png"
    args = ["view", two_series_folder, A, "--screenshot", out]
    for s in series:
        args += ["--series", s]
    proc = _run(args, tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert not out.exists()


def test_series_for_a_plain_image_is_refused(tmp_path):
    proc = _run(["view", A, B, "--series", "-", "--series", "1.2.3", "--screenshot",
                 tmp_path / "x.png"], tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert f"{B}: --series 1.2.3 given" in proc.stderr


# --- 8: the screenshot cannot be written --------------------------------------------------------

def test_unwritable_screenshot_says_why(tmp_path):
    proc = _run(["view", A, B, "--screenshot", "/proc/g.png"], tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert "/proc/g.png: " in proc.stderr


def test_screenshot_into_missing_folder_under_a_file(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    proc = _run(["view", A, B, "--screenshot", blocker / "sub" / "g.png"], tmp_path,
                timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert f"{blocker / 'sub' / 'g.png'}: " in proc.stderr


# --- 9: never over a source, never over an existing file without --force -----------------------

def test_screenshot_refuses_to_overwrite_a_source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ct, mr = src / "ct.png", src / "mr.png"
    shutil.copy(A, ct)
    shutil.copy(B, mr)
    before = ct.read_bytes()
    for extra in ([], ["--force"]):
        proc = _run(["view", ct, mr, "--screenshot", ct, *extra], tmp_path, timeout=FAST_S)
        assert proc.returncode == 2, proc.stderr
        assert "source" in proc.stderr and str(ct) in proc.stderr
        assert ct.read_bytes() == before
    assert sorted(p.name for p in src.iterdir()) == ["ct.png", "mr.png"]


def test_screenshot_refuses_to_write_into_a_dicom_source_folder(tmp_path):
    ct, mr = tmp_path / "ct", tmp_path / "mr"
    shutil.copytree(DICOM / "ct", ct)
    shutil.copytree(DICOM / "mr", mr)
    proc = _run(["view", ct, mr, "--screenshot", ct / "shot.png"], tmp_path, timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert "source" in proc.stderr
    assert not (ct / "shot.png").exists()


def test_existing_screenshot_needs_force(tmp_path):
    out = tmp_path / "x.png"
    out.write_bytes(b"keep me")
    # the destination is checked before anything is loaded: a missing source is not reached
    proc = _run(["view", tmp_path / "missing.png", B, "--screenshot", out], tmp_path,
                timeout=FAST_S)
    assert proc.returncode == 2, proc.stderr
    assert f"{out}: output exists (use --force to overwrite)" in proc.stderr
    assert out.read_bytes() == b"keep me"

    proc = _run(["view", A, B, "--screenshot", out, "--force"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    _is_fused_shot(out)
    # written through a temporary file in the same folder, renamed: nothing else is left
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "settings") == ["x.png"]


def test_failed_screenshot_leaves_no_partial_file(tmp_path, qtbot):
    """The PNG is written to a temporary file then renamed: a failed save changes nothing."""
    from PySide6.QtGui import QPixmap

    from fusionviewer.gui.app import write_screenshot

    out = tmp_path / "x.png"
    out.write_bytes(b"old")
    pix = QPixmap(8, 8)
    pix.fill()
    write_screenshot(pix, out)
    assert PILImage.open(out).size == (8, 8)
    from fusionviewer.errors import InputError

    with pytest.raises(InputError, match="x.png: could not write the PNG"):
        write_screenshot(QPixmap(), out)  # a null pixmap cannot be saved
    assert PILImage.open(out).size == (8, 8)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
