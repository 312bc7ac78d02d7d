"""Registration: robust rigid/affine/deformable (Mattes MI, SimpleITK), quality report, resampling.

``register(fixed, moving)`` finds the transform mapping points of the fixed image's physical
space into the moving image's space (ITK convention), resamples the moving image onto the fixed
grid, and judges the result (``RegistrationResult.report``: good / doubtful / failed, rules in
``quality``). Volumes: ``volume`` (orientation search, masks, pyramid in mm); one-slice images
are registered in 2-D (``core``). ``save_transform`` / ``load_transform`` read and write ITK
.tfm files (fixed -> moving).
"""

from .core import (ABANDONED, DEFAULT_TUNING, STAGE, TRANSFORMS, RegistrationResult,
                   abandoned_work, apply_transform, load_transform, register, resample_to, save_transform)
from .quality import VERDICTS, RegistrationReport, affine_problem

__all__ = ["ABANDONED", "DEFAULT_TUNING", "STAGE", "TRANSFORMS", "VERDICTS", "RegistrationReport",
           "RegistrationResult", "abandoned_work", "affine_problem", "apply_transform", "load_transform", "register",
           "resample_to", "save_transform"]
