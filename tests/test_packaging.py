"""Packaging: the PyInstaller spec, the Linux/Windows/macOS install files, OS file hand-over.

The static checks always run (a second or two). The full build (``packaging/build.sh`` + the
bundle's ``--selftest`` and ``--screenshot``) runs only with FUSIONVIEWER_TEST_PACKAGING=1; it
takes about 6 minutes with an existing packaging/.buildenv and 10-15 minutes from scratch on
the 2-core CI machine (see packaging/README.md), and then fails on any error.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import os
import plistlib
import re
import shutil
import subprocess
import sys
import tarfile
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fusionviewer import __version__

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "packaging"
SPEC = PKG / "fusionviewer.spec"
DESKTOP = PKG / "linux" / "fusionviewer.desktop"
MIME_XML = PKG / "linux" / "fusionviewer-mime.xml"
PLIST = PKG / "macos" / "Info.plist"
ISS = PKG / "windows" / "fusionviewer.iss"
FULL_BUILD = os.environ.get("FUSIONVIEWER_TEST_PACKAGING") == "1"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
# Types the .desktop entry claims that shared-mime-info already defines (so we do not ship them).
SYSTEM_MIME = {"application/dicom", "image/png"}


def spec_literals() -> dict:
    """The spec's top-level literal assignments (DATAS, ICONS, ...), read without running it."""
    tree = ast.parse(SPEC.read_text(), str(SPEC))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


class _Analysis:
    """Stands in for PyInstaller's Analysis: records arguments, holds sample TOC entries."""

    torch_lib = "/x"  # set to a real ELF file by run_spec (the spec strips a copy of it)

    def __init__(self, scripts, **kwargs):
        self.kwargs = dict(kwargs, scripts=scripts)
        self.scripts, self.pure = scripts, []
        self.binaries = [("torch/lib/libtorch_cpu.so", self.torch_lib, "BINARY"),
                         ("python3.11/lib-dynload/_ssl.cpython-311.so", self.torch_lib, "BINARY"),
                         ("numpy.libs/libscipy_openblas64_-1.so", self.torch_lib, "BINARY"),
                         ("torch/lib/libtorchbind_test.so", "/x", "BINARY"),
                         ("PySide6/Qt/lib/libQt6Core.so.6", "/x", "BINARY")]
        self.datas = [("torch/include/ATen/ATen.h", "/x", "DATA"),
                      ("torch/test/Dict_test", "/x", "DATA"),
                      ("torch/bin/torch_shm_manager", "/x", "DATA"),
                      ("PySide6/Qt/translations/qtbase_de.qm", "/x", "DATA"),
                      ("resources/samples/ct-mri/ct/2010.png", "/x", "DATA"),
                      ("models/README.md", "/x", "DATA")]


def run_spec(monkeypatch, platform: str, workpath: Path) -> dict:
    """Execute the spec with recording stand-ins for PyInstaller, as if on `platform`."""
    import pkgutil

    elf = workpath / "libtorch_cpu.so"
    shutil.copy2(sys.executable, elf)  # any unstripped ELF file stands in for libtorch
    monkeypatch.setattr(_Analysis, "torch_lib", str(elf))

    import fusionviewer

    def collect_submodules(name):
        package = sys.modules.get(name) or __import__(name)
        return [name] + [m.name for m in pkgutil.walk_packages(package.__path__, f"{name}.")]

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = collect_submodules
    hooks.collect_data_files = lambda name: [(f"/site/{name}/data.json", name)]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    assert fusionviewer.__version__
    calls: dict = {}

    def recorder(kind):
        def record(*args, **kwargs):
            calls[kind] = (args, kwargs)
            return types.SimpleNamespace(args=args, kwargs=kwargs)
        return record

    env = {"SPECPATH": str(PKG), "workpath": str(workpath), "Analysis": _Analysis,
           **{k: recorder(k) for k in ("PYZ", "EXE", "COLLECT", "BUNDLE")}}
    monkeypatch.setattr(sys, "platform", platform)
    try:
        exec(compile(SPEC.read_text(), str(SPEC), "exec"), env)
    finally:
        monkeypatch.undo()
    return {"env": env, "calls": calls}


# --- the spec ---------------------------------------------------------------------------------

def test_spec_compiles_and_references_existing_files():
    compile(SPEC.read_text(), str(SPEC), "exec")
    lit = spec_literals()
    assert lit["APP_NAME"] == "FusionViewer"
    assert (REPO / lit["ENTRY"]).is_file()
    for src, dest in lit["DATAS"]:
        folder = REPO / src
        assert folder.is_dir(), f"spec data folder {src} is missing"
        assert any(p.is_file() for p in folder.rglob("*")), f"spec data folder {src} is empty"
        assert dest == src
    assert {d for _, d in lit["DATAS"]} == {"models", "resources"}
    for icon in lit["ICONS"].values():
        assert (REPO / icon).is_file(), icon
    assert (REPO / lit["INFO_PLIST"]).is_file()
    assert "fusionviewer" in lit["HIDDEN_PACKAGES"]
    for heavy in ("tensorboard", "caffe2", "PySide6.QtWebEngineCore", "PySide6.QtQml",
                  "PySide6.QtMultimedia", "PySide6.Qt3DCore", "tkinter"):
        assert heavy in lit["EXCLUDES"], heavy


def test_bundle_contains_the_model_and_demo_samples():
    """The app needs the weights and a sample pair at run time (spec: models/, resources/)."""
    weights = [p for p in (REPO / "models").rglob("*")
               if p.suffix in {".pt", ".pth", ".safetensors"}]
    assert weights, "models/ holds no weights file to bundle"
    samples = [p for p in (REPO / "resources" / "samples").rglob("*.png")]
    assert len(samples) >= 2
    for size in (16, 32, 48, 64, 128, 256):
        assert (REPO / "resources" / "icons" / f"fusionviewer-{size}.png").is_file()


def test_spec_linux_build_collects_cli_modules_and_drops_test_files(monkeypatch, tmp_path):
    run = run_spec(monkeypatch, "linux", tmp_path)
    analysis = run["env"]["a"]
    hidden = set(analysis.kwargs["hiddenimports"])
    cli_dir = REPO / "fusionviewer" / "cli"
    cli_modules = {f"fusionviewer.cli.{p.stem}" for p in cli_dir.glob("*.py")
                   if p.stem != "__init__"}
    assert cli_modules and cli_modules <= hidden, cli_modules - hidden
    assert {"SimpleITK", "highdicom", "pyqtgraph", "nibabel"} <= hidden
    assert analysis.kwargs["scripts"] == [str(PKG / "launcher.py")]
    datas = analysis.kwargs["datas"]
    assert (str(REPO / "models"), "models") in datas
    assert (str(REPO / "resources"), "resources") in datas
    assert ("/site/highdicom/data.json", "highdicom") in datas

    kept = {e[0] for e in analysis.binaries + analysis.datas}
    assert kept == {"torch/lib/libtorch_cpu.so", "PySide6/Qt/lib/libQt6Core.so.6",
                    "python3.11/lib-dynload/_ssl.cpython-311.so",
                    "numpy.libs/libscipy_openblas64_-1.so",
                    "torch/bin/torch_shm_manager", "resources/samples/ct-mri/ct/2010.png",
                    "models/README.md"}
    exe = run["calls"]["EXE"][1]
    # Only libtorch and the Python runtime are stripped (cached copies); stripping numpy's
    # auditwheel-patched OpenBLAS breaks it.
    src = dict((e[0], e[1]) for e in analysis.binaries)
    assert src["numpy.libs/libscipy_openblas64_-1.so"] == str(tmp_path / "libtorch_cpu.so")
    for dest in ("torch/lib/libtorch_cpu.so", "python3.11/lib-dynload/_ssl.cpython-311.so"):
        stripped = Path(src[dest])
        assert stripped == tmp_path / "stripped" / dest and stripped.is_file()
        assert stripped.stat().st_size < (tmp_path / "libtorch_cpu.so").stat().st_size
        assert subprocess.run(["nm", str(stripped)], capture_output=True, text=True).stdout == ""
    assert ("PySide6/Qt/lib/libQt6Core.so.6", "/x", "BINARY") in analysis.binaries
    exe = run["calls"]["EXE"][1]
    assert exe["name"] == "FusionViewer" and exe["console"] is True and exe["strip"] is False
    assert exe["icon"].endswith("fusionviewer-256.png")
    assert run["calls"]["COLLECT"][1]["name"] == "FusionViewer"
    assert "BUNDLE" not in run["calls"]


def test_spec_windows_and_macos_builds_are_windowed(monkeypatch, tmp_path):
    win_run = run_spec(monkeypatch, "win32", tmp_path)
    win = win_run["calls"]
    assert win_run["env"]["a"].binaries[0][1] == str(tmp_path / "libtorch_cpu.so")  # not stripped
    assert win["EXE"][1]["console"] is False and win["EXE"][1]["icon"].endswith(".ico")
    assert "BUNDLE" not in win
    mac = run_spec(monkeypatch, "darwin", tmp_path)["calls"]
    assert mac["EXE"][1]["console"] is False and mac["EXE"][1]["strip"] is False
    bundle = mac["BUNDLE"][1]
    assert bundle["name"] == "FusionViewer.app" and bundle["version"] == __version__
    assert bundle["icon"].endswith(".icns")
    assert bundle["info_plist"]["CFBundleDocumentTypes"]


def test_build_script_and_launcher():
    assert subprocess.run(["bash", "-n", str(PKG / "build.sh")]).returncode == 0
    text = (PKG / "build.sh").read_text()
    assert "-c constraints.txt" in text and "fusionviewer.spec" in text
    assert "--selftest" in text and "--version" in text and "env -i" in text
    assert "packaging/.buildenv" in text and re.search(r"^/packaging/\.buildenv/$",
                                                     (REPO / ".gitignore").read_text(), re.M)
    launcher = (PKG / "launcher.py").read_text()
    assert "from fusionviewer.cli import main" in launcher


def test_launcher_runs_the_cli(tmp_path):
    """The frozen entry point prints the version like the installed `fusionviewer` command."""
    out = subprocess.run([sys.executable, str(PKG / "launcher.py"), "--version"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"fusionviewer {__version__}"


# --- Linux --------------------------------------------------------------------------------------

def read_desktop(path: Path) -> dict:
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(path)
    return dict(cp["Desktop Entry"])


def test_desktop_entry_keys():
    entry = read_desktop(DESKTOP)
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"].split()[0] == "FusionViewer" and entry["Exec"].endswith("%F")
    assert entry["Icon"] == "fusionviewer"
    mime = set(filter(None, entry["MimeType"].split(";")))
    assert mime == {"application/dicom", "application/x-nifti", "image/png"}
    defined = {t.get("type") for t in ET.parse(MIME_XML).getroot().iter(f"{MIME_NS}mime-type")}
    assert mime <= defined | SYSTEM_MIME


def test_nifti_mime_type_globs():
    root = ET.parse(MIME_XML).getroot()
    (nifti,) = [t for t in root.iter(f"{MIME_NS}mime-type")
                if t.get("type") == "application/x-nifti"]
    assert {g.get("pattern") for g in nifti.iter(f"{MIME_NS}glob")} == {"*.nii", "*.nii.gz"}
    assert nifti.find(f"{MIME_NS}comment").text


def test_desktop_file_validates():
    tool = shutil.which("desktop-file-validate")
    if tool is None:  # apt-get install desktop-file-utils; the key checks above still run
        print("desktop-file-validate not installed: checked the keys only")
        entry = read_desktop(DESKTOP)
        assert set(entry) >= {"Type", "Name", "Exec", "Icon", "MimeType", "Categories"}
        return
    out = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def fake_bundle(folder: Path) -> Path:
    """A stand-in dist/FusionViewer: a shell script that answers --version like the real one."""
    bundle = folder / "FusionViewer"
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / "FusionViewer"
    exe.write_text(f'#!/bin/sh\necho "fusionviewer {__version__}"\n')
    exe.chmod(0o755)
    (bundle / "_internal" / "marker.txt").write_text("payload")
    return bundle


def test_tarball_and_user_install_uninstall(tmp_path):
    bundle = fake_bundle(tmp_path / "dist")
    out = subprocess.run(["bash", str(PKG / "linux" / "make_tarball.sh"), "--bundle", str(bundle),
                          "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    arch = os.uname().machine
    tarball = tmp_path / "out" / f"FusionViewer-{__version__}-linux-{arch}.tar.gz"
    assert tarball.is_file(), out.stdout
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    top = tmp_path / "unpacked" / f"FusionViewer-{__version__}-linux-{arch}"
    assert (top / "FusionViewer" / "_internal" / "marker.txt").is_file()

    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    out = subprocess.run(["bash", str(top / "install.sh")], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    share = home / ".local" / "share"
    app = share / "fusionviewer" / "FusionViewer"
    assert (share / "fusionviewer" / "_internal" / "marker.txt").is_file()
    link = home / ".local" / "bin" / "fusionviewer"
    assert subprocess.run([str(link), "--version"], capture_output=True, text=True).stdout.strip() \
        == f"fusionviewer {__version__}"
    installed = share / "applications" / "fusionviewer.desktop"
    entry = read_desktop(installed)
    assert entry["Exec"] == f'"{app}" %F' and entry["TryExec"] == str(app)
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "fusionviewer.png").is_file()
    assert (share / "mime" / "packages" / "fusionviewer-mime.xml").is_file()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(installed)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
    if shutil.which("update-mime-database"):  # the user MIME database now knows .nii.gz
        globs = (share / "mime" / "globs2").read_text()
        assert "application/x-nifti:*.nii.gz" in globs

    out = subprocess.run(["bash", str(top / "install.sh"), "--uninstall"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not app.exists() and not link.exists() and not installed.exists()
    assert not (share / "mime" / "packages" / "fusionviewer-mime.xml").exists()


# --- Windows and macOS (built on their own OS; checked here) -------------------------------------

def test_info_plist_document_types():
    info = plistlib.loads(PLIST.read_bytes())
    assert info["CFBundleIdentifier"] == "org.fusionviewer.FusionViewer"
    assert info["NSHighResolutionCapable"] is True
    types_ = {uti for d in info["CFBundleDocumentTypes"] for uti in d["LSItemContentTypes"]}
    assert {"org.nema.dicom", "gov.nih.nifti-1", "public.png"} <= types_
    for doc in info["CFBundleDocumentTypes"]:
        assert doc["CFBundleTypeRole"] == "Viewer"
        assert doc["LSHandlerRank"] in {"Default", "Alternate"}
    declared = {d["UTTypeIdentifier"]: d for d in info["UTImportedTypeDeclarations"]}
    for uti in types_:  # every custom type must be declared with its file extensions
        if not uti.startswith(("public.", "org.gnu.")):
            exts = declared[uti]["UTTypeTagSpecification"]["public.filename-extension"]
            assert exts, uti
    def extensions(uti):
        return declared[uti]["UTTypeTagSpecification"]["public.filename-extension"]

    assert "dcm" in extensions("org.nema.dicom") and "nii" in extensions("gov.nih.nifti-1")


def iss_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in ISS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None:
            current.append(line)
    return sections


def test_inno_setup_script():
    text = ISS.read_text()
    defines = dict(re.findall(r'#define (\w+) "([^"]*)"', text))
    lit = spec_literals()
    assert defines["AppExe"] == f"{lit['APP_NAME']}.exe"
    assert defines["AppVersion"] == __version__, "bump the installer's default version"
    sections = iss_sections()
    setup = dict(line.split("=", 1) for line in sections["Setup"])
    icon = (ISS.parent / setup["SetupIconFile"].replace("\\", "/")).resolve()
    assert icon.is_file(), icon
    assert (ISS.parent / setup["OutputDir"].replace("\\", "/")).resolve() == REPO / "dist"
    assert setup["ChangesAssociations"] == "yes"
    (source,) = [s for s in sections["Files"] if s.startswith("Source:")]
    src = re.search(r'Source: "([^"]+)"', source).group(1).replace("\\", "/")
    assert (ISS.parent / src).resolve() == REPO / "dist" / lit["APP_NAME"] / "*"
    assert any("{group}" in s and "{#AppExe}" in s for s in sections["Icons"])  # Start menu
    assert any("{uninstallexe}" in s for s in sections["Icons"])
    tasks = {re.search(r'Name: "(\w+)"', t).group(1): t for t in sections["Tasks"]}
    for ext, task in ((".dcm", "assoc_dcm"), (".nii", "assoc_nii"), (".png", "assoc_png")):
        assert "Flags: unchecked" in tasks[task], f"{task} must be opt-in"
        claims = [r for r in sections["Registry"] if f"Software\\Classes\\{ext}" in r]
        assert claims and all(f"Tasks: {task}" in r for r in claims), ext
    assert any("shell\\open\\command" in r and '""%1""' in r for r in sections["Registry"])


# --- files handed over by the OS -----------------------------------------------------------------

def test_file_open_events_arrive_as_one_batch(qapp, qtbot, tmp_path):
    from PySide6.QtCore import QCoreApplication, QEvent, QUrl
    from PySide6.QtGui import QFileOpenEvent

    from fusionviewer.gui.file_open import FileOpenFilter

    opener = FileOpenFilter(batch_ms=50)
    qapp.installEventFilter(opener)
    try:
        a, b = tmp_path / "ct.dcm", tmp_path / "pet vol.nii.gz"
        with qtbot.waitSignal(opener.files_opened, timeout=3000) as blocker:
            QCoreApplication.sendEvent(qapp, QFileOpenEvent(str(a)))
            QCoreApplication.sendEvent(qapp, QFileOpenEvent(QUrl.fromLocalFile(str(b))))
            QCoreApplication.sendEvent(qapp, QFileOpenEvent(str(a)))  # Finder may repeat
        assert blocker.args == [[str(a), str(b)]]
        assert opener.eventFilter(qapp, QEvent(QEvent.Type.User)) is False
        with qtbot.assertNotEmitted(opener.files_opened, wait=120):
            opener.flush()  # nothing pending: no empty batch
    finally:
        qapp.removeEventFilter(opener)


def _parser_like_cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fusionviewer")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--screenshot")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("view").add_argument("paths", nargs="+")
    sub.add_parser("fuse").add_argument("paths", nargs="+")
    return parser


def test_bare_paths_are_routed_to_view(tmp_path, monkeypatch):
    from fusionviewer.cli import route_bare_paths

    a, b = tmp_path / "a.png", tmp_path / "fuse"
    a.write_bytes(b"x")
    b.write_bytes(b"x")
    parser = _parser_like_cli()
    assert route_bare_paths(parser, [str(a), str(b)]) == ["view", str(a), str(b)]
    shot = str(tmp_path / "shot.png")
    assert route_bare_paths(parser, ["--screenshot", shot, str(a)]) == \
        ["--screenshot", shot, "view", str(a)]
    for argv in (["fuse", str(a)], ["--demo"], [], [str(tmp_path / "missing.dcm")],
                 ["view", str(a)]):
        assert route_bare_paths(parser, argv) == argv
    monkeypatch.chdir(tmp_path)  # a file named like a sub-command does not hijack it
    assert route_bare_paths(parser, ["fuse", "a.png"]) == ["fuse", "a.png"]
    args = parser.parse_args(route_bare_paths(parser, [str(a)]))
    assert args.command == "view" and args.paths == [str(a)]


def test_real_cli_opens_bare_paths_in_view(tmp_path):
    from fusionviewer.cli import build_parser, route_bare_paths

    image = tmp_path / "scan.png"
    image.write_bytes(b"x")
    parser = build_parser()
    routed = route_bare_paths(parser, [str(image)])
    assert routed == ["view", str(image)], "the `view` sub-command is missing from the CLI"
    args = parser.parse_args(routed)
    assert args.command == "view"
    assert route_bare_paths(parser, ["info", str(image)]) == ["info", str(image)]


# --- the real build (opt-in) --------------------------------------------------------------------

def check_bundle(exe: Path, workdir: Path) -> None:
    """The built bundle runs from another folder with no Python environment: version,
    self-test (CNN fusion, metrics, PNG + DICOM) and the demo screenshot."""
    env = {"HOME": str(workdir), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}
    version = subprocess.run([str(exe), "--version"], cwd=workdir, env=env, capture_output=True,
                             text=True, timeout=300)
    assert version.stdout.strip() == f"fusionviewer {__version__}"
    selftest = subprocess.run([str(exe), "--selftest"], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=900)
    assert selftest.returncode == 0, selftest.stdout + selftest.stderr
    assert "FAIL" not in selftest.stdout and "OK   CNN fusion" in selftest.stdout
    shot = workdir / "shot.png"
    screenshot = subprocess.run([str(exe), "--demo", "--screenshot", str(shot)], cwd=workdir,
                                env=env, capture_output=True, text=True, timeout=900)
    assert screenshot.returncode == 0, screenshot.stdout + screenshot.stderr
    from PIL import Image as PILImage

    assert PILImage.open(shot).size[0] >= 800
    size = sum(p.stat().st_size for p in exe.parent.rglob("*")
               if p.is_file() and not p.is_symlink())
    # 1.08 GB when measured (packaging/README.md); the 600 MB target needs a design change.
    assert size < 1.25e9, f"bundle grew to {size / 1e6:.0f} MB"


@pytest.mark.skipif(not FULL_BUILD,
                    reason="full PyInstaller build (~6 min with packaging/.buildenv, 10-15 min "
                           "from scratch on 2 cores): set FUSIONVIEWER_TEST_PACKAGING=1 to run it")
def test_full_build_selftest_and_screenshot(tmp_path):
    out = subprocess.run(["bash", str(PKG / "build.sh")], cwd=REPO, capture_output=True,
                         text=True, timeout=3600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    check_bundle(REPO / "dist" / "FusionViewer" / "FusionViewer", tmp_path)
