"""``fuse --explain DIR``: contribution shares and residuals as NIfTI + PNG through the guard."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from PIL import Image as PILImage

from fusionviewer.cli import main


def test_fuse_explain_writes_shares_and_residuals(tmp_path):
    rng = np.random.default_rng(1)
    a = (rng.random((3, 40, 48)) * 255).astype(np.uint8)
    b = np.zeros_like(a)
    b[:, 10:30, 12:36] = 200
    for name, arr in (("a.nii.gz", a), ("b.nii.gz", b)):
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing((1.0, 1.0, 3.0))
        sitk.WriteImage(img, str(tmp_path / name))
    out = tmp_path / "explain"
    code = main(["fuse", str(tmp_path / "a.nii.gz"), str(tmp_path / "b.nii.gz"), "-o",
                 str(tmp_path / "f.nii.gz"), "--method", "gff", "--explain", str(out),
                 "--no-progress"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["contribution.png", "contribution_A.nii.gz", "contribution_B.nii.gz",
                     "residual_A.nii.gz", "residual_A.png", "residual_B.nii.gz",
                     "residual_B.png"]
    sa = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "contribution_A.nii.gz")))
    sb = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "contribution_B.nii.gz")))
    assert sa.shape == a.shape
    np.testing.assert_allclose(sa + sb, 1.0, atol=1e-5)
    assert sitk.ReadImage(str(out / "residual_A.nii.gz")).GetSpacing()[2] == 3.0
    rgb = np.asarray(PILImage.open(out / "contribution.png"))
    assert rgb.shape == (40, 48, 3)
    # a second run refuses to replace the explanation without --force
    code = main(["fuse", str(tmp_path / "a.nii.gz"), str(tmp_path / "b.nii.gz"), "-o",
                 str(tmp_path / "g.nii.gz"), "--method", "gff", "--explain", str(out),
                 "--no-progress"])
    assert code == 2
    assert not (tmp_path / "g.nii.gz").exists()
