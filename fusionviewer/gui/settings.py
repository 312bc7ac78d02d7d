"""QSettings for the app (recent files, window layout, last folders); tests redirect the path."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

ORGANIZATION = "FusionViewer"
APPLICATION = "FusionViewer"
MAX_RECENT = 10


def app_settings() -> QSettings:
    """The app's settings, INI format (FUSIONVIEWER_SETTINGS_DIR or QSettings.setPath moves it)."""
    folder = os.environ.get("FUSIONVIEWER_SETTINGS_DIR")
    if folder:
        return QSettings(os.path.join(folder, "fusionviewer.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def recent_files(settings: QSettings) -> list[str]:
    """Most recent first."""
    value = settings.value("recent/files", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or [])]


def add_recent(settings: QSettings, paths: list[str]) -> list[str]:
    """Put paths at the top of the recent list (deduplicated, at most MAX_RECENT)."""
    items = [str(p) for p in paths] + [p for p in recent_files(settings) if p not in paths]
    items = items[:MAX_RECENT]
    settings.setValue("recent/files", items)
    return items
