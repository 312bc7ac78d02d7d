"""Help > About: version, model card, checksum, device, research-use notice."""

from __future__ import annotations

import html
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from .. import RESEARCH_ONLY, __version__


def model_card_text() -> str:
    """The bundled model card (fusion.weights.model_card)."""
    from ..fusion import weights

    return weights.model_card()


def checksum_text() -> str:
    """Weights file, its SHA-256 and whether it matches the recorded one."""
    from ..errors import ModelError
    from ..fusion import weights

    path = weights.default_weights_path()
    if not path.is_file():
        return f"{path}: not found (the CNN falls back to guided filtering)"
    actual = weights.sha256_file(path)
    try:
        expected = weights.recorded_checksum(path)
    except ModelError as exc:
        return f"{path.name} SHA-256 {actual} ({exc})"
    verdict = "verified" if expected == actual else f"MISMATCH, recorded {expected}"
    return f"{path.name} SHA-256 {actual} ({verdict})"


def probe_devices() -> dict:
    """What the CNN can run on: {'text': one line, 'cuda': bool, 'auto': device 'auto' picks}."""
    try:
        import torch

        from ..fusion.inference import select_device
    except ImportError as exc:
        return {"text": f"CPU (PyTorch unavailable: {exc})", "cuda": False, "auto": "cpu"}
    auto = select_device("auto")
    cuda = bool(torch.cuda.is_available())
    if cuda:
        text = f"CUDA GPU {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    elif auto == "mps":
        text = "Apple GPU (MPS)"
    else:
        text = f"CPU only, {torch.get_num_threads()} threads (no CUDA GPU found)"
    return {"text": f"{text}; PyTorch {torch.__version__}; automatic uses {auto}",
            "cuda": cuda, "auto": auto}


def device_text() -> str:
    """One line describing the compute devices found."""
    return probe_devices()["text"]


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
        checksum = checksum_text()
        dev = device or device_text()
        self.text.setHtml(f"<h3>Compute device</h3><p>{html.escape(dev)}</p>"
                          f"<h3>Weights</h3><p>{html.escape(checksum)}</p>"
                          f"<h3>Model card</h3><pre>{html.escape(card)}</pre>")
        self.plain = (f"FusionViewer {__version__}\n{RESEARCH_ONLY}\nDevice: {dev}\n"
                      f"Weights: {checksum}\n{card}")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(560, 480)
