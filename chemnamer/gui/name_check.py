"""A card where the user types a name for the structure shown and sees OPSIN's check: ✓ or why not."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from chemnamer.gui.concurrent import TaskSlot
from chemnamer.gui.widgets import Badge, section_label


def _check(state, name: str, smiles: str):
    from chemnamer.opsin import get_opsin

    return get_opsin().check(name, smiles)  # the check every ✓ in the app rests on (opsin.check)


class NameCheck(QFrame):
    """Check a typed name against the structure set by `set_structure` (the drawn input). The check
    runs in a worker (the first one may start the JVM, ~1 s); a result for an older name or
    structure than the one shown is dropped."""

    checked = Signal(object)  # opsin.Verification shown (tests)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("card")
        self._smiles: str | None = None
        self.checks = TaskSlot(done=self._on_done, failed=self._on_failed)  # editing the name cancels
        self._checking: tuple | None = None
        self.verification = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 12)
        lay.setSpacing(6)
        lay.addWidget(section_label("Check a name"))
        row = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setPlaceholderText("Type a name for this structure, e.g. one from a paper")
        self.input.setClearButtonEnabled(True)
        self.input.returnPressed.connect(self.check_now)
        self.input.textEdited.connect(lambda _: self._clear_result())
        row.addWidget(self.input, 1)
        self.button = QPushButton("Check")
        self.button.clicked.connect(self.check_now)
        row.addWidget(self.button)
        lay.addLayout(row)
        line = QHBoxLayout()
        self.badge = Badge()
        line.addWidget(self.badge)
        self.reason = QLabel()
        self.reason.setObjectName("muted")
        self.reason.setWordWrap(True)
        line.addWidget(self.reason, 1)
        lay.addLayout(line)
        self.set_structure(None)

    def set_structure(self, smiles: str | None) -> None:
        """The structure names are checked against; None disables the card."""
        if smiles != self._smiles:
            self._smiles = smiles
            self._clear_result()
        for w in (self.input, self.button):
            w.setEnabled(bool(smiles))

    def check_now(self) -> None:
        name = self.input.text().strip()
        if not name or not self._smiles:
            return
        self.reason.setText("checking…")
        self._checking = (name, self._smiles)
        self.checks.start(_check, name, self._smiles, name="check-name")

    def _on_done(self, v) -> None:
        if self._checking != (self.input.text().strip(), self._smiles):
            return  # the name was set (not typed) to another since
        from chemnamer.opsin import KIND_LABELS, VERIFIED

        self.verification = v
        label = KIND_LABELS.get(v.kind, v.kind)
        self.badge.set_state(v.verified, text=("✓ " if v.verified else "✗ " if v.verified is False else "? ") + label,
                             tip=v.reason)
        self.badge.show()
        self.reason.setText("OPSIN reads the name as this structure" if v.kind == VERIFIED else v.reason)
        self.reason.setToolTip(f"OPSIN read: {v.smiles}" if v.smiles else "")
        self.checked.emit(v)

    def _on_failed(self, message: str, _traceback: str) -> None:
        self.reason.setText(f"Check failed: {message}")

    def _clear_result(self) -> None:
        self.checks.cancel()
        self.verification = None
        self.badge.hide()
        self.reason.setText("")
