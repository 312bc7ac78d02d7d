"""Where bundled files live: resources/ and models/ beside the package (source tree or bundle)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def app_root() -> Path:
    """The folder holding resources/ and models/.

    In order: $FUSIONVIEWER_ROOT, the PyInstaller bundle, the source tree (a checkout or an
    editable install), then ``<prefix>/share/fusionviewer`` where a wheel installs them.
    """
    override = os.environ.get("FUSIONVIEWER_ROOT")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    source_tree = Path(__file__).resolve().parent.parent
    installed = Path(sys.prefix) / "share" / "fusionviewer"
    if not (source_tree / "models").is_dir() and (installed / "models").is_dir():
        return installed
    return source_tree


def resource_path(*parts: str) -> Path:
    """A path under resources/ (icons, sample images)."""
    return app_root().joinpath("resources", *parts)


def model_path(*parts: str) -> Path:
    """A path under models/ (bundled weights and model card)."""
    return app_root().joinpath("models", *parts)


def samples_dir() -> Path:
    return resource_path("samples")
