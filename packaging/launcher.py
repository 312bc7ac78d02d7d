"""Entry point of the frozen FusionViewer bundle: ``fusionviewer.cli:main`` with sane streams."""

from __future__ import annotations

import multiprocessing
import os
import sys


def _attach_streams() -> None:
    """Give a windowed build (no console on Windows/macOS) usable stdout/stderr."""
    if sys.platform == "win32" and (sys.stdout is None or sys.stderr is None):
        # Started from cmd/PowerShell: print into that console so --version/--selftest are visible.
        try:
            import ctypes

            if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
                sys.stdout = open("CONOUT$", "w", encoding="utf-8")
                sys.stderr = open("CONOUT$", "w", encoding="utf-8")
        except OSError:
            pass
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # double-clicked: no console at all; tqdm etc. need a file
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def _platform_check(mode: str) -> int:
    """FUSIONVIEWER_PLATFORM_CHECK=probe|libs|full: the bundle checks it can open a window.

    ``probe`` is the child the app's own check starts (a QGuiApplication on xcb, which aborts
    when X libraries are missing); ``libs`` (install.sh) and ``full`` print the verdict.
    """
    from fusionviewer.gui import platform_check

    if mode == "probe":
        exec(compile(platform_check.PROBE_CODE, "<xcb probe>", "exec"), {})
        return 0
    return platform_check.main(["--libs-only"] if mode == "libs" else [])


def main() -> int:
    multiprocessing.freeze_support()
    _attach_streams()
    check = os.environ.pop("FUSIONVIEWER_PLATFORM_CHECK", "")
    if check:
        return _platform_check(check)
    # macOS Finder may pass a process serial number on old systems; it is not a file.
    argv = [a for a in sys.argv[1:] if not a.startswith("-psn_")]
    from fusionviewer.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
