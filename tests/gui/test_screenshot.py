"""`--screenshot`: the app renders once fusion and metrics are done, saves a PNG and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

REPO = Path(__file__).resolve().parents[2]


def _run(args, tmp_path, timeout=600):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               FUSIONVIEWER_SETTINGS_DIR=str(tmp_path / "settings"))
    return subprocess.run([sys.executable, "-m", "fusionviewer", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_view_screenshot_writes_png(tmp_path, spect_mri_pair):
    out = tmp_path / "shot.png"
    proc = _run(["view", str(spect_mri_pair[0]), str(spect_mri_pair[1]), "--screenshot",
                 str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    img = PILImage.open(out)
    assert img.size == (1600, 980)
    # the fused view is in colour (SPECT), so the picture is not gray
    rgb = img.convert("RGB").resize((160, 98))
    pixels = np.asarray(rgb, dtype=np.int16)
    assert (np.abs(pixels[..., 0] - pixels[..., 1]) > 40).any()


def test_demo_screenshot(tmp_path):
    out = tmp_path / "demo.png"
    proc = _run(["--demo", "--screenshot", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert PILImage.open(out).size == (1600, 980)


def test_screenshot_with_bad_input_exits_2(tmp_path, ct_mri_pair):
    bad = tmp_path / "bad.png"
    bad.write_text("no image")
    out = tmp_path / "never.png"
    proc = _run(["view", str(ct_mri_pair[0]), str(bad), "--screenshot", str(out)], tmp_path)
    assert proc.returncode == 2
    assert "bad.png" in proc.stderr
    assert not out.exists()


def test_no_display_explains_headless_use(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["FUSIONVIEWER_SETTINGS_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "fusionviewer"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "no display found" in proc.stderr and "--screenshot" in proc.stderr
