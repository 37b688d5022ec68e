"""Your verdict on namings in the history view: mark a name correct, type the right one, export them.

The store does the work (chemnamer.store.history: mark_correct, set_correction, clear_verdict,
export_corrections; the OPSIN check is chemnamer.corrections); the functions here run it in a
`Task` (starting OPSIN's JVM takes a second or more) and hand back plain results: a refused name
is a result with its reason, not a failure, so the dialog can show it and stay open.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from chemnamer.gui.concurrent import Task
from chemnamer.gui.widgets import ACCENT, GREEN, RED

VERDICT_HEADER = "Your verdict"


def verdict_text(rec: dict) -> str:
    verdict = rec.get("user_verdict")
    if verdict == "correct":
        return "✓ correct"
    if verdict == "corrected":
        return f"✎ {rec.get('user_name') or ''}"
    return ""


def verdict_color(verdict: str | None) -> str | None:
    return GREEN if verdict == "correct" else ACCENT if verdict == "corrected" else None


# --- worker functions: fn(state, ...) in a Task; no Qt --------------------------------------------------

def _refusal(exc: Exception) -> str | None:
    from chemnamer.corrections import CorrectionRefused
    from chemnamer.store.history import UnknownNaming

    if isinstance(exc, UnknownNaming):
        return f"{exc} (deleted meanwhile?)"
    if isinstance(exc, CorrectionRefused):
        return str(exc)
    return None


def mark_correct_rows(state, ids: list[int]) -> dict:
    """{"rows": updated rows, "refused": [(id, reason)], "unchecked": [(id, reason)]}"""
    from chemnamer.store import history

    out: dict = {"rows": [], "refused": [], "unchecked": []}
    for naming_id in ids:
        state.check()
        try:
            check = history.mark_correct(naming_id)
        except Exception as exc:  # noqa: BLE001 - a refusal is a result; anything else fails the task
            reason = _refusal(exc)
            if reason is None:
                raise
            out["refused"].append((naming_id, reason))
            continue
        if not check.checked:
            out["unchecked"].append((naming_id, check.reason))
        out["rows"].append(history.get_naming(naming_id))
    out["rows"] = [r for r in out["rows"] if r is not None]
    return out


def correct_row(state, naming_id: int, name: str) -> dict:
    """{"row": the updated row or None, "refused": reason or None, "note": why it was not checked, or ""}"""
    from chemnamer.store import history

    try:
        check = history.set_correction(naming_id, name)
    except Exception as exc:  # noqa: BLE001
        reason = _refusal(exc)
        if reason is None:
            raise
        return {"row": None, "refused": reason, "note": ""}
    return {"row": history.get_naming(naming_id), "refused": None, "note": "" if check.checked else check.reason}


def clear_rows(state, ids: list[int]) -> list[dict]:
    from chemnamer.store import history

    rows = []
    for naming_id in ids:
        try:
            history.clear_verdict(naming_id)
        except history.UnknownNaming:
            continue
        rows.append(history.get_naming(naming_id))
    return [r for r in rows if r is not None]


def export_corrections(state, path: str) -> int:
    from chemnamer.store import history

    return history.export_corrections(path)


# --- the dialog --------------------------------------------------------------------------------------

class CorrectionDialog(QDialog):
    """Type the right name for one naming's structure. OPSIN checks it against the structure before it is
    kept; a refused name shows the reason and the dialog stays open for another try."""

    saved = Signal(dict, str)  # the updated history row; why the name was not checked ("" when it was)

    def __init__(self, row: dict, parent=None):
        super().__init__(parent)
        self.row = row
        self.task: Task | None = None
        self.setWindowTitle(f"Correct the name of naming {row['id']}")
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        structure = QLabel(row.get("smiles") or "(no structure)")
        structure.setWordWrap(True)
        form.addRow("Structure", structure)
        chosen = QLabel(row.get("name") or "(no name)")
        chosen.setWordWrap(True)
        form.addRow("Name given", chosen)
        self.name_edit = QLineEdit(row.get("user_name") or row.get("name") or "")
        self.name_edit.setPlaceholderText("The right IUPAC name for this structure")
        self.name_edit.selectAll()
        self.name_edit.textEdited.connect(lambda _: self.reason.setText(""))
        form.addRow("Right name", self.name_edit)
        lay.addLayout(form)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet(f"color: {RED}")
        lay.addWidget(self.reason)
        hint = QLabel("OPSIN reads the name back; it must be exactly this structure (tautomer and stereo included). "
                      "Corrections export as training pairs (History → Export corrections…).")
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

    def submit(self) -> Task | None:
        name = self.name_edit.text().strip()
        if not name:
            self.reason.setText("Type a name first.")
            return None
        if self.task is not None:
            return self.task
        self.reason.setStyleSheet(f"color: {ACCENT}")
        self.reason.setText("Checking with OPSIN…")
        self._busy(True)
        task = self.task = Task(correct_row, self.row["id"], name, name="correct-name")
        task.done.connect(self._done)
        task.failed.connect(lambda msg, tb: self._show_refusal(msg))
        task.finished.connect(lambda: self._busy(False))
        task.start()
        return task

    def _busy(self, busy: bool) -> None:
        if not busy:
            self.task = None
        self.name_edit.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.Save).setEnabled(not busy)

    def _show_refusal(self, reason: str) -> None:
        self.reason.setStyleSheet(f"color: {RED}")
        self.reason.setText(f"Not saved: {reason}")
        self.name_edit.setFocus()

    def _done(self, res: dict) -> None:
        if res["refused"]:
            self._show_refusal(res["refused"])
            return
        self.reason.setText("")
        self.saved.emit(res["row"], res["note"])
        self.accept()
