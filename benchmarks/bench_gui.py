"""Longest GUI event-loop stall while the app fuses a 256 x 256 x 50 volume pair; prints JSON.

Usage: python benchmarks/bench_gui.py [--method cnn|gff|laplacian|average] [--slices 50]
       [--size 256] [--layout side-by-side|mpr]

``--layout mpr --size 512 --slices 200`` measures the three-plane layout on a 512 x 512 x 200
pair (the sample slices upsampled 2x in-plane), including 20 steps of scrolling through the
axial plane (each moves the crosshair and redraws every plane and image).

The CT-MRI sample volumes in resources/samples/nifti/ct-mri-34 (256 x 256 x 8) are tiled to
``--slices`` slices and written as NIfTI into a temporary folder; the main window (offscreen)
loads them through the drop code path and fuses them in its worker. A QTimer firing every 10 ms
on the GUI thread records the gaps between its ticks: a gap well above 10 ms means the event
loop was blocked (target: longest stall < 100 ms). Reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

TICK_MS = 10
TARGET_MS = 100.0


def make_volumes(folder: Path, slices: int, size: int = 256) -> list[Path]:
    """Tile the bundled 8-slice CT and MR volumes to ``slices`` slices (NIfTI files), upsampled
    in-plane (pixel repetition) to ``size`` when larger than 256."""
    import SimpleITK as sitk

    from fusionviewer.paths import samples_dir

    out = []
    for name in ("ct", "mr"):
        src = sitk.ReadImage(str(samples_dir() / "nifti" / "ct-mri-34" / f"{name}.nii.gz"))
        arr = sitk.GetArrayFromImage(src)
        reps = int(np.ceil(slices / arr.shape[0]))
        vol = np.concatenate([arr] * reps, axis=0)[:slices]
        factor = max(1, size // arr.shape[-1])
        if factor > 1:
            vol = np.repeat(np.repeat(vol, factor, axis=1), factor, axis=2)
        img = sitk.GetImageFromArray(vol)
        sx, sy, sz = src.GetSpacing()
        img.SetSpacing((sx / factor, sy / factor, sz))
        path = folder / f"{name}.nii.gz"
        sitk.WriteImage(img, str(path))
        out.append(path)
    return out


class StallMeter:
    """Gaps between ticks of a 10 ms QTimer on the GUI thread."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self.last) * 1000.0)
        self.last = now

    def start(self) -> None:
        self.gaps.clear()
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        g = np.asarray(self.gaps) if self.gaps else np.zeros(1)
        return {"max_stall_ms": round(float(g.max()), 1),
                "p99_gap_ms": round(float(np.percentile(g, 99)), 1),
                "median_gap_ms": round(float(np.median(g)), 1),
                "ticks": int(len(self.gaps)),
                "gaps_over_100ms": int((g > TARGET_MS).sum())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="cnn")
    parser.add_argument("--slices", type=int, default=50)
    parser.add_argument("--size", type=int, default=256, help="in-plane size (256 or 512)")
    parser.add_argument("--layout", default="side-by-side", choices=("side-by-side", "mpr"))
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FUSIONVIEWER_SETTINGS_DIR"] = tmp
        from fusionviewer.gui.app import create_window

        paths = make_volumes(Path(tmp), args.slices, args.size)
        t0 = time.perf_counter()
        win = create_window()  # starts the device probe (imports torch) in a worker
        win.quiet = True
        win.doc.set_display(layout=args.layout)
        win.resize(1600, 980)
        win.show()
        window_s = time.perf_counter() - t0
        meter = StallMeter()
        meter.start()
        while not win.device_text and time.perf_counter() - t0 < 120:
            app.processEvents()
            time.sleep(0.002)
        startup = dict(meter.stop(), seconds=round(time.perf_counter() - t0, 2),
                       window_created_s=round(window_s, 2))
        win.pipeline.auto_run.setChecked(False)
        win.pipeline.method.setCurrentIndex(win.pipeline.method.findData(args.method))
        loop = QEventLoop()
        errors: list[str] = []
        win.controller.error.connect(lambda t, m: (errors.append(m), loop.quit()))

        def wait(signal, timeout_s: float = 1800) -> None:
            signal.connect(loop.quit)
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            loop.exec()
            signal.disconnect(loop.quit)

        meter.start()
        t0 = time.perf_counter()
        win.load_paths([str(p) for p in paths], None)
        wait(win.controller.loadFinished)
        loading = dict(meter.stop(), seconds=round(time.perf_counter() - t0, 2))

        meter.start()
        t0 = time.perf_counter()
        win.controller.run_fusion()
        wait(win.controller.fusionFinished)
        fusion_s = time.perf_counter() - t0
        fusing = dict(meter.stop(), seconds=round(fusion_s, 2))

        meter.start()
        t0 = time.perf_counter()
        win.doc.set_slice(win.doc.slice_index + 1)  # slice change -> display + metrics
        wait(win.controller.metricsFinished)
        measuring = dict(meter.stop(), seconds=round(time.perf_counter() - t0, 2))

        meter.start()
        t0 = time.perf_counter()
        for _ in range(20):  # scrolling: wheel steps through the axial plane
            if args.layout == "mpr":
                mpr = win.viewer.mpr
                mpr.view(0, "axial").sliceStep.emit(1)
            else:
                win.doc.step_slice(1)
            app.processEvents()
        scroll_steps = 20
        t_scroll = time.perf_counter() - t0
        while time.perf_counter() - t0 < t_scroll + 0.2:
            app.processEvents()
        scrolling = dict(meter.stop(), steps=scroll_steps,
                         ms_per_step=round(t_scroll * 1000 / scroll_steps, 1))

        result = win.doc.result
        report = {
            "benchmark": "gui_event_loop_stall",
            "volume": [args.slices, args.size, args.size],
            "layout": args.layout,
            "method_requested": args.method,
            "method_used": getattr(result, "method", None),
            "notices": getattr(result, "notices", []),
            "errors": errors,
            "target_max_stall_ms": TARGET_MS,
            "startup_device_probe": startup,
            "loading": loading,
            "fusing": fusing,
            "slice_change_and_metrics": measuring,
            "scrolling": scrolling,
            "machine": f"{platform.machine()} {os.cpu_count()}-core CPU, {platform.system()}",
            "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
        }
        win.controller.shutdown(30_000)
        win.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
