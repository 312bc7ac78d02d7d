"""Every choice of a fusion (``FusionOptions``) and every allowed value the front ends offer.

argparse choices, GUI combo boxes and error messages read the tables below; ``validate()`` is
the only validator and runs before anything is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import InputError
from ..fusion import BLOCK_SIZES, DEFAULT_METHOD, DESCRIPTIONS, available_methods, \
    check_block_size
from ..image import canonical_modality
from ..progress import STAGES

# Method name -> label shown in menus and reports; DESCRIPTIONS (fusion) has the long text.
METHOD_LABELS = {"cnn": "CNN (bundled model)", "average": "Average",
                 "laplacian": "Laplacian pyramid (LP-4)", "gff": "Guided filtering (GFF)"}
# "auto" (the default): identity in patient coordinates when the DICOM sources share one Frame
# of Reference or carry none (NIfTI, MHA, NRRD, rasters), rigid when their Frames differ (the
# rule: fusionviewer.geometry.decide_registration). "none": identity in patient coordinates.
REGISTRATIONS = {"auto": "Automatic (by Frame of Reference)",
                 "none": "None (same patient coordinates)", "rigid": "Rigid", "affine": "Affine",
                 "deformable": "Deformable (B-spline on affine)"}
DEFAULT_REGISTRATION = "auto"
INITS = {"search": "Orientation search (24 turns x 2 centres)", "geometry": "Image centres",
         "moments": "Centres of mass"}
DEVICES = {"auto": "Automatic", "cpu": "CPU", "cuda": "GPU (CUDA)"}
FORMATS = ("png", "nifti", "dicom")

__all__ = ["BLOCK_SIZES", "DEFAULT_REGISTRATION", "DESCRIPTIONS", "DEVICES", "FORMATS", "INITS", "METHOD_LABELS",
           "REGISTRATIONS", "STAGES", "FusionOptions", "choice_error"]


def choice_error(what: str, value: Any, allowed) -> InputError:
    """The one wording of 'unknown X': names the value and the allowed ones."""
    return InputError(f"unknown {what} '{value}' (choose from {', '.join(map(str, allowed))})")


@dataclass(frozen=True)
class FusionOptions:
    """What to do with the sources; ``fixed_index`` is 0-based (the CLI's ``--fixed`` is 1-based).

    ``modalities`` / ``series_uids``: None or one entry per source (None = the file's own /
    the only series). ``normalization``: None (automatic for every source) or one entry per
    source, each None (automatic), a mode name ("auto", "window", "percentile", "fixed", "functional"), a CT
    preset name ("brain", "soft tissue", "bone") or a dict of ``normalize()`` arguments.
    ``method_options`` go to the fusion method (e.g. ``{"levels": 3}`` for laplacian).
    ``transforms``: None or one entry per source, each None (register as ``register`` says) or
    a given fixed->moving transform (a SimpleITK transform or a .tfm path, ITK convention) that
    places that source on the fixed grid without optimisation (the GUI's manual adjustment).
    """

    method: str = DEFAULT_METHOD
    register: str = DEFAULT_REGISTRATION
    fixed_index: int = 0
    init: str = "search"
    block_size: int | None = None
    device: str = "auto"
    normalization: Sequence[Any] | None = None
    batch_size: int | None = None
    method_options: dict[str, Any] = field(default_factory=dict)
    modalities: Sequence[str | None] | None = None
    series_uids: Sequence[str | None] | None = None
    transforms: Sequence[Any] | None = None

    def validate(self, n_sources: int | None = None) -> None:
        """Raise InputError for any value outside the tables above, or not fitting n_sources."""
        if self.method not in available_methods():
            raise choice_error("fusion method", self.method, available_methods())
        if self.register not in REGISTRATIONS:
            raise choice_error("registration", self.register, REGISTRATIONS)
        if self.init not in INITS:
            raise choice_error("initialisation", self.init, INITS)
        if self.device not in DEVICES:
            raise choice_error("device", self.device, DEVICES)
        check_block_size(self.block_size)
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch size must be positive, got {self.batch_size}")
        for name in self.modalities or ():
            if name:
                canonical_modality(name)
        if n_sources is None:
            return
        if n_sources < 2:
            raise InputError(f"fusion needs at least two sources, got {n_sources}")
        if not 0 <= self.fixed_index < n_sources:
            raise InputError(f"fixed source {self.fixed_index + 1} out of range 1..{n_sources}")
        self._validate_transforms(n_sources)
        for what, values in (("normalization", self.normalization),
                             ("modality", self.modalities), ("series", self.series_uids),
                             ("transform", self.transforms)):
            if values is not None and len(values) != n_sources:
                raise InputError(f"{len(values)} {what} setting(s) given for {n_sources} "
                                 "sources (give one per source)")

    def _validate_transforms(self, n_sources: int) -> None:
        """Given transforms: none for the fixed source; SimpleITK transforms or .tfm files."""
        if self.transforms is None:
            return
        from pathlib import Path

        for k, tx in enumerate(self.transforms):
            if tx is None:
                continue
            if k == self.fixed_index:
                raise InputError(f"source {k + 1} is the fixed image: it takes no transform")
            if isinstance(tx, (str, Path)):
                if not str(tx).lower().endswith(".tfm"):
                    raise InputError("transform files must end in .tfm", str(tx))
                if not Path(tx).is_file():
                    raise InputError("transform file not found", str(tx))
            elif not hasattr(tx, "TransformPoint"):
                raise InputError(f"transform for source {k + 1} is neither a .tfm path nor a "
                                 f"SimpleITK transform ({type(tx).__name__})")

    def per_source(self, name: str, n: int) -> list:
        """``modalities``/``series_uids``/``normalization`` as a list of n entries."""
        values = getattr(self, name)
        return [None] * n if values is None else list(values)
