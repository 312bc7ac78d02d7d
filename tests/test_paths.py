"""Where the app finds its bundled model and resources, in a checkout and after a wheel install."""

from __future__ import annotations

import sys
from pathlib import Path

from fusionviewer import paths


def test_checkout_finds_models_and_samples():
    assert (paths.model_path("weights.sha256")).is_file()
    assert any(paths.samples_dir().rglob("*.png"))


def test_environment_override_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("FUSIONVIEWER_ROOT", str(tmp_path))
    assert paths.model_path("x.pt") == tmp_path / "models" / "x.pt"


def test_wheel_install_uses_prefix_share(monkeypatch, tmp_path):
    """A non-editable install has no models/ beside the package: <prefix>/share/fusionviewer."""
    site = tmp_path / "site-packages" / "fusionviewer"
    site.mkdir(parents=True)
    prefix = tmp_path / "prefix"
    (prefix / "share" / "fusionviewer" / "models").mkdir(parents=True)
    monkeypatch.delenv("FUSIONVIEWER_ROOT", raising=False)
    monkeypatch.setattr(paths, "__file__", str(site / "paths.py"))
    monkeypatch.setattr(sys, "prefix", str(prefix))
    assert paths.app_root() == prefix / "share" / "fusionviewer"


def test_pyproject_installs_every_bundled_file():
    """Each resources/ folder and the weights appear in pyproject's data-files."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    data_files = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    installed_dirs = {k.removeprefix("share/fusionviewer/") for k in data_files}
    resource_dirs = {str(p.parent.relative_to(root)) for p in (root / "resources").rglob("*.*")
                     if "__pycache__" not in p.parts}
    assert resource_dirs <= installed_dirs, resource_dirs - installed_dirs
    assert "models/fusion_cnn.pt" in data_files["share/fusionviewer/models"]
