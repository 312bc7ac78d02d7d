"""Batch on Dask against the serial batch: wall time of N Harvard CT-MRI pairs (256 x 256, rigid
registration, CNN) serially in-process, on a local cluster of 1 and of 2 workers, and the
per-task overhead of Dask; JSON on stdout.

Usage: python benchmarks/bench_cohort.py [--pairs 40] [--noop 200]
Walls include starting and closing the local cluster (reported apart as cluster_start_close_s).
CPU: the client's process time plus that of the reaped worker processes (the cluster's
start-up included), per pair: a measure that the load of other jobs does not change much.
Per-task overhead: (a) a no-op task's round trip on a 1-worker cluster (submit -> result, one
at a time) and the throughput of many no-op tasks; (b) (wall of 1 worker - serial wall -
cluster start/close) / pairs. ``identical``: outputs byte-identical to the serial run.
``workers_2_torch_1_thread``: 2 workers with PyTorch on one thread each (FUSIONVIEWER_THREADS=1),
which is not byte-identical to the serial batch (see README, Cohorts). Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fusionviewer.pipeline import FusionOptions, run_batch  # noqa: E402

HARVARD = ROOT.parent / "shared" / "data" / "harvard" / "ct-mri"


def make_folders(root: Path, n: int) -> tuple[Path, Path]:
    """ct/ and mri/ with the first n Harvard CT-MRI pairs (same names)."""
    names = sorted(p.name for p in (HARVARD / "ct").glob("*.png"))[:n]
    if len(names) < n:
        raise SystemExit(f"only {len(names)} pairs in {HARVARD}")
    a, b = root / "ct", root / "mri"
    a.mkdir()
    b.mkdir()
    for name in names:
        shutil.copy(HARVARD / "ct" / name, a / name)
        shutil.copy(HARVARD / "mri" / name, b / name)
    return a, b


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "summary.csv"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # reaped worker processes
    return usage.ru_utime + usage.ru_stime


def run(a: Path, b: Path, out: Path, workers: int | None) -> dict:
    options = FusionOptions(register="rigid")
    load0 = os.getloadavg()[0]
    w, c, k = time.perf_counter(), time.process_time(), _children_cpu()
    rows = run_batch([a, b], out, options, workers=workers)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    workers_cpu = _children_cpu() - k
    return {"workers": workers or "serial", "wall_s": round(wall, 2),
            "client_cpu_s": round(cpu, 2), "workers_cpu_s": round(workers_cpu, 2),
            "cpu_s_per_pair": round((cpu + workers_cpu) / len(rows), 3),
            "ok": sum(r.status == "ok" for r in rows),
            "pair_seconds_sum": round(sum(r.seconds for r in rows), 2),
            "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2)}


def cluster_start_close(workers: int) -> float:
    from fusionviewer.pipeline.cohort import dask_client

    t = time.perf_counter()
    with dask_client(workers=workers) as client:
        client.submit(int, 1).result()  # the workers are up and run tasks
    return time.perf_counter() - t


def noop_overhead(n: int) -> dict:
    from fusionviewer.pipeline.cohort import dask_client

    with dask_client(workers=1) as client:
        client.submit(int, 0, pure=False).result()  # warm
        t = time.perf_counter()
        for i in range(n):
            client.submit(int, i, pure=False).result()
        one_by_one = (time.perf_counter() - t) / n
        t = time.perf_counter()
        futures = [client.submit(int, i, pure=False) for i in range(n)]
        client.gather(futures)
        throughput = (time.perf_counter() - t) / n
    return {"noop_round_trip_ms": round(1000 * one_by_one, 2),
            "noop_per_task_in_bulk_ms": round(1000 * throughput, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--noop", type=int, default=200)
    args = parser.parse_args()
    import torch

    report: dict = {"benchmark": "cohort", "pairs": args.pairs,
                    "options": "rigid registration, CNN, 256 x 256 CT-MRI PNG",
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench_cohort_") as tmp:
        root = Path(tmp)
        a, b = make_folders(root, args.pairs)
        serial = run(a, b, root / "serial", None)
        reference = outputs(root / "serial")
        report["runs"].append(serial)
        for workers in (1, 2):
            out = root / f"w{workers}"
            entry = run(a, b, out, workers)
            entry["identical"] = outputs(out) == reference
            entry["speedup_vs_serial"] = round(serial["wall_s"] / entry["wall_s"], 2)
            report["runs"].append(entry)
        os.environ["FUSIONVIEWER_THREADS"] = "1"  # workers inherit it
        try:
            entry = run(a, b, root / "w2t1", 2)
        finally:
            del os.environ["FUSIONVIEWER_THREADS"]
        different = [k for k, v in outputs(root / "w2t1").items() if reference.get(k) != v]
        entry.update(workers="2 (torch 1 thread)", identical=not different,
                     outputs_differing=len(different),
                     speedup_vs_serial=round(serial["wall_s"] / entry["wall_s"], 2))
        report["runs"].append(entry)
    start = {w: round(cluster_start_close(w), 2) for w in (1, 2)}
    report["cluster_start_close_s"] = start
    w1 = next(r for r in report["runs"] if r["workers"] == 1)
    report["overhead"] = {
        **noop_overhead(args.noop),
        "per_pair_s_workers1_minus_serial": round(
            (w1["wall_s"] - serial["wall_s"] - start[1]) / args.pairs, 3)}
    report["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
