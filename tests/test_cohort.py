"""Batch on Dask (issue #20): --workers N / --cluster ADDRESS give the serial batch's bytes; a
failing pair, a killed worker and Ctrl-C are recorded in the summary; the CSV manifest input.

Real LocalClusters of 2 worker processes, real `dask scheduler` / `dask worker` on loopback.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fusionviewer.cli import main
from fusionviewer.pipeline import FusionOptions, run_batch
from fusionviewer.pipeline.batch import BatchPair, pair_options

from cohort_data import harvard_folders, small_volume_pair, write_manifest
from harvard_data import REPO


def _summary(out: Path) -> dict[str, dict]:
    with open(out / "summary.csv", newline="") as fh:
        return {r["name"]: r for r in csv.DictReader(fh)}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "summary.csv"}


def _same_rows(serial: dict, dist: dict, keys=("status", "method", "message", "registration")):
    assert sorted(serial) == sorted(dist)
    for name in serial:
        for key in keys:
            assert serial[name][key] == dist[name][key], (name, key)


@pytest.fixture(scope="module")
def volumes(tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    """Two small real 3-D pairs (CT fixed, MR moved by a known shift) as NIfTI."""
    root = tmp_path_factory.mktemp("vol")
    ct1, mr1 = small_volume_pair(root / "p1", (4.0, -3.0, 0.0))
    ct2, mr2 = small_volume_pair(root / "p2", (-2.0, 5.0, 2.5))
    return ct1, mr1, ct2, mr2


def test_workers_2_give_the_serial_bytes_on_harvard_pairs_and_manifest(tmp_path, capsys):
    a, b, names = harvard_folders(tmp_path / "in")  # 3 gray CT-MRI + 3 colour SPECT-MRI
    (a / "zz_bad.png").write_text("not an image")
    (b / "zz_bad.png").write_text("not an image either")
    serial, dist = tmp_path / "serial", tmp_path / "dist"
    assert main(["batch", str(a), str(b), "-o", str(serial), "--no-progress"]) == 0  # CNN
    # the same pairs as a manifest (relative paths, a name column), on 2 local workers
    manifest = write_manifest(tmp_path / "in" / "pairs.csv", [
        {"name": n, "source1": f"a/{n}", "source2": f"b/{n}"} for n in names + ["zz_bad.png"]])
    capsys.readouterr()
    assert main(["batch", "--manifest", str(manifest), "-o", str(dist), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "fused 6 of 7" in captured.out and "zz_bad.png" in captured.err
    assert "100%" in captured.err  # the progress bar over completed tasks
    s_files, d_files = _files(serial), _files(dist)
    assert sorted(s_files) == sorted(n for n in names) and s_files == d_files
    s_rows, d_rows = _summary(serial), _summary(dist)
    _same_rows(s_rows, d_rows)
    assert d_rows["zz_bad.png"]["status"] == "failed" and "not a readable image" in \
        d_rows["zz_bad.png"]["message"]
    assert all(s_rows[n]["method"] == "cnn" for n in names)
    workers = {r["worker"] for r in d_rows.values()}
    assert all(w and w != f"{socket.gethostname()}:{os.getpid()}" for w in workers)
    assert all(r["worker"] == "" for r in s_rows.values())


def test_workers_2_give_the_serial_bytes_on_3d_pairs_with_registration(tmp_path, volumes):
    ct1, mr1, ct2, mr2 = volumes
    a, b = tmp_path / "ct", tmp_path / "mr"
    a.mkdir(), b.mkdir()
    for name, ct, mr in (("case1.nii.gz", ct1, mr1), ("case2.nii.gz", ct2, mr2)):
        (a / name).symlink_to(ct)
        (b / name).symlink_to(mr)
    serial, dist = tmp_path / "serial", tmp_path / "dist"
    args = [str(a), str(b), "--register", "rigid", "--modality", "CT,MR", "--metrics",
            "--no-progress"]
    assert main(["batch", *args, "-o", str(serial)]) == 0
    assert main(["batch", *args, "-o", str(dist), "--workers", "2"]) == 0
    s_files, d_files = _files(serial), _files(dist)
    assert sorted(s_files) == ["case1.nii.gz", "case2.nii.gz"] and s_files == d_files
    s_rows, d_rows = _summary(serial), _summary(dist)
    _same_rows(s_rows, d_rows, ("status", "method", "message", "registration", "Qabf", "MI"))
    assert s_rows["case1.nii.gz"]["registration_detail"].startswith("source 2: MI -")
    assert s_rows["case1.nii.gz"]["registration_detail"] != \
        s_rows["case2.nii.gz"]["registration_detail"]
    assert s_rows["case1.nii.gz"]["registration"] in ("good", "doubtful")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str, env: dict) -> subprocess.Popen:
    dask = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(dask), *args], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_cluster_address_runs_on_a_scheduler_and_worker_on_loopback(tmp_path, capsys):
    a, b, names = harvard_folders(tmp_path / "in", per_task=2)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(REPO),
               DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port),
                   "--no-dashboard", env=env)]
    try:
        procs.append(_dask("worker", address, "--nworkers", "1", "--nthreads", "1",
                           "--host", "127.0.0.1", "--no-dashboard", env=env))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            where = client.run(lambda: __import__("fusionviewer").__file__)
        assert all(Path(f).is_relative_to(REPO) for f in where.values())  # this checkout
        serial, dist = tmp_path / "serial", tmp_path / "dist"
        assert main(["batch", str(a), str(b), "-o", str(serial), "--method", "gff",
                     "--no-progress"]) == 0
        assert main(["batch", str(a), str(b), "-o", str(dist), "--method", "gff",
                     "--cluster", address, "--no-progress"]) == 0
        assert _files(serial) == _files(dist) and len(_files(dist)) == len(names)
        rows = _summary(dist)
        assert {r["status"] for r in rows.values()} == {"ok"}
        assert len({r["worker"] for r in rows.values()}) == 1  # the one worker process
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
    # the scheduler is gone: one line, exit 2
    capsys.readouterr()
    assert main(["batch", str(a), str(b), "-o", str(tmp_path / "none"), "--cluster",
                 address, "--method", "gff", "--no-progress"]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_a_failing_pair_and_a_killed_worker_are_recorded(tmp_path, volumes):
    """One pair's worker is killed once (rerun: ok), another's every time (failed after the
    one retry); a corrupt pair fails; the others are fine; only the client writes the CSV."""
    import dask
    from distributed import Client, LocalCluster

    ct1, mr1, _, _ = volumes
    a, b, out = tmp_path / "ct", tmp_path / "mr", tmp_path / "out"
    a.mkdir(), b.mkdir()
    for name in ("kill_once.nii.gz", "kill_twice.nii.gz", "ok.nii.gz"):
        (a / name).symlink_to(ct1)
        (b / name).symlink_to(mr1)
    (a / "bad.nii.gz").write_bytes(b"not a volume")
    (b / "bad.nii.gz").write_bytes(b"not a volume either")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    kills: dict[str, int] = {"kill_once": 0, "kill_twice": 0}
    stop = threading.Event()

    def executing(dask_worker):
        return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]

    def killer(client) -> None:
        since: dict[tuple[int, str], float] = {}  # (worker pid, victim) -> first seen running
        while not stop.is_set():
            try:
                running = client.run(executing, on_error="return")
            except Exception:  # noqa: BLE001 - a worker restarting
                running = {}
            for info in running.values():
                if not isinstance(info, tuple):
                    continue
                pid, keys = info
                for victim, limit in (("kill_once", 1), ("kill_twice", 2)):
                    if kills[victim] < limit and any(victim in k for k in keys):
                        first = since.setdefault((pid, victim), time.monotonic())
                        if time.monotonic() - first > 0.5:  # dies in the middle of its work
                            kills[victim] += 1
                            os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    try:
        with Client(cluster) as client:
            thread = threading.Thread(target=killer, args=(client,), daemon=True)
            thread.start()
            try:
                rows = run_batch([a, b], out, FusionOptions(register="rigid", method="average"),
                                 cluster=cluster.scheduler_address)
            finally:
                stop.set()
                thread.join(10)
    finally:
        cluster.close()
    status = {r.name: r.status for r in rows}
    assert kills == {"kill_once": 1, "kill_twice": 2}
    assert status == {"bad.nii.gz": "failed", "kill_once.nii.gz": "ok",
                      "kill_twice.nii.gz": "failed", "ok.nii.gz": "ok"}
    by_name = {r.name: r for r in rows}
    assert "died 2 times" in by_name["kill_twice.nii.gz"].message
    assert by_name["bad.nii.gz"].message
    assert sorted(p.name for p in out.iterdir()) == ["kill_once.nii.gz", "ok.nii.gz",
                                                    "summary.csv"]  # no temporaries
    assert _summary(out)["kill_twice.nii.gz"]["status"] == "failed"


def _children(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children(recursive=True)


def test_ctrl_c_cancels_outstanding_tasks_and_closes_the_local_cluster(tmp_path, volumes):
    import psutil

    ct1, mr1, _, _ = volumes
    a, b, out = tmp_path / "ct", tmp_path / "mr", tmp_path / "out"
    a.mkdir(), b.mkdir()
    names = [f"case{i:02d}.nii.gz" for i in range(12)]
    for name in names:
        (a / name).symlink_to(ct1)
        (b / name).symlink_to(mr1)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "fusionviewer", "batch", str(a), str(b),
                             "-o", str(out), "--register", "rigid", "--workers", "2"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.set_blocking(proc.stderr.fileno(), False)
    seen, t0 = "", time.monotonic()
    while time.monotonic() - t0 < 180 and " 8%" not in seen and "17%" not in seen:
        try:
            seen += os.read(proc.stderr.fileno(), 1 << 16).decode(errors="replace")
        except BlockingIOError:
            pass
        assert proc.poll() is None, seen[-2000:]
        time.sleep(0.05)
    assert " 8%" in seen or "17%" in seen, seen[-2000:]  # one or two of twelve pairs done
    workers = _children(proc.pid)
    assert len([p for p in workers if "python" in p.name().lower()]) >= 2
    t_signal = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    seconds = time.monotonic() - t_signal
    os.set_blocking(proc.stderr.fileno(), True)
    err = seen + proc.stderr.read().decode(errors="replace")
    assert proc.returncode == 130, err[-2000:]
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    assert "Traceback" not in err
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []  # the local cluster's processes are closed
    rows = _summary(out)
    assert sorted(rows) == names
    done = [n for n, r in rows.items() if r["status"] == "ok"]
    cancelled = [n for n, r in rows.items() if r["status"] == "cancelled"]
    assert done and cancelled and len(done) + len(cancelled) == len(names)
    assert sorted(p.name for p in out.iterdir()) == sorted(done + ["summary.csv"])
    import nibabel

    for name in done:  # finished outputs intact
        assert nibabel.load(out / name).get_fdata().shape == (64, 64, 20)


def test_manifest_modality_hints_errors_and_engine_choices(tmp_path, capsys):
    pair = BatchPair("x", (Path("a.png"), Path("b.png")), ("CT", None))
    merged = pair_options(FusionOptions(modalities=["PT", "MR"]), pair)
    assert list(merged.modalities) == ["CT", "MR"]  # the row's hint wins, else the option's
    a, b, names = harvard_folders(tmp_path / "in", per_task=1, tasks=("ct-mri",))
    out = tmp_path / "out"
    good = write_manifest(tmp_path / "good.csv", [
        {"name": "first", "source1": str(a / names[0]), "source2": f"in/b/{names[0]}",
         "modality1": "CT", "modality2": "MR"},
        {"name": "missing", "source1": "in/a/nope.png", "source2": f"in/b/{names[0]}",
         "modality1": "", "modality2": ""}])
    assert main(["batch", "--manifest", str(good), "-o", str(out), "--method", "average",
                 "--no-progress"]) == 0
    rows = _summary(out)
    assert rows["first"]["status"] == "ok" and (out / "first.png").is_file()
    assert rows["missing"]["status"] == "failed" and "nope.png" in rows["missing"]["message"]
    bad_cases = {
        "no source2": [{"source1": "x.png", "other": "y.png"}],
        "also on line 2": [{"name": "n", "source1": "a", "source2": "b"},
                           {"name": "n", "source1": "c", "source2": "d"}],
        "line 2: unknown modality": [{"source1": "a", "source2": "b", "modality1": "XRAY"}],
        "needs 2 sources": [{"source1": "a", "source2": ""}],
    }
    for i, (expected, manifest_rows) in enumerate(bad_cases.items()):
        path = write_manifest(tmp_path / f"bad{i}.csv", manifest_rows)
        capsys.readouterr()
        assert main(["batch", "--manifest", str(path), "-o", str(tmp_path / f"o{i}")]) == 2
        err = capsys.readouterr().err
        assert f"bad{i}.csv" in err and (expected in err or "source1, source2" in err), err
    capsys.readouterr()
    assert main(["batch", str(a), str(b), "--manifest", str(good), "-o", str(tmp_path / "o")]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["batch", str(a), str(b), "-o", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --workers and --cluster exclude each other
        main(["batch", str(a), str(b), "-o", str(tmp_path / "o"), "--workers", "2",
              "--cluster", "tcp://127.0.0.1:1"])


def test_local_cluster_retries_a_dead_worker_once_and_uses_one_thread_per_worker():
    from fusionviewer.pipeline.cohort import ALLOWED_FAILURES, dask_client

    with dask_client(workers=2) as client:
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) \
            == ALLOWED_FAILURES == 1
        info = client.scheduler_info(n_workers=-1)["workers"]
        assert [w["nthreads"] for w in info.values()] == [1, 1]


def test_dask_is_imported_only_when_asked_for(tmp_path, monkeypatch, capsys):
    a, b, _ = harvard_folders(tmp_path / "in", per_task=1, tasks=("ct-mri",))
    code = ("import sys; from fusionviewer.cli import main; "
            f"rc = main(['batch', {str(a)!r}, {str(b)!r}, '-o', {str(tmp_path / 'out')!r}, "
            "'--method', 'average', '--no-progress']); "
            "print(rc, 'distributed' in sys.modules, 'dask' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.split()[-3:] == ["0", "False", "False"], done.stderr[-2000:]
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    assert main(["batch", str(a), str(b), "-o", str(tmp_path / "o2"), "--workers", "2",
                 "--method", "average", "--no-progress"]) == 2
    assert "pip install 'fusionviewer[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()  # refused before anything was written
