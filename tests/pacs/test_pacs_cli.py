"""``fusionviewer pacs ...``: the batch job of the README (pull two series, fuse, push back)."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
from orthanc_server import ORTHANC_AET, OUR_AET, PASSWORD, USER, free_port

from fusionviewer.cli import main


def _config(tmp_path: Path, orthanc) -> Path:
    path = tmp_path / "pacs.json"
    path.write_text(json.dumps({"servers": [
        {"name": "dimse", "host": "127.0.0.1", "port": orthanc.dicom_port,
         "ae_title": ORTHANC_AET, "our_ae_title": OUR_AET, "timeout": 10},
        {"name": "web", "url": orthanc.dicomweb_url, "username": USER,
         "password_env": "FV_TEST_PACS_PW"},
    ]}))
    return path


def test_cli_batch_pull_fuse_push(orthanc, study, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FV_TEST_PACS_PW", PASSWORD)
    cfg, cache = str(_config(tmp_path, orthanc)), str(tmp_path / "cache")
    assert main(["pacs", "echo", "--config", cfg]) == 0
    assert "answered" in capsys.readouterr().out
    assert main(["pacs", "echo", "--config", cfg, "--server", "web"]) == 0
    capsys.readouterr()

    assert main(["pacs", "find", "--config", cfg, "--patient-id", "FV-PACS-0002",
                 "--date", "2024-03-01:2024-03-31", "--series", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [s["study_uid"] for s in found] == [study.study_uid]
    assert {x["series_uid"] for x in found[0]["series"]} >= {study.ct_uid, study.mr_uid}

    assert main(["pacs", "get", "--config", cfg, "--study", study.study_uid, "--modality",
                 "CT", "--cache", cache, "--no-progress"]) == 0
    ct_dir = capsys.readouterr().out.strip()
    assert main(["pacs", "get", "--config", cfg, "--server", "web", "--study",
                 study.study_uid, "--series", study.mr_uid, "--cache", cache,
                 "--no-progress"]) == 0
    mr_dir = capsys.readouterr().out.strip()
    assert Path(ct_dir).name == study.ct_uid and Path(mr_dir).name == study.mr_uid
    assert len(list(Path(mr_dir).glob("*.dcm"))) == len(study.mr_files)

    out = tmp_path / "fused"
    assert main(["fuse", ct_dir, mr_dir, "-o", str(out), "--format", "dicom", "--method",
                 "average", "--no-progress"]) == 0
    capsys.readouterr()
    fused = sorted(out.glob("*.dcm"))
    assert main(["pacs", "store", "--config", cfg, "--server", "web", str(out),
                 "--no-progress"]) == 0
    assert f"{len(fused)} of {len(fused)} instance(s) stored" in capsys.readouterr().out

    new_uid = str(pydicom.dcmread(fused[0]).SeriesInstanceUID)
    assert main(["pacs", "find", "--config", cfg, "--study", study.study_uid, "--series"]) == 0
    listing = capsys.readouterr().out
    assert new_uid in listing and study.ct_uid in listing

    assert main(["pacs", "cache", "--cache", cache]) == 0
    assert f"{2 * len(study.ct_files)} file(s)" in capsys.readouterr().out
    assert main(["pacs", "cache", "--cache", cache, "--clear"]) == 0
    assert not list(Path(cache).rglob("*.dcm"))


def test_cli_errors(orthanc, study, tmp_path, capsys):
    cfg = str(_config(tmp_path, orthanc))
    assert main(["pacs", "echo", "--config", cfg, "--server", "nope"]) == 2
    assert "no PACS server named 'nope'" in capsys.readouterr().err
    assert main(["pacs", "echo", "--host", "127.0.0.1", "--port", str(free_port()),
                 "--aet", "X", "--timeout", "3"]) == 1
    assert "cannot connect" in capsys.readouterr().err
    assert main(["pacs", "echo", "--config", cfg, "--aet", "WRONG"]) == 1
    assert "rejected the association" in capsys.readouterr().err
    assert main(["pacs", "get", "--config", cfg, "--study", study.study_uid, "--modality",
                 "PT", "--cache", str(tmp_path / "c")]) == 2
    assert "0 PT series" in capsys.readouterr().err
    assert main(["pacs", "store", "--config", cfg, str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["pacs", "find", "--config", cfg, "--patient-id", "NOBODY"]) == 0
    assert "no matching study" in capsys.readouterr().err


def test_cli_uses_servers_saved_by_the_app(orthanc, dimse_server, tmp_path, monkeypatch, capsys):
    from PySide6.QtCore import QSettings

    from fusionviewer.pacs import servers_to_json

    monkeypatch.setenv("FUSIONVIEWER_SETTINGS_DIR", str(tmp_path))
    settings = QSettings(str(tmp_path / "fusionviewer.ini"), QSettings.Format.IniFormat)
    settings.setValue("pacs/servers", servers_to_json([dimse_server]))
    settings.sync()
    assert main(["pacs", "echo", "--server", dimse_server.name]) == 0
    assert f"'{dimse_server.name}'" in capsys.readouterr().out
    assert main(["pacs", "echo", "--server", "other"]) == 2
    assert "no PACS server named 'other'" in capsys.readouterr().err
