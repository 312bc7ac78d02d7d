"""PySide6 + pyqtgraph desktop app: a thin layer over the Qt-free core.

``document.Document`` holds the state (sources, options, result, slice, cursor, ROI, metrics) and
emits signals; widgets observe it and never compute; slow work runs in ``workers``.
"""
