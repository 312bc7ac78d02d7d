"""Fuzzing: mutated real sample files must load to an Image or an InputError, fast and small.

Hypothesis mutates a DICOM slice, a NIfTI volume, a PNG and an MHA written from the NIfTI (byte
flips, truncation, header fields set to odd values); a worker subprocess loads each file with
``fusionviewer.io.load_image`` under a 10 s limit and a 1 GiB memory limit and reports back.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import select
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "resources" / "samples"
DICOM = SAMPLES / "dicom" / "ct-mri-34" / "ct" / "IM_0001.dcm"
NIFTI = SAMPLES / "nifti" / "ct-mri-34" / "ct.nii.gz"
PNG = SAMPLES / "ct-mri" / "ct" / "34014.png"
CASE_SECONDS = 10.0
CASE_MEMORY = 1 << 30  # bytes of memory (address space, peak RSS) a case may add to the worker's
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))  # per format (4 formats)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

WORKER = r"""
import json, os, resource, sys, time, traceback
from fusionviewer.errors import InputError
from fusionviewer.io import load_image
vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize")) * 1024
limit = vm + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
err = sys.argv[2]
print("ready", flush=True)
for line in sys.stdin:
    path = line.strip()
    before = os.path.getsize(err)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t = time.perf_counter()
    try:
        image = load_image(path)
        outcome, text = "image", repr(image.shape)
    except InputError as exc:
        outcome, text = "input_error", str(exc)
    except BaseException as exc:
        outcome, text = "crash", traceback.format_exc()[-3000:]
    sys.stderr.flush()
    with open(err, "rb") as fh:
        fh.seek(before)
        leaked = fh.read(2000).decode("utf-8", "replace")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak
    print("@@" + json.dumps({"outcome": outcome, "text": text, "seconds": time.perf_counter() - t,
                             "grown": grown, "stderr": leaked}), flush=True)
"""


class Worker:
    """A subprocess that loads files on request; restarted after a hang or a hard crash."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cases = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        err = self.folder / "worker.stderr"
        err.write_bytes(b"")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(CASE_MEMORY), str(err)], cwd=REPO, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(err, "ab"),
            env={**os.environ, "OMP_NUM_THREADS": "1", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1"})
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def load(self, data: bytes, suffix: str) -> dict:
        """Write ``data`` as case<suffix>, have the worker load it; the worker's report."""
        if self.proc is None:
            self.start()
        path = self.folder / f"case{suffix}"
        path.write_bytes(data)
        self.cases += 1
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], CASE_SECONDS)
            if not ready:
                self.stop()
                return {"outcome": "hang", "text": f"no answer in {CASE_SECONDS} s"}
            line = self.proc.stdout.readline()
            if not line:
                code = self.proc.wait()
                self.proc = None
                return {"outcome": "died", "text": f"worker exit code {code}"}
            if line.startswith("@@"):
                return json.loads(line[2:])


@pytest.fixture(scope="module")
def worker(tmp_path_factory, request):
    w = Worker(tmp_path_factory.mktemp("fuzz"))
    yield w
    w.stop()
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print(f"\nfuzz: {w.cases} cases")


class Case:
    """One mutated file; its repr (what Hypothesis prints for a failure) is the recipe only."""

    def __init__(self, data: bytes, suffix: str, recipe: list) -> None:
        self.data, self.suffix, self.recipe = data, suffix, recipe

    def __repr__(self) -> str:
        return f"Case({self.suffix!r}, {len(self.data)} bytes, {self.recipe})"


def check(worker: Worker, case: Case) -> None:
    """The case must end in an Image or a one-line InputError, within the limits, silently."""
    report = worker.load(case.data, case.suffix)
    outcome, text = report["outcome"], report["text"]
    assert outcome in ("image", "input_error"), f"{outcome}: {text}"
    if outcome == "input_error":
        message = text.split(": ", 1)[1] if ": " in text else ""
        assert message.strip() and "\n" not in text, text
        assert "bad_alloc" not in text and "MemoryError" not in text, text
    assert report["seconds"] < CASE_SECONDS, report
    assert report["grown"] < CASE_MEMORY, report  # the peak RSS this case added
    assert report["stderr"] == "", f"stderr leak: {report['stderr']}"


# --- mutations ------------------------------------------------------------------------------

ODD_INTS = st.sampled_from([0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 17, 24, 32, 64, 255, 256, 257, 4096,
                            32767, 65535, -1, -2, -32768, 2 ** 31 - 1, -2 ** 31])
ODD_FLOATS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, 1e30, 3.4e38, -3.4e38,
                              float("nan"), float("inf"), float("-inf"), 352.0, 348.0, 1e9])


@st.composite
def byte_edits(draw, data: bytes, header: int, recipe: list) -> bytes:
    """Set a few bytes (half of them in the first ``header`` bytes), then maybe truncate."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        span = header if draw(st.booleans()) else len(out)
        pos = draw(st.integers(0, max(0, min(span, len(out)) - 1)))
        out[pos] = draw(st.integers(0, 255))
        recipe.append(("byte", pos, out[pos]))
    if draw(st.integers(0, 3)) == 0:
        out = out[:draw(st.integers(0, len(out)))]
        recipe.append(("cut", len(out)))
    return bytes(out)


# NIfTI-1 header fields: name -> (offset, struct format of one value, count)
NIFTI_FIELDS = {
    "sizeof_hdr": (0, "i", 1), "dim": (40, "h", 8), "datatype": (70, "h", 1),
    "bitpix": (72, "h", 1), "pixdim": (76, "f", 8), "vox_offset": (108, "f", 1),
    "scl_slope": (112, "f", 1), "scl_inter": (116, "f", 1), "qform_code": (252, "h", 1),
    "sform_code": (254, "h", 1), "quatern": (256, "f", 6), "srow": (280, "f", 12),
}


@st.composite
def nifti_case(draw, raw: bytes) -> Case:
    data, recipe = bytearray(raw), []
    for name in draw(st.lists(st.sampled_from(sorted(NIFTI_FIELDS)), max_size=3)):
        offset, fmt, count = NIFTI_FIELDS[name]
        index = draw(st.integers(0, count - 1))
        value = draw(ODD_FLOATS if fmt == "f" else ODD_INTS)
        if fmt == "h":
            value = int(np.clip(value, -32768, 32767))
        struct.pack_into("<" + fmt, data, offset + index * struct.calcsize(fmt), value)
        recipe.append((f"{name}[{index}]", value))
    data = draw(byte_edits(bytes(data), 352, recipe))
    if draw(st.booleans()):
        return Case(gzip.compress(data, compresslevel=1, mtime=0), ".nii.gz", recipe)
    return Case(data, ".nii", recipe)


DICOM_VALUES = {
    "Rows": ODD_INTS, "Columns": ODD_INTS, "BitsAllocated": ODD_INTS, "BitsStored": ODD_INTS,
    "HighBit": ODD_INTS, "PixelRepresentation": ODD_INTS, "SamplesPerPixel": ODD_INTS,
    "NumberOfFrames": st.sampled_from(["0", "-1", "2", "1000000000", "x", ""]),
    "PhotometricInterpretation": st.sampled_from(["MONOCHROME1", "RGB", "PALETTE COLOR",
                                                  "YBR_FULL", "XYZ", ""]),
    "PixelSpacing": st.sampled_from([["0", "0"], ["nan", "1"], ["-1", "1"], ["inf", "1"],
                                     ["1"], ["abc", "1"], ["1e-9", "1e9"]]),
    "ImageOrientationPatient": st.sampled_from([["0"] * 6, ["1", "0", "0", "1", "0", "0"],
                                                ["nan"] * 6, ["1", "0", "0", "0", "1"],
                                                ["2", "0", "0", "0", "3", "0"],
                                                ["1", "0", "0", "0.1", "1", "0"]]),
    "ImagePositionPatient": st.sampled_from([["nan", "0", "0"], ["inf", "0", "0"], ["1", "2"],
                                             ["1e300", "0", "0"]]),
    "SliceThickness": st.sampled_from(["0", "-1", "nan", "inf", "x"]),
    "SpacingBetweenSlices": st.sampled_from(["0", "-2", "nan"]),
    "RescaleSlope": st.sampled_from(["0", "nan", "inf", "1e30", "x", "-1"]),
    "RescaleIntercept": st.sampled_from(["nan", "1e38", "x"]),
    "WindowWidth": st.sampled_from(["0", "-1", "nan"]),
    "TransferSyntaxUID": st.sampled_from(["1.2.840.10008.1.2", "1.2.840.10008.1.2.2",
                                          "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.90",
                                          "1.2.840.10008.1.2.5", "1.2.3.4"]),
}


@st.composite
def dicom_case(draw, raw: bytes) -> Case:
    import pydicom
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    ds, recipe = pydicom.dcmread(io.BytesIO(raw)), []
    for key in draw(st.lists(st.sampled_from(sorted(DICOM_VALUES)), max_size=3)):
        value = draw(DICOM_VALUES[key])
        recipe.append((key, value))
        if key == "TransferSyntaxUID":
            ds.file_meta.TransferSyntaxUID = value
            continue
        tag = Tag(tag_for_keyword(key))
        vr = dictionary_VR(tag)
        if vr == "US":  # the odd value's 16 low bits, as stored
            body = struct.pack("<H", int(value) & 0xFFFF)
        else:  # text values written as given (nan, x, too few numbers...), even length
            body = "\\".join(value if isinstance(value, list) else [str(value)]).encode()
            body += b" " * (len(body) % 2)
        ds[tag] = RawDataElement(tag, vr, len(body), body, 0, False, True)
    if draw(st.booleans()):
        for key in draw(st.lists(st.sampled_from(["PixelSpacing", "ImageOrientationPatient",
                                                  "Rows", "PixelData", "SOPClassUID",
                                                  "BitsAllocated"]), max_size=2)):
            if key in ds:
                del ds[key]
                recipe.append(("delete", key))
    buf = io.BytesIO()
    try:
        ds.save_as(buf, enforce_file_format=False)
    except Exception:  # a dataset pydicom cannot write at all: fall back to the raw bytes
        buf = io.BytesIO(raw)
    data = draw(byte_edits(buf.getvalue(), 1200, recipe))
    return Case(data, draw(st.sampled_from([".dcm", ".dcm", ""])), recipe)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@st.composite
def png_case(draw, raw: bytes) -> Case:
    data, recipe = bytearray(raw), []
    if draw(st.booleans()):  # rewrite IHDR (width, height, depth, colour type) with a valid CRC
        width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
        width = draw(st.sampled_from([width, 0, 1, 65535, 2 ** 31 - 1]))
        height = draw(st.sampled_from([height, 0, 1, 65535, 2 ** 31 - 1]))
        depth = draw(st.sampled_from([depth, 1, 2, 4, 16, 3, 255]))
        colour = draw(st.sampled_from([colour, 2, 3, 4, 6, 5]))
        body = struct.pack(">IIBB", width, height, depth, colour) + bytes(data[26:29])
        data[8:33] = _png_chunk(b"IHDR", body)
        recipe.append(("IHDR", width, height, depth, colour))
    data = draw(byte_edits(bytes(data), 64, recipe))
    return Case(data, draw(st.sampled_from([".png", ".tif", ""])), recipe)


MHA_FIELDS = {
    "NDims": ["0", "1", "2", "4", "-1", "x"],
    "DimSize": ["0 0 0", "30000 30000 30000", "256 256", "-1 256 8", "1 1 1", "256 256 8 2"],
    "ElementSpacing": ["0 0 0", "nan 1 1", "-1 1 1", "inf 1 1", "1"],
    "Offset": ["nan 0 0", "inf 0 0", "1e308 1e308 1e308", "0"],
    "TransformMatrix": ["0 0 0 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 1", "1 0.01 0 0 1 0 0 0 1",
                        "nan 0 0 0 1 0 0 0 1", "1 0 0"],
    "ElementType": ["MET_DOUBLE", "MET_UCHAR", "MET_FOO", "MET_LONG_LONG", "MET_FLOAT_ARRAY"],
    "ElementNumberOfChannels": ["0", "2", "3", "4", "1000"],
    "CompressedData": ["True"],
    "ElementDataFile": ["missing.raw", "case.raw", "LIST", ""],
    "HeaderSize": ["-1", "100", "1000000000"],
}


@st.composite
def mha_case(draw, raw: bytes) -> Case:
    split = raw.index(b"ElementDataFile = LOCAL\n") + len(b"ElementDataFile = LOCAL\n")
    lines, body, recipe = raw[:split].decode().splitlines(), raw[split:], []
    for key in draw(st.lists(st.sampled_from(sorted(MHA_FIELDS)), max_size=3)):
        value = draw(st.sampled_from(MHA_FIELDS[key]))
        line = f"{key} = {value}"
        recipe.append(line)
        found = [i for i, text in enumerate(lines) if text.startswith(key + " ")]
        if found:
            lines[found[0]] = line
        else:
            lines.insert(len(lines) - 1, line)
    data = ("\n".join(lines) + "\n").encode() + body
    return Case(draw(byte_edits(data, split, recipe)), ".mha", recipe)


# --- the tests ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, bytes]:
    """The real sample files the mutations start from (NIfTI uncompressed; an MHA from it)."""
    import SimpleITK as sitk

    folder = tmp_path_factory.mktemp("bases")
    mha = folder / "ct.mha"
    sitk.WriteImage(sitk.ReadImage(str(NIFTI)), str(mha), useCompression=False)
    return {"dicom": DICOM.read_bytes(), "nifti": gzip.decompress(NIFTI.read_bytes()),
            "png": PNG.read_bytes(), "mha": mha.read_bytes()}


CASES = {"dicom": dicom_case, "nifti": nifti_case, "png": png_case, "mha": mha_case}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_fuzzed_files_load_or_fail_cleanly(kind, bases, worker):
    start = worker.cases

    @FUZZ
    @given(CASES[kind](bases[kind]))
    def run(case):
        check(worker, case)

    run()
    assert worker.cases - start >= EXAMPLES  # every example really ran through the worker
