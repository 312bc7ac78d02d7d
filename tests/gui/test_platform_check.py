"""fusionviewer.gui.platform_check: recorded ldd/Qt outputs -> missing libraries -> apt-get line.

The real check under Xvfb is in test_real_window.py. Nothing here starts Qt on xcb.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fusionviewer.gui import platform_check as pc

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[2]
# Base system libraries every desktop has (not worth a hint of their own).
BASE = re.compile(r"^(ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libz|"
                  r"libzstd|libpcre2|libexpat|libpng16|libbrotli\w*|libbsd|libsystemd|libmd|libcap|"
                  r"libgcrypt|liblzma|liblz4|libgpg-error|linux-vdso|libffi|libuuid|libXau|"
                  r"libXdmcp)[.-]")


def test_parse_ldd_recorded_output():
    text = (DATA / "ldd-libqxcb-missing-icccm-keysyms.txt").read_text()
    assert pc.parse_ldd(text) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert pc.parse_ldd(text.replace("not found", "/lib/x.so (0x1)")) == []


def test_parse_probe_output_with_qt_debug_plugins():
    """QT_DEBUG_PLUGINS=1 names the library dlopen could not find (the first one)."""
    text = (DATA / "qt-xcb-probe-debug-missing-icccm.txt").read_text()
    assert "xcb-cursor0 or libxcb-cursor0 is needed" in text  # Qt's misleading hint
    assert pc.parse_probe_output(text) == (["libxcb-icccm.so.4"], None)


def test_parse_probe_output_plain_abort_is_not_blamed_on_xcb_cursor():
    text = (DATA / "qt-xcb-abort-plain.txt").read_text()
    missing, other = pc.parse_probe_output(text)
    assert missing == []
    assert other and "xcb" in other and "cursor" not in other


def test_parse_probe_output_no_display():
    text = (DATA / "qt-xcb-probe-debug-no-display.txt").read_text()
    assert pc.parse_probe_output(text) == ([], "could not connect to display :98")


@pytest.mark.parametrize("soname, package", [
    ("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"), ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"), ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"), ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-randr.so.0", "libxcb-randr0"), ("libxcb-xinerama.so.0", "libxcb-xinerama0"),
    ("libEGL.so.1", "libegl1"), ("libGL.so.1", "libgl1"),
    ("libfontconfig.so.1", "libfontconfig1"), ("libdbus-1.so.3", "libdbus-1-3"),
    ("libxcb.so.1", "libxcb1"), ("libX11-xcb.so.1", "libx11-xcb1"),
])
def test_package_names(soname, package):
    assert pc.package_for(soname) == package


def test_message_names_libraries_and_the_install_command(monkeypatch):
    monkeypatch.setattr(pc.shutil, "which", lambda name: "/usr/bin/apt-get")
    assert pc.missing_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]) == (
        "cannot open a window: missing system libraries libxcb-icccm.so.4, "
        "libxcb-keysyms.so.1; install with: sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    text = pc.missing_message(["libxcb-cursor.so.0", "libweird.so.3"])
    assert "sudo apt-get install libxcb-cursor0 (and the packages that provide libweird.so.3)" \
        in text


def test_package_map_matches_dpkg_for_what_libqxcb_links():
    """Every non-base system library the xcb plugin resolves to maps to the package that
    really ships it here (dpkg -S), so the printed apt-get line installs the right thing."""
    if not shutil.which("dpkg"):
        pytest.fail("dpkg not found: this check runs on the Debian/Ubuntu CI image")
    plugin = pc.qxcb_plugin()
    assert plugin is not None and plugin.is_file()
    text = pc.ldd(plugin)
    assert text, "ldd failed on libqxcb.so"
    checked = 0
    for soname, target in re.findall(r"^\s*(\S+) => (/\S+)", text, re.M):
        if "PySide6" in target or BASE.match(soname):
            continue
        package = pc.package_for(soname)
        assert package, f"{soname} ({target}) has no package in platform_check.PACKAGES"
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(target)], capture_output=True,
                               text=True).stdout.split(":")[0]
        if not owner:  # /lib is a symlink to /usr/lib on merged-/usr systems
            owner = subprocess.run(["dpkg", "-S", target], capture_output=True,
                                   text=True).stdout.split(":")[0]
        assert owner == package, (soname, owner, package)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("env, platform, expected", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", False),
    ({}, "linux", False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux",
     False),
    ({"DISPLAY": ":0"}, "win32", False),
    ({"DISPLAY": ":0"}, "darwin", False),
])
def test_needs_check_only_where_qt_uses_xcb(env, platform, expected):
    assert pc.needs_check(env, platform) is expected


@pytest.fixture
def fake_linux(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"\x7fELF")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("FUSIONVIEWER_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setattr(pc.sys, "platform", "linux")
    monkeypatch.setattr(pc, "qxcb_plugin", lambda: plugin)
    probes = []
    monkeypatch.setattr(pc, "probe", lambda: probes.append(1) or (True, "ok"))
    return probes


def test_check_reports_ldd_missing_libraries_without_starting_qt(fake_linux, monkeypatch):
    recorded = (DATA / "ldd-libqxcb-missing-icccm-keysyms.txt").read_text()
    monkeypatch.setattr(pc, "ldd", lambda path: recorded)
    problem = pc.check_platform()
    assert problem.startswith("cannot open a window: missing system libraries "
                              "libxcb-icccm.so.4, libxcb-keysyms.so.1; install with: sudo "
                              "apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert fake_linux == []  # no child process needed


def test_check_parses_a_failed_probe(fake_linux, monkeypatch):
    monkeypatch.setattr(pc, "ldd", lambda path: None)  # no ldd on this system
    recorded = (DATA / "qt-xcb-probe-debug-missing-icccm.txt").read_text()
    monkeypatch.setattr(pc, "probe", lambda: (False, recorded))
    assert "sudo apt-get install libxcb-icccm4" in pc.check_platform()


def test_a_passing_probe_is_cached(fake_linux, monkeypatch):
    ok = (DATA / "ldd-libqxcb-missing-icccm-keysyms.txt").read_text().replace(
        "not found", "/lib/x.so (0x0000)")
    monkeypatch.setattr(pc, "ldd", lambda path: ok.replace("0x0000", f"0x{len(fake_linux)}a"))
    assert pc.check_platform() is None
    assert pc.check_platform() is None  # other load addresses: same libraries, cached
    assert fake_linux == [1]
    monkeypatch.setenv("DISPLAY", ":1")  # another display is probed again
    assert pc.check_platform() is None
    assert fake_linux == [1, 1]


def test_check_is_skipped_offscreen(fake_linux, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(pc, "ldd", lambda path: pytest.fail("ldd run offscreen"))
    assert pc.check_platform() is None


def test_libs_only_command_line(tmp_path):
    """What install.sh and demo.sh run: exit 0 and a line, or exit 2 and the apt-get line."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.run([sys.executable, "-m", "fusionviewer.gui.platform_check",
                           "--libs-only"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    missing = pc.parse_ldd(pc.ldd(pc.qxcb_plugin()) or "")
    if missing:
        assert proc.returncode == 2 and "sudo apt-get install" in proc.stderr
    else:
        assert proc.returncode == 0 and "platform check passed" in proc.stdout, proc.stderr


def test_started_from_the_menu_the_problem_shows_in_a_dialog(monkeypatch, tmp_path):
    """No terminal: stderr is lost, so a dialog tool (zenity, kdialog, ...) shows the line."""
    record = tmp_path / "args.txt"
    tool = tmp_path / "bin" / "zenity"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tool.parent))
    problem = "cannot open a window: missing system libraries libxcb-cursor.so.0; install ..."
    monkeypatch.delenv("DESKTOP_STARTUP_ID", raising=False)
    monkeypatch.delenv("XDG_ACTIVATION_TOKEN", raising=False)
    assert pc.tell_desktop(problem) is False  # from a script or a terminal: stderr is enough
    monkeypatch.setenv("DESKTOP_STARTUP_ID", "gnome-shell/FusionViewer/1234_TIME0")
    assert pc.tell_desktop(problem) is True
    for _ in range(100):
        if record.exists() and record.read_text():
            break
        __import__("time").sleep(0.05)
    assert f"FusionViewer {problem}" in record.read_text().splitlines()
