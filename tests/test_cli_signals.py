"""SIGINT / SIGTERM stop a CLI run quickly: exit 130 / 143, nothing half-written, batch summary
lists what was cancelled (issue: Ctrl-C during registration was swallowed by batch)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harvard_data import SHARED

REAL3D = SHARED / "data" / "real3d" / "mridir-porcine-head"
STOP_WITHIN_S = 3.0  # after the signal (the core stops within 1 s; the interpreter exits)


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "fusionviewer", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _read(proc: subprocess.Popen) -> str:
    try:
        return os.read(proc.stderr.fileno(), 1 << 16).decode(errors="replace")
    except BlockingIOError:
        return ""


def _wait_for_stage(proc: subprocess.Popen, stage: str, timeout: float = 120.0) -> str:
    """Read the progress bar on stderr until ``stage`` shows (the run is inside that step)."""
    seen, t0 = "", time.monotonic()
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() - t0 < timeout:
        seen += _read(proc)
        if stage in seen:
            return seen
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"stage {stage!r} never showed; stderr: {seen[-2000:]}")


def _stop(proc: subprocess.Popen, signum: int) -> tuple[int, float, str]:
    t0 = time.monotonic()
    proc.send_signal(signum)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the run did not stop within 30 s of the signal")
    seconds = time.monotonic() - t0
    os.set_blocking(proc.stderr.fileno(), True)
    return proc.returncode, seconds, proc.stderr.read().decode(errors="replace")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_fuse_stops_during_registration(tmp_path, signum, code):
    out = tmp_path / "out"
    out.mkdir()
    proc = _start(["fuse", str(REAL3D / "CT"), str(REAL3D / "MR_T2"), "-o",
                   str(out / "f.nii.gz"), "--register", "affine", "--method", "average"],
                  tmp_path)
    _wait_for_stage(proc, "registering")
    time.sleep(0.5)
    rc, seconds, err = _stop(proc, signum)
    assert rc == code, err[-2000:]
    assert seconds < STOP_WITHIN_S, f"took {seconds:.1f} s to stop"
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # nothing written, no temporary left


def test_batch_stops_and_lists_the_cancelled_pairs(tmp_path):
    a, b, out = tmp_path / "ct", tmp_path / "mr", tmp_path / "out"
    a.mkdir(), b.mkdir()
    for name in ("case1", "case2"):
        (a / name).symlink_to(REAL3D / "CT", target_is_directory=True)
        (b / name).symlink_to(REAL3D / "MR_T2", target_is_directory=True)
    proc = _start(["batch", str(a), str(b), "-o", str(out), "--register", "rigid",
                   "--method", "average"], tmp_path)
    _wait_for_stage(proc, "batch")
    time.sleep(8.0)  # inside the first pair's loading or registration
    rc, seconds, err = _stop(proc, signal.SIGINT)
    assert rc == 130, err[-2000:]
    assert seconds < STOP_WITHIN_S, f"took {seconds:.1f} s to stop"
    assert "Traceback" not in err
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["name"]: r["status"] for r in csv.DictReader(fh)}
    assert rows == {"case1": "cancelled", "case2": "cancelled"}
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]
