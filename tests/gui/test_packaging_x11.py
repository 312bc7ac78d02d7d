"""The X11 libraries in the packaging: the bundle carries Qt's xcb dependencies (spec
XCB_LIBS), install.sh says what is missing, the launcher runs the platform check, and the
package lists of scripts/test.sh and the README are the ones the check recommends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fusionviewer import __version__
from fusionviewer.gui import platform_check as pc

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "packaging"
sys.path.insert(0, str(REPO / "tests"))

from test_packaging import fake_bundle, run_spec, spec_literals  # noqa: E402

NOT_BUNDLED = re.compile(r"^(libc|libm|libstdc\+\+|libgcc_s|libGL|libEGL|libX11|libxcb|"
                         r"libglib-2\.0|libgthread-2\.0)\.so")


def _xcb_ldd() -> dict[str, str]:
    plugin = pc.qxcb_plugin()
    assert plugin is not None
    qt = plugin.parents[2]
    found: dict[str, str] = {}
    for lib in (plugin, qt / "lib" / "libQt6XcbQpa.so.6",
                qt / "plugins" / "xcbglintegrations" / "libqxcb-glx-integration.so"):
        needed = subprocess.run(["readelf", "-d", str(lib)], capture_output=True,
                                text=True).stdout
        for name in re.findall(r"\(NEEDED\).*\[(.+)\]", needed):
            found.setdefault(name, str(lib))
    return found


def test_xcb_lib_list_matches_what_the_plugin_links():
    """XCB_LIBS = every library the xcb plugin links directly, except Qt's own and the ones
    every X client system has (libc, libX11, libxcb, GL drivers, glib)."""
    xcb = spec_literals()["XCB_LIBS"]
    needed = {n for n in _xcb_ldd() if "Qt6" not in n and not NOT_BUNDLED.match(n)}
    assert needed - {"libX11-xcb.so.1"} <= set(xcb), needed - set(xcb)
    assert set(xcb) - needed <= {"libxcb-util.so.1", "libxcb-render.so.0"}  # via the others
    assert {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"} <= set(xcb)
    for name in xcb:  # each maps to a package for the check's message
        assert pc.package_for(name), name


def test_linux_spec_bundles_the_xcb_libraries(monkeypatch, tmp_path):
    run = run_spec(monkeypatch, "linux", tmp_path)
    binaries = run["env"]["a"].kwargs["binaries"]
    xcb = spec_literals()["XCB_LIBS"]
    assert [Path(src).name for src, _ in binaries] == xcb, \
        f"the build machine lacks some: {set(xcb) - {Path(s).name for s, _ in binaries}}"
    for src, dest in binaries:
        assert dest == "." and Path(src).is_file() and src.startswith("/")


def test_windows_and_macos_spec_bundle_no_xcb(monkeypatch, tmp_path):
    for platform in ("win32", "darwin"):
        run = run_spec(monkeypatch, platform, tmp_path)
        assert run["env"]["a"].kwargs["binaries"] == []


def _install(top: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    for name in ("install.sh", "fusionviewer.desktop", "fusionviewer-mime.xml"):
        (top / name).write_bytes((PKG / "linux" / name).read_bytes())
    return subprocess.run(["bash", str(top / "install.sh")], capture_output=True, text=True,
                          env={"HOME": str(home), "PATH": os.environ["PATH"]}, timeout=120)


def test_install_warns_about_missing_x_libraries(tmp_path):
    bundle = fake_bundle(tmp_path / "top")
    (bundle / "FusionViewer").write_text(
        '#!/bin/sh\nif [ "$FUSIONVIEWER_PLATFORM_CHECK" = libs ]; then\n'
        '  echo "fusionviewer: cannot open a window: missing system libraries '
        'libxcb-icccm.so.4; install with: sudo apt-get install libxcb-icccm4" >&2; exit 2\nfi\n'
        f'echo "fusionviewer {__version__}"\n')
    out = _install(tmp_path / "top", tmp_path)
    assert out.returncode == 0, out.stderr  # installed all the same
    assert "sudo apt-get install libxcb-icccm4" in out.stderr
    assert "WARNING: FusionViewer will not open a window" in out.stderr


def test_install_runs_the_real_check_quietly_when_it_passes(tmp_path):
    bundle = fake_bundle(tmp_path / "top")
    (bundle / "FusionViewer").write_text(  # the launcher of the frozen app, from source
        f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} {PKG / "launcher.py"} "$@"\n')
    out = _install(tmp_path / "top", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "WARNING" not in out.stderr and "cannot open a window" not in out.stderr, out.stderr
    assert "FusionViewer installed in" in out.stdout


def test_launcher_platform_check_modes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), FUSIONVIEWER_PLATFORM_CHECK="libs")
    env.pop("DISPLAY", None)
    out = subprocess.run([sys.executable, str(PKG / "launcher.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "fusionviewer: platform check passed"


def test_test_sh_and_readme_name_the_packages_the_check_recommends():
    text = (REPO / "scripts" / "test.sh").read_text()
    pkgs = re.search(r'X_PKGS="([^"]+)"', text).group(1).replace("\\\n", " ").split()
    assert pkgs == ["xvfb", "xdotool", *pc.XCB_RUNTIME_PACKAGES]
    readme = " ".join((REPO / "README.md").read_text().replace("\\\n", " ").split())
    assert f"sudo apt-get install {' '.join(pc.XCB_RUNTIME_PACKAGES)}" in readme
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "test.sh")]).returncode == 0
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "demo.sh")]).returncode == 0
