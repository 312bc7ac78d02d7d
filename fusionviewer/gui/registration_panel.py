"""Registration quality (verdict banner) and manual adjustment of the moving source.

``QualityLabel`` shows each registered source's report next to the registration choice, as a
warning banner when doubtful or failed. ``RegistrationPanel`` nudges the moving source's
fixed->moving transform (translation in mm, rotation in degrees, about the fixed image's centre)
with keys and sliders over a live checkerboard of the current slice, with undo/redo and .tfm
load/save (ITK convention, as ``register --save-transform`` writes); *Apply* reruns the fusion
with the adjusted transform (``FusionOptions.transforms``).

Keys (panel focused): arrows move x / y by 1 mm, + / - move z; with Ctrl they rotate (about z
for left/right, x for up/down, y for + / -) by 1 degree; Shift makes steps ten times smaller.
Ctrl+Z / Ctrl+Y undo / redo.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QPushButton, QSlider, QVBoxLayout, QWidget)

from ..image import Image
from .document import SLOT_NAMES, Document

PARAMS = ("tx", "ty", "tz", "rx", "ry", "rz")  # mm, mm, mm, degrees, degrees, degrees
LIMITS = {"t": 30.0, "r": 20.0}  # slider range: +-30 mm, +-20 degrees
SLIDER_STEPS = 10  # slider ticks per mm or degree (0.1 resolution)
BANNER = {"doubtful": "color: #7a4b00; background: #fff1c2; padding: 3px;",
          "failed": "color: #ffffff; background: #b00020; padding: 3px;",
          "good": "color: #1b5e20; padding: 3px;", "given": "color: #333; padding: 3px;"}


def quality_lines(result: Any) -> list[tuple[str, str]]:
    """(verdict, text) per registered source of a fusion result."""
    lines = []
    for k, reg in enumerate(getattr(result, "registrations", None) or []):
        if reg is None:
            continue
        name = SLOT_NAMES[k] if k < len(SLOT_NAMES) else str(k + 1)
        if reg.report is None:
            lines.append(("given", f"{name}: given transform (manual; not judged)"))
        else:
            lines.append((reg.report.verdict, f"{name}: {reg.report.summary()}"))
    return lines


class QualityLabel(QLabel):
    """The registration verdicts of the shown result; a banner when doubtful or failed."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__("", parent)
        self.doc = doc
        self.setWordWrap(True)
        self.verdicts: list[str] = []
        doc.resultChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        lines = quality_lines(self.doc.result) if self.doc.result_fits_sources() else []
        self.verdicts = [v for v, _ in lines]
        worst = next((v for v in ("failed", "doubtful") if v in self.verdicts), None)
        text = "\n".join(t for _, t in lines)
        if worst:
            text = f"Warning: registration {worst}. " + text
        self.setText(text)
        self.setToolTip(text)
        self.setStyleSheet(BANNER[worst or (self.verdicts[0] if self.verdicts else "given")])
        self.setVisible(bool(lines))

    @property
    def is_warning(self) -> bool:
        return any(v in ("failed", "doubtful") for v in self.verdicts)


def adjustment(params: dict[str, float], centre: np.ndarray, dim: int) -> sitk.Transform:
    """The motion of the moving source's content: rotation (degrees) about ``centre``, then a
    translation (mm); 2-D uses tx, ty, rz."""
    if dim == 2:
        return sitk.Euler2DTransform(tuple(centre[:2]), np.deg2rad(params["rz"]),
                                     (params["tx"], params["ty"]))
    return sitk.Euler3DTransform(tuple(centre), *np.deg2rad([params["rx"], params["ry"],
                                                            params["rz"]]),
                                 (params["tx"], params["ty"], params["tz"]))


def _parts(tx: sitk.Transform) -> tuple[np.ndarray, np.ndarray]:
    dim = tx.GetDimension()
    a = np.reshape(tx.GetMatrix(), (dim, dim))
    c, t = np.asarray(tx.GetCenter()), np.asarray(tx.GetTranslation())
    return a, t + c - a @ c


def adjusted(base: sitk.Transform, params: dict[str, float], centre: np.ndarray
             ) -> sitk.Transform:
    """``base`` (fixed -> moving) after the content moved by ``adjustment``: base o motion^-1,
    the same kind as ``base`` (Euler for rigid, affine for affine), centred at ``centre``."""
    dim = base.GetDimension()
    motion = adjustment(params, centre, dim).GetInverse()
    a1, b1 = _parts(base)
    a2, b2 = _parts(motion)
    a, b = a1 @ a2, a1 @ b2 + b1
    c = np.asarray(centre[:dim], dtype=float)
    if isinstance(base, sitk.AffineTransform):
        out: sitk.Transform = sitk.AffineTransform(dim)
    else:
        out = sitk.Euler2DTransform() if dim == 2 else sitk.Euler3DTransform()
    out.SetCenter(tuple(c))
    out.SetMatrix(tuple(map(float, a.ravel())))
    out.SetTranslation(tuple(map(float, a @ c + b - c)))
    return out


def _u8(arr: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(arr, [1.0, 99.0]) if arr.size else (0.0, 1.0)
    return (np.clip((arr - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)


class RegistrationPanel(QGroupBox):
    """Manual adjustment of one moving source over a live checkerboard; Apply re-fuses."""

    applyRequested = Signal()
    transformChanged = Signal()

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__("Registration check and manual adjustment", parent)
        self.doc = doc
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.base: sitk.Transform | None = None
        self.params = {p: 0.0 for p in PARAMS}
        self.undo_stack: list[tuple[sitk.Transform | None, dict]] = []
        self.redo_stack: list[tuple[sitk.Transform | None, dict]] = []
        self.moving_combo = QComboBox()
        self.moving_combo.setToolTip("The source to adjust (moving onto the fixed image)")
        self.moving_combo.currentIndexChanged.connect(lambda _i: self.reset_from_result())
        self.preview = QLabel("")
        self.preview.setMinimumSize(200, 200)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setToolTip("Checkerboard of the fixed image and the adjusted moving source "
                                "(current slice)")
        self.sliders: dict[str, QSlider] = {}
        grid = QGridLayout()
        for i, p in enumerate(PARAMS):
            limit = LIMITS[p[0]]
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(-limit * SLIDER_STEPS), int(limit * SLIDER_STEPS))
            slider.setTracking(False)  # one step per release: one undo entry
            slider.valueChanged.connect(lambda v, p=p: self.set_param(p, v / SLIDER_STEPS))
            unit = "mm" if p[0] == "t" else "°"
            grid.addWidget(QLabel(f"{p} ({unit})"), i, 0)
            grid.addWidget(slider, i, 1)
            self.sliders[p] = slider
        self.undo_btn, self.redo_btn = QPushButton("Undo"), QPushButton("Redo")
        self.load_btn, self.save_btn = QPushButton("Load .tfm…"), QPushButton("Save .tfm…")
        self.apply_btn = QPushButton("Apply (re-fuse)")
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.setToolTip("Forget the given transform: register as the pipeline says")
        self.undo_btn.clicked.connect(self.undo)
        self.redo_btn.clicked.connect(self.redo)
        self.load_btn.clicked.connect(self._ask_load)
        self.save_btn.clicked.connect(self._ask_save)
        self.apply_btn.clicked.connect(self.apply)
        self.clear_btn.clicked.connect(self.clear)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        for b in (self.undo_btn, self.redo_btn, self.load_btn, self.save_btn):
            row1.addWidget(b)
        row2.addWidget(self.apply_btn)
        row2.addWidget(self.clear_btn)
        layout = QVBoxLayout(self)
        layout.addWidget(self.moving_combo)
        layout.addWidget(self.preview)
        layout.addLayout(grid)
        layout.addLayout(row1)
        layout.addLayout(row2)
        for seq, slot in (("Ctrl+Z", self.undo), ("Ctrl+Y", self.redo),
                          ("Ctrl+Shift+Z", self.redo)):
            sc = QShortcut(QKeySequence(seq), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
        doc.sourcesChanged.connect(self._sources_changed)
        doc.resultChanged.connect(self.reset_from_result)
        doc.sliceChanged.connect(lambda _k: self.update_preview())
        doc.optionsChanged.connect(self._fill_movers)
        self._fill_movers()

    # --- which source, which base transform -------------------------------------------------
    def _fill_movers(self) -> None:
        fixed = self.doc.options.fixed_index
        current = self.moving_index()
        self.moving_combo.blockSignals(True)
        self.moving_combo.clear()
        for i, src in enumerate(self.doc.loaded()):
            if i != fixed:
                self.moving_combo.addItem(f"{SLOT_NAMES[i]}: {src.label}", i)
        k = self.moving_combo.findData(current)
        self.moving_combo.setCurrentIndex(max(k, 0))
        self.moving_combo.blockSignals(False)
        self.setEnabled(self.moving_combo.count() > 0)
        if current != self.moving_index():
            self.reset_from_result()

    def _sources_changed(self) -> None:
        if self.doc.options.transforms is not None:
            self.doc.set_options(transforms=None)  # a transform belongs to its sources
        self._fill_movers()
        self.reset_from_result()

    def moving_index(self) -> int | None:
        data = self.moving_combo.currentData()
        return None if data is None else int(data)

    def images(self) -> tuple[Image, Image] | None:
        """(fixed, moving) as loaded (raw units), or None."""
        loaded = self.doc.loaded()
        k = self.moving_index()
        fixed = self.doc.options.fixed_index
        if k is None or k >= len(loaded) or fixed >= len(loaded):
            return None
        return loaded[fixed].image, loaded[k].image

    def centre(self) -> np.ndarray:
        images = self.images()
        if images is None:
            return np.zeros(3)
        fixed = images[0]
        size = np.asarray(fixed.shape[::-1], dtype=float)
        d = np.reshape(fixed.direction, (3, 3))
        return np.asarray(fixed.origin) + d @ ((size - 1) / 2 * np.asarray(fixed.spacing))

    def _dim(self) -> int:
        images = self.images()
        return 2 if images is not None and images[0].is_2d and images[1].is_2d else 3

    def reset_from_result(self) -> None:
        """Base = the shown result's transform of this source (identity if none); no steps."""
        k = self.moving_index()
        base = None
        result = self.doc.result if self.doc.result_fits_sources() else None
        if result is not None and k is not None and k < len(result.registrations):
            reg = result.registrations[k]
            if reg is not None and hasattr(reg.transform, "GetMatrix"):
                base = reg.transform
        self._set_state(base, {p: 0.0 for p in PARAMS})
        self.undo_stack.clear()
        self.redo_stack.clear()

    def current_transform(self) -> sitk.Transform:
        """The adjusted fixed->moving transform (ITK convention)."""
        dim = self._dim()
        base = self.base
        if base is None:
            base = sitk.Euler2DTransform() if dim == 2 else sitk.Euler3DTransform()
        centre = self.centre()
        if dim == 2:
            centre = centre[:2]
        return adjusted(base, self.params, centre)

    # --- steps, undo/redo -------------------------------------------------------------------
    def set_param(self, name: str, value: float) -> None:
        """Set one adjustment parameter (mm or degrees) as one undoable step."""
        if abs(self.params[name] - value) < 1e-9:
            return
        self._push()
        params = dict(self.params)
        params[name] = float(value)
        self._set_state(self.base, params)

    def nudge(self, name: str, delta: float) -> None:
        self.set_param(name, round(self.params[name] + delta, 6))

    def _push(self) -> None:
        self.undo_stack.append((self.base, dict(self.params)))
        self.redo_stack.clear()

    def undo(self) -> None:
        if self.undo_stack:
            self.redo_stack.append((self.base, dict(self.params)))
            self._set_state(*self.undo_stack.pop())

    def redo(self) -> None:
        if self.redo_stack:
            self.undo_stack.append((self.base, dict(self.params)))
            self._set_state(*self.redo_stack.pop())

    def _set_state(self, base, params: dict) -> None:
        self.base, self.params = base, dict(params)
        for p, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setValue(int(round(self.params[p] * SLIDER_STEPS)))
            slider.blockSignals(False)
        self.undo_btn.setEnabled(bool(self.undo_stack))
        self.redo_btn.setEnabled(bool(self.redo_stack))
        self.update_preview()
        self.transformChanged.emit()

    def keyPressEvent(self, event) -> None:
        step = 0.1 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
        rotate = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        key = event.key()
        moves = {Qt.Key.Key_Left: ("rz" if rotate else "tx", -step),
                 Qt.Key.Key_Right: ("rz" if rotate else "tx", step),
                 Qt.Key.Key_Up: ("rx" if rotate else "ty", -step),
                 Qt.Key.Key_Down: ("rx" if rotate else "ty", step),
                 Qt.Key.Key_Plus: ("ry" if rotate else "tz", step),
                 Qt.Key.Key_Minus: ("ry" if rotate else "tz", -step)}
        if key in moves:
            self.nudge(*moves[key])
            event.accept()
            return
        super().keyPressEvent(event)

    # --- files ------------------------------------------------------------------------------
    def load_transform_file(self, path: str) -> None:
        """A .tfm (fixed -> moving) becomes the base, as one undoable step."""
        from ..registration import load_transform

        tx = load_transform(path)
        if tx.GetDimension() != self._dim() or not hasattr(tx, "GetMatrix"):
            from ..errors import InputError

            raise InputError(f"needs a {self._dim()}-D rigid or affine transform", path)
        self._push()
        self._set_state(tx, {p: 0.0 for p in PARAMS})

    def save_transform_file(self, path: str) -> str:
        """Write the adjusted transform as .tfm (through the output guard)."""
        from ..registration import save_transform

        return str(save_transform(self.current_transform(), path))

    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load transform", "", "ITK transform (*.tfm)")
        if path:
            self._guarded(self.load_transform_file, path)

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save transform", "transform.tfm",
                                              "ITK transform (*.tfm)")
        if path:
            self._guarded(self.save_transform_file, path)

    def _guarded(self, fn, path: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        from ..errors import InputError

        try:
            fn(path)
        except InputError as exc:
            QMessageBox.warning(self, "Transform", str(exc))

    # --- apply ------------------------------------------------------------------------------
    def apply(self) -> None:
        """Re-fuse with the adjusted transform for this source (``FusionOptions.transforms``)."""
        k = self.moving_index()
        if k is None:
            return
        n = len(self.doc.loaded())
        given = list(self.doc.options.transforms or [None] * n)
        given[k] = self.current_transform()
        self.doc.set_options(transforms=tuple(given))
        self.applyRequested.emit()

    def clear(self) -> None:
        self.doc.set_options(transforms=None)
        self.reset_from_result()

    # --- live checkerboard ------------------------------------------------------------------
    def preview_array(self, tile: int = 16) -> np.ndarray | None:
        """uint8 checkerboard of the fixed slice and the adjusted moving source on it."""
        images = self.images()
        if images is None:
            return None
        fixed, moving = images
        k = min(self.doc.slice_index, fixed.num_slices - 1)
        plane = fixed.slice(k) if fixed.num_slices > 1 else fixed
        from ..registration import resample_to

        if self._dim() == 2:
            b = _u8(resample_to(moving, fixed, self.current_transform()).luminance()[0])
        else:
            b = _u8(self._moving_on_plane(moving, plane))
        a = _u8(plane.luminance()[0])
        yy, xx = np.indices(a.shape)
        return np.where(((yy // tile + xx // tile) % 2) == 0, a, b)

    def _moving_on_plane(self, moving: Image, plane: Image) -> np.ndarray:
        """The moving volume's luminance resampled onto one fixed plane (linear). The volume is
        converted to a float32 SimpleITK image once per source, not on every slice change
        (a 512x512x200 conversion took 0.3 s: a stall per scroll step)."""
        import SimpleITK as sitk

        key = id(moving.array)
        if getattr(self, "_preview_key", None) != key:
            volume = sitk.Cast(moving.to_sitk(luminance=True), sitk.sitkFloat32)
            self._preview_key = key
            self._preview_volume = (volume, float(np.min(moving.array)) if moving.array.size
                                    else 0.0)
        volume, outside = self._preview_volume
        reference = plane.to_sitk(luminance=True)
        res = sitk.Resample(volume, reference, self.current_transform(), sitk.sitkLinear,
                            outside, sitk.sitkFloat32)
        return sitk.GetArrayFromImage(res)[0]  # a copy: a view would outlive res

    def update_preview(self) -> None:
        arr = self.preview_array()
        if arr is None:
            self.preview.clear()
            return
        arr = np.ascontiguousarray(arr)
        h, w = arr.shape
        qimg = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        self.preview.setPixmap(QPixmap.fromImage(qimg).scaled(
            256, 256, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
