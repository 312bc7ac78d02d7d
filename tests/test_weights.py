"""Weights loading: good file, corrupt file, wrong checksum, missing file/checksum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fusionviewer.errors import ModelError
from fusionviewer.fusion import weights
from fusionviewer.fusion.inference import fuse_cnn
from fusionviewer.fusion.model import PyramidFusionNet
from fusionviewer.training.train import save_model


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(1)
    model = PyramidFusionNet(levels=3, width=8)
    path = tmp_path / "fusion_cnn.pt"
    digest = save_model(model, path)
    return path, digest, model


def test_good_weights_load_and_match(saved):
    path, digest, model = saved
    assert weights.sha256_file(path) == digest == weights.recorded_checksum(path)
    loaded = weights.build_model(weights.load_checkpoint(path))
    assert loaded.config() == model.config()
    x = torch.rand(1, 2, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_corrupt_file_with_matching_checksum_is_a_model_error(saved):
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))  # truncated zip
    weights.write_checksum(path)  # checksum of the damaged bytes: only loading can catch it
    with pytest.raises(ModelError, match="cannot read"):
        weights.load_checkpoint(path)


def test_wrong_checksum_is_a_model_error(saved):
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        weights.load_checkpoint(path)
    with pytest.raises(ModelError, match="checksum mismatch"):
        fuse_cnn([np.zeros((64, 64)), np.ones((64, 64))], weights=path, device="cpu")


def test_missing_weights_or_checksum_is_a_model_error(saved, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        weights.load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(ModelError, match="not found"):
        fuse_cnn([np.zeros((64, 64)), np.ones((64, 64))], weights=tmp_path / "nope.pt")
    path, _, _ = saved
    (tmp_path / weights.CHECKSUM_NAME).unlink()
    with pytest.raises(ModelError, match="checksum file missing"):
        weights.load_checkpoint(path)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "fusion_cnn.pt"
    torch.save({"config": {}, "state_dict": {}, "x": np.random.default_rng(0)}, path)
    weights.write_checksum(path)
    with pytest.raises(ModelError, match="cannot read"):
        weights.load_checkpoint(path)


def test_bundled_weights_verify_and_are_small():
    path = weights.default_weights_path()
    assert path.stat().st_size <= 4 * 1024 * 1024
    model = weights.build_model(weights.load_checkpoint(path))
    assert sum(p.numel() for p in model.parameters()) <= 500_000
    assert "SHA-256" in weights.model_card() and weights.sha256_file(path) in weights.model_card()
