"""``fusionviewer pacs echo|find|get|store|cache``: talk to a PACS without the GUI.

The server comes from ``--config FILE [--server NAME]`` (JSON or INI, see
``fusionviewer.pacs.config``), or ``--server NAME`` alone (a server saved by the app's PACS
dialog), and/or flags, flags winning. The password is never a flag (it
would show in ``ps`` and shell history): it comes from the config's ``password_env`` or the
environment variable FUSIONVIEWER_PACS_PASSWORD. ``get`` prints the folder it retrieved into as
its only line on stdout, so a batch job can do::

    CT=$(fusionviewer pacs get --config pacs.json --study UID --modality CT)
    MR=$(fusionviewer pacs get --config pacs.json --study UID --modality MR)
    fusionviewer fuse "$CT" "$MR" -o fused --format dicom
    fusionviewer pacs store --config pacs.json fused
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from ..errors import InputError

PASSWORD_ENV = "FUSIONVIEWER_PACS_PASSWORD"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pacs", help="query a PACS, retrieve series, send fused series back",
        description="Talk to a DICOM archive over DIMSE (C-ECHO/C-FIND/C-GET/C-MOVE/C-STORE) or "
                    "DICOMweb (QIDO-RS/WADO-RS/STOW-RS). Retrieved series go to the PACS cache "
                    "folder (see 'fusionviewer pacs cache').")
    actions = parser.add_subparsers(dest="pacs_action", metavar="ACTION", required=True)

    server = argparse.ArgumentParser(add_help=False)
    g = server.add_argument_group("server (flags override --config)")
    g.add_argument("--config", metavar="FILE", help="JSON or INI file with PACS servers")
    g.add_argument("--server", metavar="NAME",
                   help="server name in --config (default: first), or without --config one "
                        "saved by the app's File > PACS... dialog")
    g.add_argument("--host", help="DIMSE host name or address")
    g.add_argument("--port", type=int, help="DIMSE port")
    g.add_argument("--aet", help="the archive's AE title (called AE)")
    g.add_argument("--our-aet", help="our AE title (calling AE and C-MOVE destination)")
    g.add_argument("--retrieve", choices=("get", "move"), help="DIMSE retrieval: C-GET or C-MOVE")
    g.add_argument("--our-port", type=int, help="our storage port for C-MOVE")
    g.add_argument("--dicomweb", metavar="URL", help="DICOMweb root URL (instead of DIMSE)")
    g.add_argument("--user", help="DICOMweb user name (password from $" + PASSWORD_ENV + ")")
    g.add_argument("--tls", action="store_true", default=None, help="use TLS (DIMSE)")
    g.add_argument("--tls-ca", metavar="FILE", help="CA certificates to verify the server")
    g.add_argument("--timeout", type=float, help="network timeout in seconds (default 30)")

    p = actions.add_parser("echo", parents=[server], help="check the server answers (C-ECHO)")
    p.set_defaults(func=run_echo)

    p = actions.add_parser("find", parents=[server], help="search studies (and their series)")
    p.add_argument("--patient-name", default="", help="patient name, wildcards * ? allowed")
    p.add_argument("--patient-id", default="")
    p.add_argument("--date", default="", metavar="FROM[:TO]",
                   help="study date or range, YYYYMMDD or YYYY-MM-DD; 'FROM:' or ':TO' open")
    p.add_argument("--modality", default="", help="modality in the study (CT, MR, PT...)")
    p.add_argument("--accession", default="")
    p.add_argument("--study", default="", metavar="UID", help="one study instance UID")
    p.add_argument("--series", action="store_true", help="also list each study's series")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_find)

    p = actions.add_parser("get", parents=[server],
                           help="retrieve one series into the cache; prints its folder")
    p.add_argument("--study", required=True, metavar="UID")
    p.add_argument("--series", metavar="UID", help="series instance UID")
    p.add_argument("--modality", help="instead of --series: the only series of this modality")
    p.add_argument("--cache", metavar="DIR", help="cache folder (default: the user cache)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_get)

    p = actions.add_parser("store", parents=[server], help="send DICOM files or folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="DICOM files or series folders")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_store)

    p = actions.add_parser("cache", help="show (or clear) the folder of retrieved series")
    p.add_argument("--cache", metavar="DIR", help="cache folder (default: the user cache)")
    p.add_argument("--clear", action="store_true", help="delete every retrieved series")
    p.set_defaults(func=run_cache)

    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def server_from_args(args: argparse.Namespace):
    """The PacsServer of --config/--server with flags applied on top."""
    from ..pacs import PacsServer, load_servers, pick_server

    if args.config:
        base = pick_server(load_servers(args.config), args.server, args.config)
    elif args.server:
        base = pick_server(app_servers(), args.server, "the app's settings")
    else:
        base = None
    changes = {"host": args.host, "port": args.port, "ae_title": args.aet,
               "our_ae_title": args.our_aet, "retrieve": args.retrieve,
               "our_port": args.our_port, "username": args.user, "tls": args.tls,
               "tls_ca_file": args.tls_ca, "timeout": args.timeout}
    changes = {k: v for k, v in changes.items() if v is not None}
    if args.dicomweb:
        changes.update(url=args.dicomweb, transport="dicomweb")
    elif changes.get("host") or changes.get("port"):
        changes["transport"] = "dimse"
    if base is None:
        if not (args.dicomweb or args.host):
            raise InputError("no PACS server: give --config FILE, or --host/--port/--aet, "
                             "or --dicomweb URL")
        changes.setdefault("name", args.dicomweb and "dicomweb" or args.host)
        base_data = {}
    else:
        base_data = base.to_dict(include_password=True)
    data = {**base_data, **changes}
    if not data.get("password") and not data.get("password_env") and os.environ.get(
            PASSWORD_ENV):
        data["password_env"] = PASSWORD_ENV
    names = {f.name for f in dataclasses.fields(PacsServer)}
    return PacsServer(**{k: v for k, v in data.items() if k in names})


def app_servers() -> list:
    """The servers saved by the app's PACS dialog (File > PACS...), passwords not included."""
    from ..gui.settings import app_settings  # QtCore only: works without a display
    from ..pacs import servers_from_json

    return servers_from_json(str(app_settings().value("pacs/servers", "") or ""),
                             source="the app's settings")


def _client(args, cache_dir=None):
    from ..pacs import PacsClient

    return PacsClient(server_from_args(args), cache_dir=cache_dir)


def run_echo(args) -> int:
    client = _client(args)
    seconds = client.echo()
    print(f"{client.server.describe()} answered in {1000 * seconds:.0f} ms")
    return 0


def _date_range(text: str) -> tuple[str, str]:
    if ":" in text:
        a, b = text.split(":", 1)
        return a.strip(), b.strip()
    return text.strip(), text.strip()


def run_find(args) -> int:
    from ..pacs import Query

    date_from, date_to = _date_range(args.date)
    query = Query(patient_name=args.patient_name, patient_id=args.patient_id,
                  date_from=date_from, date_to=date_to, modality=args.modality.upper(),
                  accession=args.accession, study_uid=args.study)
    client = _client(args)
    studies = client.find_studies(query)
    series = {s.study_uid: client.find_series(s.study_uid) for s in studies} if args.series \
        else {}
    if args.json:
        out = []
        for s in studies:
            item = dataclasses.asdict(s)
            if args.series:
                item["series"] = [dataclasses.asdict(x) for x in series[s.study_uid]]
            out.append(item)
        print(json.dumps(out, indent=2))
        return 0
    if not studies:
        print("no matching study", file=sys.stderr)
        return 0
    for s in studies:
        mods = "/".join(s.modalities) or "-"
        print(f"{s.study_date or '-':8}  {s.patient_name or '-'}  [{s.patient_id or '-'}]  "
              f"acc {s.accession or '-'}  {mods}  {s.num_series or '?'} series  "
              f"{s.num_instances or '?'} images  {s.description}")
        print(f"    study {s.study_uid}")
        for x in series.get(s.study_uid, []):
            print(f"    #{x.number if x.number is not None else '-':<4} {x.modality or '-':3} "
                  f"{x.num_instances if x.num_instances is not None else '?':>4} images  "
                  f"{x.series_uid}  {x.description}")
    return 0


def run_get(args) -> int:
    from ._common import ProgressBar

    client = _client(args, args.cache)
    series_uid = args.series
    if not series_uid:
        if not args.modality:
            raise InputError("give --series UID or --modality M")
        found = client.find_series(args.study, args.modality.upper())
        if len(found) != 1:
            listed = ", ".join(f"{s.series_uid} ({s.description})" for s in found) or "none"
            raise InputError(f"{len(found)} {args.modality.upper()} series in study "
                             f"{args.study} (need exactly one; give --series): {listed}")
        series_uid = found[0].series_uid
    with ProgressBar(enabled=not args.no_progress, desc="retrieve") as bar:
        files = client.retrieve_series(args.study, series_uid, progress=bar)
    print(f"retrieved {len(files)} instance(s) from {client.server.describe()}",
          file=sys.stderr)
    print(files[0].parent)
    return 0


def run_store(args) -> int:
    from ._common import ProgressBar

    client = _client(args)
    with ProgressBar(enabled=not args.no_progress, desc="store") as bar:
        report = client.store(args.paths, progress=bar)
    for r in report.failed:
        print(f"FAILED {r.path}: {r.message}", file=sys.stderr)
    print(f"{report.summary()} on {client.server.describe()}")
    return 0 if report.ok else 1


def run_cache(args) -> int:
    from ..pacs import cache_size, clear_cache, default_cache_dir

    folder = args.cache or default_cache_dir()
    if args.clear:
        print(f"removed {clear_cache(folder)} file(s) from {folder}")
        return 0
    files, size = cache_size(folder)
    print(f"{folder}: {files} file(s), {size / 1e6:.1f} MB")
    return 0
