"""Time PACS transfers on loopback against a throw-away Orthanc; prints JSON.

Usage: python benchmarks/bench_pacs.py [--slices 100] [--repeat 3]
Needs Debian's orthanc + orthanc-dicomweb (scripts/test.sh installs them when run as root).
A CT and an MR series of ``--slices`` 256 x 256 16-bit slices (Harvard ct-mri case 2, cycled)
are stored, then: retrieving the CT series by C-GET, C-MOVE and WADO-RS, and sending a freshly
exported fused series (pipeline, method "average", DICOM Secondary Capture) by C-STORE and
STOW-RS (new UIDs each time, so the archive really writes). Seconds, median over ``--repeat``.
Orthanc runs with TCP_NODELAY=1 (see tests/pacs/orthanc_server.py) unless --orthanc-nagle.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "pacs"))

from dicom_data import build_ct_mr_study  # noqa: E402
from orthanc_server import ORTHANC_AET, OUR_AET, PASSWORD, USER, start_orthanc  # noqa: E402

from fusionviewer.pacs import PacsClient, PacsServer  # noqa: E402
from fusionviewer.pipeline import FusionJob, FusionOptions, export_result  # noqa: E402


def _median_time(fn, repeat: int) -> float:
    times = []
    for k in range(repeat):
        start = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--orthanc-nagle", action="store_true",
                    help="leave DCMTK's Nagle algorithm on in Orthanc (its default without the "
                         "TCP_NODELAY=1 environment variable): C-STORE then waits ~40 ms per "
                         "instance for delayed ACKs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pacs-") as tmp:
        tmp = Path(tmp)
        orthanc = start_orthanc(tmp / "orthanc", tcp_nodelay=not args.orthanc_nagle)
        try:
            dimse = PacsServer(name="bench", host="127.0.0.1", port=orthanc.dicom_port,
                               ae_title=ORTHANC_AET, our_ae_title=OUR_AET,
                               our_port=orthanc.move_port)
            web = PacsServer(name="bench-web", url=orthanc.dicomweb_url, username=USER,
                             password=PASSWORD)
            move = dataclasses.replace(dimse, retrieve="move")
            data = build_ct_mr_study(tmp / "src", n_slices=args.slices)
            series_mb = sum(p.stat().st_size for p in data.ct_files) / 1e6
            start = time.perf_counter()
            assert PacsClient(dimse).store(data.ct_files + data.mr_files).ok
            store_src = round(time.perf_counter() - start, 3)

            results = {}
            for name, server in (("c-get", dimse), ("c-move", move), ("wado-rs", web)):
                def pull(k, server=server, name=name):
                    files = PacsClient(server, cache_dir=tmp / f"cache-{name}-{k}") \
                        .retrieve_series(data.study_uid, data.ct_uid)
                    assert len(files) == args.slices
                results[f"retrieve_{name}_s"] = _median_time(pull, args.repeat)

            ct_dir, mr_dir = data.ct_files[0].parent, data.mr_files[0].parent
            fusion = FusionJob([ct_dir, mr_dir], FusionOptions(method="average")).run()
            for name, server in (("c-store", dimse), ("stow-rs", web)):
                exports = [export_result(fusion, tmp / f"fused-{name}-{k}", fmt="dicom")
                           for k in range(args.repeat)]

                def push(k, server=server, exports=exports):
                    report = PacsClient(server).store(exports[k])
                    assert report.ok and len(report.results) == args.slices

                results[f"send_fused_{name}_s"] = _median_time(push, args.repeat)
            fused_mb = sum(p.stat().st_size for p in exports[0]) / 1e6
        finally:
            orthanc.stop()
    print(json.dumps({
        "benchmark": "pacs loopback transfers (Orthanc 1.10 on 127.0.0.1)",
        "slices": args.slices, "image": "256x256 16-bit", "repeat": args.repeat,
        "orthanc_tcp_nodelay": not args.orthanc_nagle,
        "series_mb": round(series_mb, 1), "fused_series_mb": round(fused_mb, 1),
        "store_ct_and_mr_c-store_s": store_src, **results,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
    }, indent=2))


if __name__ == "__main__":
    main()
