"""Shared test fixtures. Tests use real images from ../shared/data/harvard (read-only)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from harvard_data import (HARVARD, REPO, SHARED, TASK_FOLDERS, harvard_pair_paths,  # noqa: E402,F401
                          harvard_rows, read_gray_u8)


@pytest.fixture(scope="session")
def harvard() -> Path:
    if not HARVARD.is_dir():
        pytest.fail(f"shared data not found at {HARVARD}: tests need ../shared beside the repo")
    return HARVARD


@pytest.fixture
def ct_mri_pair(harvard) -> tuple[Path, Path]:
    return harvard_pair_paths("ct-mri", "2010.png")


@pytest.fixture
def pet_mri_pair(harvard) -> tuple[Path, Path]:
    return harvard_pair_paths("pet-mri", harvard_rows("pet-mri", "val")[0]["name"])


@pytest.fixture
def spect_mri_pair(harvard) -> tuple[Path, Path]:
    return harvard_pair_paths("spect-mri", harvard_rows("spect-mri", "val")[0]["name"])
