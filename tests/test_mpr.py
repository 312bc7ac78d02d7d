"""Three-plane geometry: canonical (S, P, L) views, radiological planes, points, MIP."""

from __future__ import annotations

import numpy as np
import pytest

from fusionviewer.analysis import mpr


def test_identity_direction_is_already_canonical():
    o = mpr.Orientation.of((1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert o.perm == (0, 1, 2) and o.flip == (False, False, False)
    a = np.arange(24).reshape(2, 3, 4)
    assert np.shares_memory(mpr.canonical(a, o), a)


def test_flipped_and_permuted_directions():
    # x axis towards patient right (-L), y towards superior, z towards posterior (a coronal stack)
    direction = (-1, 0, 0, 0, 0, 1, 0, 1, 0)
    o = mpr.Orientation.of(direction)
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # [z=P, y=S, x=R]
    c = mpr.canonical(a, o)
    assert c.shape == (3, 2, 4)  # [S, P, L]
    # the voxel at array (z=1, y=2, x=0) is the most posterior, superior and rightmost
    assert c[2, 1, 3] == a[1, 2, 0]
    spacing = mpr.canonical_spacing((0.5, 2.0, 3.0), o)
    assert spacing == (2.0, 3.0, 0.5)


def test_planes_are_radiological():
    o = mpr.Orientation.of((1, 0, 0, 0, 1, 0, 0, 0, 1))
    vol = np.zeros((5, 6, 7))  # [S, P, L]
    vol[4, 0, 0] = 1  # most superior, anterior, patient's right
    c = mpr.canonical(vol, o)
    ax = mpr.plane_image(c, "axial", 4)
    assert ax[0, 0] == 1                      # anterior at the top, right on the screen's left
    cor = mpr.plane_image(c, "coronal", 0)
    assert cor.shape == (5, 7) and cor[0, 0] == 1     # superior at the top, right on the left
    sag = mpr.plane_image(c, "sagittal", 0)
    assert sag.shape == (5, 6) and sag[0, 0] == 1     # superior at the top, anterior on the left
    assert mpr.EDGE_LETTERS["axial"] == ("R", "L", "A", "P")


def test_plane_pixel_sizes_keep_the_aspect():
    o = mpr.Orientation.of((1, 0, 0, 0, 1, 0, 0, 0, 1))
    cs = mpr.canonical_spacing((0.98, 0.98, 5.0), o)
    assert mpr.plane_pixel_mm(cs, "coronal") == (0.98, 5.0)
    assert mpr.plane_pixel_mm(cs, "axial") == (0.98, 0.98)


@pytest.mark.parametrize("plane", mpr.PLANES)
def test_plane_points_round_trip(plane):
    shape = (5, 6, 7)
    spl = (2.5, 3.25, 4.75)
    idx, col, row = mpr.canonical_to_plane(plane, spl, shape)
    assert mpr.plane_to_canonical(plane, idx, col, row, shape) == pytest.approx(spl)


def test_patient_points_round_trip_through_array_coordinates():
    direction = (0, 0, 1, 1, 0, 0, 0, 1, 0)
    origin, spacing = (10.0, -5.0, 3.0), (0.5, 2.0, 3.0)
    zyx = (1.5, 2.5, 3.5)
    point = mpr.array_to_patient(zyx, origin, spacing, direction)
    assert mpr.patient_to_array(point, origin, spacing, direction) == pytest.approx(zyx)
    o = mpr.Orientation.of(direction)
    shape = (4, 5, 6)
    spl = mpr.array_to_canonical(zyx, shape, o)
    assert mpr.canonical_to_array(spl, shape, o) == pytest.approx(zyx)


def test_mip_finds_the_hot_spot_and_rotates():
    vol = np.zeros((10, 20, 20), np.float32)  # [S, P, L]
    vol[7, 5, 3] = 9.0
    m = mpr.mip(vol)
    assert m.shape == (10, 20) and m.max() == 9.0
    assert np.unravel_index(np.argmax(m), m.shape) == (2, 3)  # superior at the top
    turned = mpr.mip(vol, 90.0)
    assert np.unravel_index(np.argmax(turned), turned.shape)[1] != 3
