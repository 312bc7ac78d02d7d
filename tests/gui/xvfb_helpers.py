"""A real X server (Xvfb) for the tests that need a window on a display, not offscreen rendering.

Missing tools fail the test with what to install (never a skip): scripts/test.sh installs them
(as root, with apt-get) the way it installs Orthanc for the PACS tests.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

INSTALL_HINT = ("install them (Debian/Ubuntu: sudo apt-get install xvfb xdotool), or run "
                "scripts/test.sh as root, which installs them")


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: the real-window tests need Xvfb and xdotool; "
                    f"{INSTALL_HINT}", pytrace=False)
    return path


class Xvfb:
    """``with Xvfb() as x: x.display`` (":N", a free number Xvfb picks itself)."""

    def __init__(self, size: str = "1600x1000x24", log: Path | None = None):
        self.size, self.log = size, log
        self.proc: subprocess.Popen | None = None
        self.display = ""

    def __enter__(self) -> "Xvfb":
        exe = need_tool("Xvfb")
        read_fd, write_fd = os.pipe()
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [exe, "-displayfd", str(write_fd), "-screen", "0", self.size, "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=out, stderr=subprocess.STDOUT)
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + 30
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.5)
            if ready:
                chunk = os.read(read_fd, 16)
                if not chunk:
                    break
                number += chunk
            elif self.proc.poll() is not None:
                break
        os.close(read_fd)
        if not number.strip().isdigit():
            self.__exit__()
            pytest.fail(f"Xvfb did not start (log: {self.log})", pytrace=False)
        self.display = f":{number.decode().strip()}"
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def x_env(display: str, tmp_path: Path, **extra) -> dict:
    """The environment of an app started on `display` with the real xcb platform."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb",
               FUSIONVIEWER_SETTINGS_DIR=str(tmp_path / "settings"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), **extra)
    return env


def xdotool(display: str, *args: str, timeout: float = 30) -> str:
    env = dict(os.environ, DISPLAY=display)
    proc = subprocess.run([need_tool("xdotool"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.stdout.strip() if proc.returncode == 0 else ""
