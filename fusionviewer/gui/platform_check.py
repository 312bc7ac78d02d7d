"""Can Qt open a window here? Checked before QApplication exists (Linux/X11 only).

Qt's xcb platform plugin (``platforms/libqxcb.so``) links a dozen X libraries that many Linux
installs lack (PySide6 >= 6.5 needs libxcb-cursor0; minimal Ubuntu/Debian lack libxcb-icccm4,
libxcb-keysyms1, ...). Without them Qt prints a misleading hint and aborts the process (core
dump). ``check_platform()`` finds out first and returns one line saying which libraries are
missing and the apt-get command that installs them; the callers print it and exit 2.

How: ``ldd`` on the plugin lists unresolved libraries (about 20 ms); if none, a child process
creates a QGuiApplication on xcb (so an abort cannot kill us) and its output is parsed. A
passing child is remembered (cache file keyed by the plugin and the ldd output), so later
starts cost only the ldd call.

Command line (install and demo scripts): ``python -m fusionviewer.gui.platform_check
[--libs-only]``; the frozen bundle runs it with FUSIONVIEWER_PLATFORM_CHECK=full|libs set
(packaging/launcher.py). Exit 0 when a window can open, 2 with the message otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PROBE_ENV = "FUSIONVIEWER_PLATFORM_CHECK"  # set: the frozen bundle runs the check, not the app
PROBE_MARK = "FUSIONVIEWER_XCB_OK"
PROBE_CODE = (
    "import sys\n"
    "from PySide6.QtGui import QGuiApplication\n"
    "app = QGuiApplication([sys.argv[0] or 'fusionviewer'])\n"
    f"print('{PROBE_MARK}', app.platformName(), flush=True)\n"
)
PROBE_TIMEOUT_S = 30
CACHE_NAME = "xcb-check.json"

# soname (without version) -> Debian/Ubuntu package. Everything libqxcb.so and libQt6XcbQpa
# link (PySide6 6.5-6.11), plus the GL/EGL integrations Qt loads with them.
PACKAGES = {
    "libxcb-cursor": "libxcb-cursor0",
    "libxcb-icccm": "libxcb-icccm4",
    "libxcb-keysyms": "libxcb-keysyms1",
    "libxcb-image": "libxcb-image0",
    "libxcb-render-util": "libxcb-render-util0",
    "libxcb-xkb": "libxcb-xkb1",
    "libxkbcommon-x11": "libxkbcommon-x11-0",
    "libxkbcommon": "libxkbcommon0",
    "libxcb-shape": "libxcb-shape0",
    "libxcb-randr": "libxcb-randr0",
    "libxcb-xinerama": "libxcb-xinerama0",
    "libxcb-xfixes": "libxcb-xfixes0",
    "libxcb-shm": "libxcb-shm0",
    "libxcb-sync": "libxcb-sync1",
    "libxcb-render": "libxcb-render0",
    "libxcb-util": "libxcb-util1",
    "libxcb-glx": "libxcb-glx0",
    "libxcb-xinput": "libxcb-xinput0",
    "libxcb": "libxcb1",
    "libX11-xcb": "libx11-xcb1",
    "libX11": "libx11-6",
    "libXau": "libxau6",
    "libXdmcp": "libxdmcp6",
    "libXext": "libxext6",
    "libXrender": "libxrender1",
    "libSM": "libsm6",
    "libICE": "libice6",
    "libEGL": "libegl1",
    "libGL": "libgl1",
    "libGLX": "libglx0",
    "libOpenGL": "libopengl0",
    "libGLdispatch": "libglvnd0",
    "libfontconfig": "libfontconfig1",
    "libfreetype": "libfreetype6",
    "libdbus-1": "libdbus-1-3",
    "libglib-2.0": "libglib2.0-0",
    "libgthread-2.0": "libglib2.0-0",
}
# What the README and scripts/test.sh install for source installs (libqxcb.so's direct needs).
XCB_RUNTIME_PACKAGES = ["libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                        "libxcb-render-util0", "libxcb-xkb1", "libxkbcommon-x11-0",
                        "libxcb-shape0", "libxcb-randr0", "libxcb-xinerama0", "libegl1",
                        "libgl1", "libfontconfig1", "libdbus-1-3"]

_LDD_MISSING = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.M)
_DLOPEN_MISSING = re.compile(r"(lib[\w.+-]+?\.so[.\d]*): cannot open shared object file")
_NO_DISPLAY = re.compile(r"could not connect to display ?(\S*)")


# --- parsing (pure functions, unit-tested with recorded outputs) ---------------------------------

def parse_ldd(text: str) -> list[str]:
    """The unresolved sonames in ``ldd`` output, in order, without repeats."""
    return list(dict.fromkeys(_LDD_MISSING.findall(text)))


def parse_probe_output(text: str) -> tuple[list[str], str | None]:
    """(missing sonames, other problem) from the output of a failed QGuiApplication start.

    Qt names the library that failed to load only with QT_DEBUG_PLUGINS=1 ("libxcb-icccm.so.4:
    cannot open shared object file"). Its "xcb-cursor0 or libxcb-cursor0 is needed" hint comes
    with every failed xcb load, whatever is missing, so it is not taken as a diagnosis.
    """
    missing = list(dict.fromkeys(_DLOPEN_MISSING.findall(text)))
    if missing:
        return missing, None
    m = _NO_DISPLAY.search(text)
    if m:
        return [], f"could not connect to display {m.group(1) or os.environ.get('DISPLAY', '')}" \
            .strip()
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.startswith(("qt.core.", "qt.qpa.plugin: From 6.5.0"))
             and "propagateSizeHints" not in ln]
    interesting = [ln for ln in lines if re.search(r"xcb|platform plugin|error|fail", ln, re.I)]
    return [], (interesting or lines or ["no output"])[-1]


def package_for(soname: str) -> str | None:
    """The Debian/Ubuntu package that ships ``soname`` (libxcb-icccm.so.4 -> libxcb-icccm4)."""
    stem = soname.split(".so")[0]
    return PACKAGES.get(stem)


def missing_message(sonames: list[str]) -> str:
    """The one line the user sees."""
    packages = list(dict.fromkeys(p for p in map(package_for, sonames) if p))
    unknown = [s for s in sonames if package_for(s) is None]
    text = f"cannot open a window: missing system libraries {', '.join(sonames)}"
    if packages:
        text += f"; install with: sudo apt-get install {' '.join(packages)}"
        if unknown:
            text += f" (and the packages that provide {', '.join(unknown)})"
        if not shutil.which("apt-get"):
            text += " (Debian/Ubuntu names; use your distribution's packages of the same names)"
    else:
        text += "; install the packages that provide them (e.g. found with `apt-file search`)"
    return text


# --- the check ---------------------------------------------------------------------------------

def needs_check(env: dict | None = None, platform: str | None = None) -> bool:
    """True when Qt would use its xcb plugin: Linux, an X display, no other platform chosen."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen == "xcb" and bool(env.get("DISPLAY"))
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return False  # Qt picks its wayland plugin first there
    return bool(env.get("DISPLAY"))


def qxcb_plugin() -> Path | None:
    """PySide6's platforms/libqxcb.so (from source or the frozen bundle), without importing Qt."""
    roots = []
    if getattr(sys, "frozen", False):
        roots.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "PySide6")
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    for root in roots:
        plugin = root / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def ldd(path: Path) -> str | None:
    """``ldd path`` output, or None when ldd is not available or fails."""
    if not shutil.which("ldd"):
        return None
    try:
        proc = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout + proc.stderr if proc.returncode == 0 else None


def probe(timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """Start a QGuiApplication on xcb in a child process: (it worked, its output)."""
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", QT_DEBUG_PLUGINS="1")
    env.pop(PROBE_ENV, None)
    if getattr(sys, "frozen", False):  # the bundle has no `python -c`: launcher.py runs it
        cmd = [sys.executable]
        env[PROBE_ENV] = "probe"
    else:
        cmd = [sys.executable, "-c", PROBE_CODE]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"") + (exc.stderr or b"")
        return True, out.decode(errors="replace") if isinstance(out, bytes) else out
    except OSError as exc:
        return True, str(exc)  # cannot tell: let Qt try
    out = proc.stdout + proc.stderr
    return proc.returncode == 0 and PROBE_MARK in proc.stdout, out


def _cache_file() -> Path:
    folder = os.environ.get("FUSIONVIEWER_SETTINGS_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = os.path.join(base, "fusionviewer")
    return Path(folder) / CACHE_NAME


def _cache_key(plugin: Path, ldd_text: str | None) -> str:
    """The plugin, the libraries it resolves to (load addresses dropped) and the display."""
    stat = plugin.stat()
    resolved = re.sub(r"\s*\(0x[0-9a-fA-F]+\)", "", ldd_text or "")
    raw = f"{plugin}|{stat.st_size}|{stat.st_mtime_ns}|{resolved}|{os.environ.get('DISPLAY')}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _cached_ok(key: str) -> bool:
    try:
        return json.loads(_cache_file().read_text()).get("ok") == key
    except (OSError, ValueError, AttributeError):
        return False


def _remember_ok(key: str) -> None:
    try:
        path = _cache_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"ok": key}))
    except OSError:
        pass  # only a cache


def check_platform(libs_only: bool = False, force: bool = False) -> str | None:
    """None when Qt can open a window (or Qt will not use xcb), else the problem in one line."""
    if not force and not needs_check():
        return None
    plugin = qxcb_plugin()
    if plugin is None:
        return None  # not our PySide6 layout: let Qt report
    ldd_text = ldd(plugin)
    missing = parse_ldd(ldd_text or "")
    if missing:
        return missing_message(missing)
    if libs_only:
        return None
    key = _cache_key(plugin, ldd_text)
    if _cached_ok(key):
        return None
    ok, output = probe()
    if ok:
        _remember_ok(key)
        return None
    missing, other = parse_probe_output(output)
    if missing:
        return missing_message(missing)
    return f"cannot open a window: the Qt xcb platform failed to start ({other})"


def tell_desktop(problem: str) -> bool:
    """Started from the menu or a file manager (startup notification set, no terminal), the
    message on stderr is lost: show it with a dialog tool that needs no Qt. True if shown."""
    if sys.stderr is not None and sys.stderr.isatty():
        return False
    if not (os.environ.get("DESKTOP_STARTUP_ID") or os.environ.get("XDG_ACTIVATION_TOKEN")):
        return False
    text = f"FusionViewer {problem}"
    for cmd in (["zenity", "--error", "--no-markup", "--title", "FusionViewer", "--text", text],
                ["kdialog", "--title", "FusionViewer", "--error", text],
                ["notify-send", "--urgency=critical", "FusionViewer", text],
                ["xmessage", "-center", text]):
        if shutil.which(cmd[0]):
            try:
                subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
                return True
            except OSError:
                continue
    return False


def main(argv: list[str] | None = None) -> int:
    """``python -m fusionviewer.gui.platform_check [--libs-only]``: exit 0, or 2 and why."""
    argv = sys.argv[1:] if argv is None else argv
    libs_only = "--libs-only" in argv
    if not libs_only and not needs_check():
        print("fusionviewer: platform check not needed (Qt will not use X11/xcb here)")
        return 0
    problem = check_platform(libs_only=libs_only, force=True)
    if problem:
        print(f"fusionviewer: {problem}", file=sys.stderr)
        return 2
    print("fusionviewer: platform check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
