"""Memory of the DICOM loader on a generated CT series, measured by tracemalloc in a fresh
process: loading peaks at no more than 3x the voxel data (int16 in, int16 out); ``info``
streams pixels and never holds the volume."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from harvard_data import REPO
from fusionviewer.io.synthetic import write_series

SHAPE = (64, 512, 512)  # 32 MiB of int16 voxels
_PROBE = """
import json, sys, tracemalloc
from fusionviewer.io import describe, load_image
what, folder = sys.argv[1], sys.argv[2]
describe(folder)  # warm-up: pydicom's lazy imports are not the loader's memory
tracemalloc.start()
if what == "load":
    image = load_image(folder)
    out = {"dtype": str(image.array.dtype), "shape": list(image.array.shape),
           "nbytes": image.array.nbytes, "min": float(image.array.min())}
else:
    info = describe(folder)
    out = {"dtype": info["dtype"], "size": info["size"], "min": info["min"], "max": info["max"]}
out["peak"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("memory") / "ct"
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 4096, SHAPE, dtype=np.uint16)  # 12 bits stored, HU = v - 1024
    write_series(stored, folder, modality="CT", rescale=(1.0, -1024.0), bits_stored=12,
                 pixel_spacing=(0.7, 0.7), slice_spacing=2.0)
    return folder, stored


def _probe(what: str, folder) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, what, str(folder)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loader_peak_within_three_times_the_voxels(ct_series):
    folder, stored = ct_series
    voxel_bytes = stored.size * 2
    out = _probe("load", folder)
    assert out["dtype"] == "int16" and out["shape"] == list(SHAPE)
    assert out["nbytes"] == voxel_bytes and out["min"] == float(stored.min()) - 1024
    assert out["peak"] <= 3 * voxel_bytes, out["peak"] / voxel_bytes


def test_info_does_not_hold_the_volume(ct_series):
    folder, stored = ct_series
    out = _probe("info", folder)
    assert out["dtype"] == "int16" and out["size"] == [512, 512, SHAPE[0]]
    assert out["min"] == float(stored.min()) - 1024 and out["max"] == float(stored.max()) - 1024
    assert out["peak"] < 0.25 * stored.size * 2, out["peak"] / (stored.size * 2)
