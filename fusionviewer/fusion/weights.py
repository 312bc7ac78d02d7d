"""Bundled CNN weights: locate, verify (SHA-256) and load them safely; model card text.

The weights file ``models/fusion_cnn.pt`` holds ``{"config": {...}, "state_dict": {...}}`` and
is loaded with ``torch.load(..., weights_only=True)`` (no pickled code). Its SHA-256 is recorded
in ``models/weights.sha256`` (``<hex>  <file name>``, the format of ``sha256sum``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import ModelError
from ..paths import model_path

WEIGHTS_NAME = "fusion_cnn.pt"
CHECKSUM_NAME = "weights.sha256"
CARD_NAME = "README.md"


def default_weights_path() -> Path:
    """The bundled weights file under models/."""
    return model_path(WEIGHTS_NAME)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def recorded_checksum(weights: Path, checksum_file: Path | None = None) -> str:
    """The SHA-256 recorded for ``weights`` in the checksum file beside it."""
    checksum_file = checksum_file or weights.with_name(CHECKSUM_NAME)
    if not checksum_file.is_file():
        raise ModelError(f"{checksum_file}: checksum file missing, cannot verify the CNN weights")
    for line in checksum_file.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == weights.name:
            return parts[0].lower()
    raise ModelError(f"{checksum_file}: no checksum recorded for {weights.name}")


def write_checksum(weights: str | Path, checksum_file: str | Path | None = None) -> str:
    """Record the SHA-256 of ``weights`` in the checksum file beside it (used after training)."""
    weights = Path(weights)
    checksum_file = Path(checksum_file) if checksum_file else weights.with_name(CHECKSUM_NAME)
    digest = sha256_file(weights)
    checksum_file.write_text(f"{digest}  {weights.name}\n", encoding="utf-8")
    return digest


def load_checkpoint(path: str | Path | None = None, *, verify: bool = True,
                    checksum_file: str | Path | None = None) -> dict:
    """Read and verify a weights file; returns ``{"config": dict, "state_dict": dict}``.

    Raises ModelError when the file is missing, fails its checksum or cannot be read.
    """
    import torch

    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise ModelError(f"{path}: CNN weights file not found")
    if verify:
        expected = recorded_checksum(path, Path(checksum_file) if checksum_file else None)
        actual = sha256_file(path)
        if actual != expected:
            raise ModelError(f"{path}: checksum mismatch (file {actual[:12]}..., recorded "
                             f"{expected[:12]}...); the weights are corrupt or were replaced")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged zip/pickle
        raise ModelError(f"{path}: cannot read the CNN weights ({type(exc).__name__})") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise ModelError(f"{path}: not a FusionViewer weights file (missing config/state_dict)")
    return ckpt


def build_model(ckpt: dict):
    """Instantiate the network described by a checkpoint and load its weights (eval mode)."""
    from .model import PyramidFusionNet

    try:
        model = PyramidFusionNet(**ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError, KeyError) as exc:
        raise ModelError(f"CNN weights do not match the network: {exc}") from exc
    return model.eval()


def model_card() -> str:
    """The model card (models/README.md) as text, for the GUI About box."""
    card = model_path(CARD_NAME)
    try:
        return card.read_text(encoding="utf-8")
    except OSError:
        return "Model card not found (models/README.md)."
