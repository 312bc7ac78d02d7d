"""``fusionviewer fuse ... --method cnn`` end to end on a real pair."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from harvard_data import harvard_pair_paths, read_gray_u8
from fusionviewer.cli import main
from fusionviewer.fusion.inference import fuse_cnn


def test_cli_fuse_with_cnn_writes_a_faithful_png(harvard, tmp_path, capsys):
    ct, mri = harvard_pair_paths("ct-mri", "2010.png")
    out = tmp_path / "fused.png"
    rc = main(["fuse", str(ct), str(mri), "--method", "cnn", "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    fused = np.asarray(PILImage.open(out))
    a, b = read_gray_u8(ct), read_gray_u8(mri)
    assert fused.shape == a.shape and fused.dtype == np.uint8
    # the CLI gives what the CNN gives on the normalized (u8 / 255) sources
    direct = fuse_cnn([a / 255.0, b / 255.0], device="cpu")
    assert np.abs(fused.astype(int) - np.rint(direct * 255)).max() <= 1
    # a fusion, not a copy of either source: related to both, equal to neither
    for src in (a, b):
        assert not np.array_equal(fused, src)
        assert np.corrcoef(fused.ravel(), src.ravel())[0, 1] > 0.3
    assert "CNN unavailable" not in capsys.readouterr().err
