"""Source slots: drop target, file name, info line (modality, size, spacing, patient/study)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFrame, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QToolButton, QVBoxLayout, QWidget)

from .document import SLOT_NAMES, Document, Source, describe_image, patient_line

MODALITY_CHOICES = [("CT", "CT"), ("MR", "MRI"), ("PT", "PET"), ("NM", "SPECT"), ("OT", "Other")]


class SourceSlot(QFrame):
    """One source: accepts drops, shows what is loaded, offers open/remove."""

    filesDropped = Signal(list, int)
    openRequested = Signal(int)
    removeRequested = Signal(int)
    modalityChosen = Signal(int, str)

    def __init__(self, index: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.index = index
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("sourceSlot")
        self._set_highlight(False)
        self.name = QLabel(f"<b>{SLOT_NAMES[index]}</b>  drop an image or folder here")
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info = QLabel("")
        self.info.setStyleSheet("color: #555;")
        self.patient = QLabel("")
        self.patient.setStyleSheet("color: #555;")
        self.patient.setWordWrap(True)
        self.modality = QComboBox()
        for code, label in MODALITY_CHOICES:
            self.modality.addItem(label, code)
        self.modality.setToolTip("Modality (from the DICOM header or the file name; change it "
                                 "for PNG/NIfTI files)")
        self.modality.setEnabled(False)
        open_btn = QToolButton()
        open_btn.setText("Open…")
        open_btn.clicked.connect(lambda: self.openRequested.emit(self.index))
        self.remove_btn = QToolButton()
        self.remove_btn.setText("✕")
        self.remove_btn.setToolTip("Remove this source")
        self.remove_btn.clicked.connect(lambda: self.removeRequested.emit(self.index))
        top = QHBoxLayout()
        top.addWidget(self.name, 1)
        top.addWidget(self.modality)
        top.addWidget(open_btn)
        top.addWidget(self.remove_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(1)
        layout.addLayout(top)
        layout.addWidget(self.info)
        layout.addWidget(self.patient)
        self.modality.activated.connect(
            lambda _i: self.modalityChosen.emit(self.index, self.modality.currentData()))

    def show_source(self, source: Source | None, anonymise: bool) -> None:
        letter = SLOT_NAMES[self.index]
        if source is None:
            self.name.setText(f"<b>{letter}</b>  drop an image or folder here")
            self.name.setToolTip("")
            self.info.setText("")
            self.patient.setText("")
            self.modality.setEnabled(False)
            self.remove_btn.setEnabled(False)
            return
        self.name.setText(f"<b>{letter}</b>  {source.label}")
        self.name.setToolTip(source.path)
        self.info.setText(describe_image(source.image))
        line = patient_line(source.image)
        self.patient.setText("(patient hidden)" if anonymise and line else line)
        self.patient.setVisible(bool(line))
        idx = self.modality.findData(source.image.modality)
        self.modality.setCurrentIndex(idx if idx >= 0 else self.modality.count() - 1)
        self.modality.setEnabled(True)
        self.remove_btn.setEnabled(True)

    def _set_highlight(self, on: bool) -> None:
        colour = "#2a82da" if on else "#bbb"
        self.setStyleSheet(f"QFrame#sourceSlot {{border: 1px {'solid' if on else 'dashed'} "
                           f"{colour}; border-radius: 4px;}}")

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            self._set_highlight(True)
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._set_highlight(False)

    def dropEvent(self, event) -> None:
        self._set_highlight(False)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths, self.index)


class SourcePanel(QGroupBox):
    """All source slots plus 'add source' and the anonymise toggle."""

    filesDropped = Signal(list, int)
    openRequested = Signal(int)
    removeRequested = Signal(int)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__("Sources", parent)
        self.doc = doc
        self.slots: list[SourceSlot] = []
        self.slot_layout = QVBoxLayout()
        self.slot_layout.setSpacing(4)
        self.add_btn = QPushButton("Add source")
        self.add_btn.setToolTip("Fuse more than two images")
        self.add_btn.clicked.connect(lambda: self.openRequested.emit(len(self.doc.sources)))
        self.anonymise = QCheckBox("Anonymise")
        self.anonymise.setToolTip("Hide patient names and IDs (for screenshots); exports are then anonymised too")
        self.anonymise.toggled.connect(lambda on: self.doc.set_display(anonymise=on))
        bottom = QHBoxLayout()
        bottom.addWidget(self.add_btn)
        bottom.addStretch(1)
        bottom.addWidget(self.anonymise)
        layout = QVBoxLayout(self)
        layout.addLayout(self.slot_layout)
        layout.addLayout(bottom)
        doc.sourcesChanged.connect(self.refresh)
        doc.displayChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        n = max(2, len(self.doc.sources))
        while len(self.slots) < n:
            slot = SourceSlot(len(self.slots), self)
            slot.filesDropped.connect(self.filesDropped)
            slot.openRequested.connect(self.openRequested)
            slot.removeRequested.connect(self.removeRequested)
            slot.modalityChosen.connect(self._set_modality)
            self.slots.append(slot)
            self.slot_layout.addWidget(slot)
        while len(self.slots) > n:
            slot = self.slots.pop()
            self.slot_layout.removeWidget(slot)
            slot.deleteLater()
        for i, slot in enumerate(self.slots):
            src = self.doc.sources[i] if i < len(self.doc.sources) else None
            slot.show_source(src, self.doc.anonymise)
        self.add_btn.setEnabled(len(self.doc.sources) < len(SLOT_NAMES))
        if self.anonymise.isChecked() != self.doc.anonymise:
            self.anonymise.setChecked(self.doc.anonymise)

    def _set_modality(self, index: int, code: str) -> None:
        self.doc.set_modality(index, code)
