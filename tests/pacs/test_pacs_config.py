"""Server settings, cache folder and query validation (no archive needed)."""

from __future__ import annotations

import json

import pytest

from fusionviewer.errors import InputError
from fusionviewer.pacs import (PacsServer, Query, cache_size, clear_cache, default_cache_dir,
                               load_servers, pick_server, servers_from_json, servers_to_json)
from fusionviewer.pacs.cache import series_dir


def test_json_config_round_trip_without_password(tmp_path):
    servers = [PacsServer(name="main", host="pacs.local", port=11112, ae_title="ARCHIVE",
                          our_ae_title="FV", retrieve="move", our_port=11113, password="s3cret",
                          username="u"),
               PacsServer(name="web", url="https://pacs.local/dicom-web", password_env="PW")]
    text = servers_to_json(servers)
    assert "s3cret" not in text
    path = tmp_path / "pacs.json"
    path.write_text(text)
    loaded = load_servers(path)
    assert [s.name for s in loaded] == ["main", "web"]
    assert loaded[0].retrieve == "move" and loaded[0].our_port == 11113 and loaded[0].port == 11112
    assert loaded[1].transport == "dicomweb" and loaded[1].password == ""
    with_pw = servers_from_json(servers_to_json(servers, include_passwords=True))
    assert with_pw[0].password == "s3cret"


def test_ini_config_and_pick(tmp_path):
    path = tmp_path / "pacs.ini"
    path.write_text("[server:hospital]\nhost = 10.0.0.5\nport = 104\naet = HOSP\n"
                    "our_aet = FUSION\ntls = yes\ntimeout = 5\n\n"
                    "[server:cloud]\ndicomweb_url = http://127.0.0.1:8042/dicom-web\n")
    servers = load_servers(path)
    hosp = pick_server(servers, "hospital", str(path))
    assert (hosp.host, hosp.port, hosp.ae_title, hosp.our_ae_title, hosp.tls, hosp.timeout) == \
        ("10.0.0.5", 104, "HOSP", "FUSION", True, 5.0)
    assert pick_server(servers, "cloud").transport == "dicomweb"
    assert pick_server(servers, None).name == "hospital"
    with pytest.raises(InputError, match="no PACS server named 'nope'"):
        pick_server(servers, "nope", str(path))


@pytest.mark.parametrize("text, problem", [
    ('{"servers": [{"name": "x", "port": "abc"}]}', "bad value 'abc'"),
    ('{"servers": [{"name": "x", "colour": "red"}]}', "unknown PACS setting 'colour'"),
    ('{"servers": [{"name": "x", "port": 70000}]}', "port 70000"),
    ('{"servers": [{"name": "x", "ae_title": "THIS-TITLE-IS-FAR-TOO-LONG"}]}', "AE title"),
    ('{"servers": [{"name": "x", "url": "ftp://host/x"}]}', "not an http"),
    ('{"servers": [{"name": "x", "retrieve": "move"}]}', "C-MOVE needs our storage port"),
    ('{"servers": [', "not valid JSON"),
])
def test_bad_config_is_input_error_naming_file(tmp_path, text, problem):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as info:
        load_servers(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_credentials_never_shown(monkeypatch):
    monkeypatch.setenv("FV_TEST_PW", "from-env-pw")
    server = PacsServer(name="w", url="https://alice:url-pw@pacs.example/dicom-web",
                        password_env="FV_TEST_PW")
    assert server.credentials() == ("alice", "from-env-pw")
    for shown in (repr(server), server.describe(), server.display_url,
                  json.dumps(server.to_dict())):
        assert "url-pw" not in shown and "from-env-pw" not in shown
    assert server.display_url == "https://pacs.example/dicom-web"
    plain = PacsServer(name="p", host="h", port=104, ae_title="A", password="plain-pw")
    assert "plain-pw" not in repr(plain) and "plain-pw" not in plain.describe()


def test_query_dates():
    q = Query(date_from="2024-03-01", date_to="20240331")
    assert q.date_range == "20240301-20240331"
    assert Query(date_from="20240301").date_range == "20240301-"
    assert Query(date_to="20240301").date_range == "-20240301"
    assert Query(date_from="20240301", date_to="20240301").date_range == "20240301"
    assert Query().date_range == ""
    with pytest.raises(InputError, match="date from '1 March' is not a date"):
        Query(date_from="1 March")


def test_default_cache_dir_is_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("FUSIONVIEWER_PACS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "fusionviewer" / "pacs"
    monkeypatch.setenv("FUSIONVIEWER_PACS_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_cache_clear_and_refusals(tmp_path):
    root = tmp_path / "cache"
    folder = series_dir("1.2.3", "1.2.3.4", root)
    folder.mkdir(parents=True)
    (folder / "a.dcm").write_bytes(b"x" * 10)
    (folder / "b.dcm").write_bytes(b"y" * 5)
    assert cache_size(root) == (2, 15)
    assert clear_cache(root) == 2
    assert cache_size(root) == (0, 0) and root.is_dir()
    other = tmp_path / "my-images"
    other.mkdir()
    (other / "keep.dcm").write_bytes(b"z")
    with pytest.raises(InputError, match="not a FusionViewer PACS cache"):
        clear_cache(other)
    with pytest.raises(InputError, match="not empty and is not a FusionViewer PACS cache"):
        series_dir("1", "2", other)
    assert (other / "keep.dcm").exists()
