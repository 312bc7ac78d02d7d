"""CLI behaviour on hostile input and closed pipes: exit codes, one-line errors, no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
SAMPLE = REPO / "resources" / "samples" / "dicom" / "ct-mri-34" / "ct"
MR_SLICE = REPO / "resources" / "samples" / "dicom" / "ct-mri-34" / "mr" / "IM_0001.dcm"


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fusionviewer", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, **kwargs)


def test_info_json_into_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "fusionviewer", "info", "--json", str(SAMPLE)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader went away before the first byte (like `| head -0`)
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=300)
    assert code in (0, 141), err
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""


def test_info_json_piped_into_head_ends_quietly():
    shell = f"{sys.executable} -m fusionviewer info --json '{SAMPLE}' | head -1"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.stdout == "{\n"
    assert out.stderr == ""
    assert out.returncode in (0, 141)


def test_zero_pixel_spacing_with_rigid_registration_names_the_input(tmp_path):
    target = tmp_path / "out.nii.gz"
    src = CORPUS / "zero_spacing.dcm"
    out = _cli("fuse", str(src), str(MR_SLICE), "-o", str(target), "--register", "rigid",
               "--no-progress")
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"fusionviewer: error: {src}: PixelSpacing 0\\0 mm is not positive\n"
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_zero_pixel_spacing_without_registration_names_the_input(tmp_path):
    target = tmp_path / "out.png"
    src = CORPUS / "zero_spacing.dcm"
    out = _cli("fuse", str(MR_SLICE), str(src), "-o", str(target), "--no-progress")
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"fusionviewer: error: {src}: PixelSpacing 0\\0 mm is not positive\n"
    assert list(tmp_path.iterdir()) == []


def test_memory_bomb_from_the_cli_is_one_line(tmp_path):
    out = _cli("info", str(CORPUS / "bomb.nii"))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "but the file holds 1.0 KiB of data" in out.stderr
