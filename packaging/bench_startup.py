"""Start-up times of the built bundle, printed as JSON (run after packaging/build.sh).

    python packaging/bench_startup.py [--exe dist/FusionViewer/FusionViewer] [--runs 3]

Each command runs from an empty folder with no Python environment and QT_QPA_PLATFORM=offscreen:
`--version` (bundle unpack + CLI import), `--screenshot` with no images (the window is shown,
the app waits its fixed 0.5 s then saves and exits; reported minus that wait) and
`--demo --screenshot` (demo pair loaded, CNN fusion and metrics done, window saved). The first
run after a build is reported separately as "first" (page cache partly cold), then the median.
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


def timed(cmd: list[str], cwd: str) -> float:
    """Wall-clock seconds of one run; raises if the command fails."""
    env = {"HOME": cwd, "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", default=str(ROOT / "dist" / "FusionViewer" / "FusionViewer"))
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    exe = str(Path(opts.exe).resolve())
    cases = {
        "version_s": ([exe, "--version"], 0.0),
        "window_shown_s": ([exe, "--screenshot", "shot.png"], SHOT_WAIT_S),
        "first_fused_image_s": ([exe, "--demo", "--screenshot", "demo.png"], 0.0),
    }
    result: dict = {"exe": exe, "machine": f"{os.cpu_count()}-core CPU, {platform.machine()}",
                    "runs": opts.runs}
    with tempfile.TemporaryDirectory() as cwd:
        for name, (cmd, offset) in cases.items():
            times = [timed(cmd, cwd) - offset for _ in range(opts.runs)]
            result[name] = {"first": round(times[0], 2), "median": round(statistics.median(times), 2)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
