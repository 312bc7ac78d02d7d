"""PACS server settings: one dataclass, read from JSON/INI files or the app's settings (as JSON).

A server is either DIMSE (``host``, ``port``, ``ae_title``, ``our_ae_title``; retrieval by C-GET,
or by C-MOVE to our own storage SCP on ``our_port``) or DICOMweb (``url``). Passwords are never
part of ``repr``, ``describe()`` or any log line; prefer ``password_env`` (the name of an
environment variable) over storing a password in a file.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import InputError

TRANSPORTS = ("dimse", "dicomweb")
RETRIEVE_MODES = ("get", "move")
_AE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # 16 chars max, printable, no backslash


@dataclass(frozen=True)
class PacsServer:
    """How to reach one archive; see the module docstring."""

    name: str = "PACS"
    transport: str = ""  # "dimse" or "dicomweb"; empty: dicomweb when a URL is given
    host: str = "127.0.0.1"
    port: int = 104
    ae_title: str = "ANY-SCP"
    our_ae_title: str = "FUSIONVIEWER"
    retrieve: str = "get"
    our_port: int = 0  # storage SCP port for C-MOVE (the archive must know our AE at this port)
    url: str = ""  # DICOMweb base URL, e.g. https://pacs.example.org/dicom-web
    tls: bool = False
    tls_ca_file: str = ""  # CA bundle for verifying the server ("" = system defaults)
    tls_cert_file: str = ""  # client certificate (DIMSE TLS with mutual authentication)
    tls_key_file: str = ""
    tls_verify: bool = True
    username: str = ""
    password: str = field(default="", repr=False)
    password_env: str = ""  # read the password from this environment variable instead
    timeout: float = 30.0  # seconds, for connecting and for each network operation

    def __post_init__(self) -> None:
        if not self.transport:
            object.__setattr__(self, "transport", "dicomweb" if self.url else "dimse")
        parts = urlsplit(self.url)
        if parts.username:  # keep credentials out of the URL (it is shown and logged)
            if not self.username:
                object.__setattr__(self, "username", parts.username)
                object.__setattr__(self, "password", self.password or parts.password or "")
            object.__setattr__(self, "url", self.display_url)
        problems = self.problems()
        if problems:
            raise InputError(f"PACS server '{self.name}': {problems[0]}")

    def problems(self) -> list[str]:
        """What is wrong with these settings (empty when usable)."""
        out = []
        if not self.name.strip():
            out.append("the name is empty")
        if self.transport not in TRANSPORTS:
            out.append(f"transport '{self.transport}' is not one of {', '.join(TRANSPORTS)}")
        elif self.transport == "dimse":
            if not self.host.strip():
                out.append("the host is empty")
            if not 1 <= int(self.port) <= 65535:
                out.append(f"port {self.port} is not in 1..65535")
            for label, ae in (("AE title", self.ae_title), ("our AE title", self.our_ae_title)):
                if not _AE.match(ae or "") or not ae.strip():
                    out.append(f"{label} '{ae}' is not 1-16 printable characters")
            if self.retrieve not in RETRIEVE_MODES:
                out.append(f"retrieve '{self.retrieve}' is not 'get' or 'move'")
            elif self.retrieve == "move" and not 1 <= int(self.our_port) <= 65535:
                out.append("C-MOVE needs our storage port (our_port) in 1..65535")
        else:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                out.append(f"DICOMweb URL '{self.display_url}' is not an http(s) URL")
        if self.timeout <= 0:
            out.append(f"timeout {self.timeout} s is not positive")
        return out

    # --- credentials --------------------------------------------------------------------
    @property
    def display_url(self) -> str:
        """The DICOMweb URL without any user:password part (safe to show and log)."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def credentials(self) -> tuple[str, str] | None:
        """(user, password) for HTTP basic auth; the env var ``password_env`` wins."""
        user, password = self.username, self.password
        if self.password_env:
            password = os.environ.get(self.password_env, password)
        return (user, password) if user else None

    def describe(self) -> str:
        """A one-line description without credentials, for logs and error messages."""
        if self.transport == "dicomweb":
            return f"'{self.name}' ({self.display_url})"
        tls = ", TLS" if self.tls else ""
        return f"'{self.name}' ({self.ae_title}@{self.host}:{self.port}{tls})"

    # --- (de)serialisation --------------------------------------------------------------
    def to_dict(self, *, include_password: bool = False) -> dict[str, Any]:
        """Plain values for JSON settings; the password only when asked for."""
        data = dataclasses.asdict(self)
        if not include_password:
            data.pop("password")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> "PacsServer":
        """Build from a mapping (JSON object or INI section); unknown keys raise InputError."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        aliases = {"aet": "ae_title", "aetitle": "ae_title", "calling_aet": "our_ae_title",
                   "our_aet": "our_ae_title", "dicomweb_url": "url", "dicomweb": "url"}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            key = aliases.get(key.lower(), key.lower())
            if key not in names:
                raise InputError(f"unknown PACS setting '{key}' (known: "
                                 f"{', '.join(sorted(names))})", source)
            kwargs[key] = _coerce(key, value, names[key].type, source)
        try:
            return cls(**kwargs)
        except InputError as exc:
            raise InputError(str(exc), source) from None


def _coerce(key: str, value: Any, type_name: Any, source: str | None) -> Any:
    type_name = str(type_name)
    try:
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
        if type_name == "bool":
            if isinstance(value, str):
                if value.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on",
                                                 "off"):
                    raise ValueError(value)
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
    except (TypeError, ValueError):
        raise InputError(f"PACS setting '{key}' has a bad value '{value}'", source) from None
    return str(value)


def load_servers(path: str | os.PathLike) -> list[PacsServer]:
    """Servers from a JSON file (``{"servers": [...]}`` or a list) or an INI file (a section each)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read PACS configuration ({exc.strerror})", str(path)) from None
    if path.suffix.lower() == ".json" or (path.suffix.lower() not in (".ini", ".cfg", ".conf")
                                          and text.lstrip().startswith("{")):
        return servers_from_json(text, source=str(path))
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise InputError(f"not a valid INI file ({str(exc).splitlines()[0]})", str(path)) from None
    servers = []
    for section in parser.sections():
        data = dict(parser[section])
        name = section.split(":", 1)[1].strip() if ":" in section else section
        data.setdefault("name", name)
        servers.append(PacsServer.from_dict(data, str(path)))
    if not servers:
        raise InputError("no PACS server defined (one [section] per server)", str(path))
    return servers


def servers_from_json(text: str, source: str | None = None) -> list[PacsServer]:
    """Servers from JSON text: a list of objects or ``{"servers": [...]}`` (the app's settings)."""
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})", source) from None
    if isinstance(data, dict):
        data = data.get("servers", [data] if "name" in data else [])
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InputError("expected a list of PACS server objects", source)
    return [PacsServer.from_dict(d, source) for d in data]


def servers_to_json(servers: list[PacsServer], *, include_passwords: bool = False) -> str:
    """JSON text for the app's settings; passwords are left out unless asked for."""
    return json.dumps({"servers": [s.to_dict(include_password=include_passwords)
                                   for s in servers]}, indent=2)


def pick_server(servers: list[PacsServer], name: str | None,
                source: str | None = None) -> PacsServer:
    """The server called ``name``, or the only/first one when name is None."""
    if not servers:
        raise InputError("no PACS server configured", source)
    if name is None:
        return servers[0]
    for server in servers:
        if server.name == name:
            return server
    raise InputError(f"no PACS server named '{name}' (have: "
                     f"{', '.join(s.name for s in servers)})", source)
