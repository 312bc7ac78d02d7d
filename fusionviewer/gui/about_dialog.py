"""Help > About: version, model card, checksum, device, research-use notice."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from .. import RESEARCH_ONLY, __version__


def model_card_text() -> str:
    """The bundled model card as text (fusion.weights), or why it is unavailable."""
    try:
        from ..fusion import weights
    except ImportError as exc:
        return f"model card unavailable ({exc})"
    for name in ("model_card_text", "describe", "card_text"):
        fn = getattr(weights, name, None)
        if callable(fn):
            try:
                return str(fn())
            except Exception as exc:  # noqa: BLE001 - shown, not fatal
                return f"model card unavailable ({exc})"
    for name in ("load_model_card", "model_card", "read_model_card"):
        fn = getattr(weights, name, None)
        if callable(fn):
            try:
                return _card_to_text(fn())
            except Exception as exc:  # noqa: BLE001
                return f"model card unavailable ({exc})"
    return "model card unavailable"


def _card_to_text(card: Any) -> str:
    if isinstance(card, dict):
        return "\n".join(f"{k}: {v}" for k, v in card.items())
    if hasattr(card, "__dataclass_fields__"):
        return "\n".join(f"{k}: {getattr(card, k)}" for k in card.__dataclass_fields__)
    return str(card)


def device_text() -> str:
    """What compute device the CNN would use (fusion.inference), or a torch-based summary."""
    try:
        from ..fusion import inference
    except ImportError:
        inference = None
    for name in ("device_info", "describe_device", "device_summary", "available_devices"):
        fn = getattr(inference, name, None) if inference else None
        if callable(fn):
            try:
                value = fn()
            except Exception as exc:  # noqa: BLE001
                return f"unknown ({exc})"
            return _card_to_text(value) if not isinstance(value, str) else value
    try:
        import torch
    except ImportError:
        return "CPU (PyTorch not installed)"
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    return f"CPU only (PyTorch {torch.__version__}, no CUDA GPU found)"


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, device: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("About FusionViewer")
        title = QLabel(f"<h2>FusionViewer {__version__}</h2>"
                       "<p>Multimodal medical image fusion (CT, MRI, PET, SPECT) with a "
                       "supervised CNN, after Li et al., Front. Neurosci. 2021.</p>"
                       f"<p style='color:#b00000'><b>{RESEARCH_ONLY}.</b></p>")
        title.setWordWrap(True)
        title.setTextFormat(Qt.TextFormat.RichText)
        self.text = QTextBrowser()
        card = model_card_text()
        dev = device or device_text()
        self.text.setHtml(f"<h3>Compute device</h3><p>{html.escape(dev)}</p>"
                          f"<h3>Model card</h3><pre>{html.escape(card)}</pre>")
        self.plain = f"FusionViewer {__version__}\n{RESEARCH_ONLY}\nDevice: {dev}\n{card}"
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(560, 480)
