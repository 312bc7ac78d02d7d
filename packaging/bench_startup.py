"""Start-up times of the built bundle, printed as JSON (run after packaging/build.sh).

    python packaging/bench_startup.py [--exe dist/FusionViewer/FusionViewer] [--runs 3]

Each command runs from an empty folder with no Python environment and QT_QPA_PLATFORM=offscreen:
`--version` (bundle unpack + CLI import), `--screenshot` with no images (the window is shown,
the app waits its fixed 0.5 s then saves and exits; reported minus that wait) and
`--demo --screenshot` (demo pair loaded, CNN fusion and metrics done, window saved). The first
run is reported as "first" (with --cold: the bundle's files are evicted from the page cache
first, as after a reboot), then the median of all runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOT_WAIT_S = 0.5  # fusionviewer.gui.app: screenshot with no sources fires 500 ms after show


def timed(cmd: list[str], cwd: str, root: str | None = None) -> float:
    """Wall-clock seconds of one run; raises if the command fails."""
    env = {"HOME": cwd, "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}
    if root:  # other resources/ + models/ than the bundled ones (fusionviewer.paths.app_root)
        env["FUSIONVIEWER_ROOT"] = root
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return elapsed


def evict(folder: Path) -> None:
    """Drop the folder's files from the page cache (posix_fadvise DONTNEED; Linux)."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", default=str(ROOT / "dist" / "FusionViewer" / "FusionViewer"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="evict the bundle before each first run")
    ap.add_argument("--root", help="set FUSIONVIEWER_ROOT (default: the bundle's own files)")
    opts = ap.parse_args()
    exe = str(Path(opts.exe).resolve())
    cases = {
        "version_s": ([exe, "--version"], 0.0),
        "window_shown_s": ([exe, "--screenshot", "shot.png"], SHOT_WAIT_S),
        "first_fused_image_s": ([exe, "--demo", "--screenshot", "demo.png"], 0.0),
    }
    result: dict = {"exe": exe, "machine": f"{os.cpu_count()}-core CPU, {platform.machine()}",
                    "runs": opts.runs, "root": opts.root or "bundled", "cold_first_run": opts.cold}
    with tempfile.TemporaryDirectory() as cwd:
        for name, (cmd, offset) in cases.items():
            if opts.cold:
                evict(Path(exe).parent)
            times = [timed(cmd, cwd, opts.root) - offset for _ in range(opts.runs)]
            result[name] = {"first": round(times[0], 2),
                            "median": round(statistics.median(times), 2)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
