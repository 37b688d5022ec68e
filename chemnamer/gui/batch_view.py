"""The batch view: name every molecule of a CSV/TSV/SMI/SDF file, watch progress, export the results."""
from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QPushButton, QTableView, QVBoxLayout, QWidget)

from chemnamer.batch import BatchRow
from chemnamer.gui import batch_tasks, tasks
from chemnamer.gui.concurrent import Task
from chemnamer.gui.widgets import (GREEN, GREY, RED, ElidedLabel, ModeChoice, progress_row, verified_color,
                                   verified_text)
from chemnamer.naming import default_mode

FILE_FILTER = ("Molecule files (*.csv *.tsv *.tab *.txt *.smi *.smiles *.sdf *.sd *.jsonl *.ndjson *.json *.gz);;"
               "All files (*)")
MODE_KEY = "batch/mode"


class BatchModel(QAbstractTableModel):
    HEADERS = ["#", "Input", "Name", "✓", "Score", "PubChem", "Rule-based", "Problem"]

    def __init__(self):
        super().__init__()
        self.rows: list[BatchRow] = []

    def clear(self) -> None:
        self.beginResetModel()
        self.rows = []
        self.endResetModel()

    def append(self, rows) -> None:
        if not rows:
            return
        n = len(self.rows)
        self.beginInsertRows(QModelIndex(), n, n + len(rows) - 1)
        self.rows.extend(rows)
        self.endInsertRows()

    def rowCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.HEADERS[section]
        return None

    _ROLES = frozenset({Qt.DisplayRole, Qt.ToolTipRole, Qt.ForegroundRole, Qt.TextAlignmentRole})

    def data(self, index, role=Qt.DisplayRole):
        if role not in self._ROLES:
            return None
        r = self.rows[index.row()]
        res, col = r.result, index.column()
        if role == Qt.DisplayRole or role == Qt.ToolTipRole:
            if col == 0:
                return str(r.row + 1)
            if col == 1:
                return r.input or ""
            if res is None:
                return r.problem if col == 7 else ""
            if col == 2:
                return res.name or ""
            if col == 3:
                return verified_text(res.verified, short=True) if res.name else ""
            if col == 4:
                return f"{res.score:.3f}" if res.score is not None else ""
            if col == 5:
                return res.reference.pubchem or ""
            if col == 6:
                return res.reference.rule_based or ""
            if col == 7:
                return r.problem or res.note or ""
        if role == Qt.ForegroundRole:
            if col == 3 and res is not None:
                return QColor(verified_color(res.verified))
            if col == 7:
                return QColor(RED if r.problem else GREY)
        if role == Qt.TextAlignmentRole and col in (0, 3, 4):
            return int(Qt.AlignRight | Qt.AlignVCenter) if col != 3 else int(Qt.AlignCenter)
        return None


class BatchView(QWidget):
    finished = Signal(dict)  # summary when a batch ends (tests, screenshots)
    message = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.columns: list[str] = []
        self.column: str | None = None  # the column that holds the structures (CSV/TSV, JSON)
        self.source = None  # the batchio reader of the last file: the export writes back its dialect
        self.path: str | None = None
        self._task: Task | None = None
        self._export_task: Task | None = None
        self._t0 = 0.0
        self._build()
        session.namer_changed.connect(self._on_namer_changed)

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 12)
        lay.setSpacing(10)
        top = QHBoxLayout()
        self.open_button = QPushButton("Open file…")
        self.open_button.setObjectName("primary")
        self.open_button.clicked.connect(self._choose_file)
        top.addWidget(self.open_button)
        # Short: an elided list of formats read "No file — ...zipped too" (seen under Xvfb); the list is the tooltip.
        self.file_label = ElidedLabel("No file open")
        self.file_label.setToolTip("CSV/TSV or JSON lines with a 'smiles' column, .smi or .sdf; gzipped too")
        self.file_label.setObjectName("muted")
        top.addWidget(self.file_label, 1)
        self.column_label = QLabel("Structures in")
        top.addWidget(self.column_label)
        self.column_combo = QComboBox()
        self.column_combo.setToolTip("The column that holds the SMILES (or names) to name; the other columns "
                                     "are kept unchanged in the export")
        self.column_combo.setMinimumWidth(140)
        self.column_combo.setEnabled(False)
        self.column_combo.activated.connect(self._on_column_chosen)
        top.addWidget(self.column_combo)
        mode_label = QLabel("Mode")
        mode_label.setToolTip("How each molecule is named (as in the Name view); a change applies to the next file")
        top.addWidget(mode_label)
        self.mode_choice = ModeChoice(MODE_KEY, default_mode(self.session.model_id))
        top.addWidget(self.mode_choice)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        top.addWidget(self.cancel_button)
        self.export_csv = QPushButton("Export CSV…")
        self.export_csv.clicked.connect(lambda: self._export("csv"))
        self.export_sdf = QPushButton("Export SDF…")
        self.export_sdf.clicked.connect(lambda: self._export("sdf"))
        for b in (self.export_csv, self.export_sdf):
            b.setEnabled(False)
            top.addWidget(b)
        lay.addLayout(top)

        prog, self.progress, self.eta = progress_row(220)
        lay.addLayout(prog)

        self.model = BatchModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        for col, width in enumerate((40, 170, 280, 30, 58, 210, 190, 150)):
            self.table.setColumnWidth(col, width)
        hh.setSectionResizeMode(2, QHeaderView.Stretch)
        hh.setMinimumSectionSize(28)
        lay.addWidget(self.table, 1)
        self.summary = QLabel("")
        self.summary.setObjectName("muted")
        lay.addWidget(self.summary)

    def _on_namer_changed(self) -> None:
        if self.session.guided_active:  # a guided model was chosen: it names in guided mode only
            self.mode_choice.set_mode("guided")

    # --- running --------------------------------------------------------------------------------
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Name the molecules of a file", str(Path.home()), FILE_FILTER)
        if path:
            self.start(path)

    def start(self, path: str, column: str | None = None) -> bool:
        """Name the file's molecules; `column`: the CSV/TSV column with the structures (default: the
        'smiles' column; without one the column box asks the user to pick)."""
        if self._task is not None:
            return False
        if self.session.namer is None:
            QMessageBox.information(self, "Model loading", "The model is still loading; try again in a moment.")
            return False
        from chemnamer.batchio import InputError

        self.path = str(path)
        self.model.clear()
        self.columns, self.source = [], None
        self.file_label.set_full_text(self.path)
        self.summary.setText("")
        self._reset_progress()
        for b in (self.export_csv, self.export_sdf):
            b.setEnabled(False)
        try:
            columns, found, choice = batch_tasks.batch_columns(self.path) if column is None else (None, column, True)
        except (InputError, OSError) as exc:
            self._show_columns([], None, False)
            QMessageBox.warning(self, "Batch naming", str(exc))
            return False
        if columns is not None:
            self._show_columns(columns, found, choice)
        if choice and found is None:
            self.eta.setText("pick the column that holds the structures")
            self.message.emit("No 'smiles' column: pick the column with the structures")
            return False
        self.column = found
        self.progress.setRange(0, 0)
        self.eta.setText("reading the file…")
        task = Task(batch_tasks.batch_name, self.session.namer, self.path, column=self._column_arg(),
                    mode=self.mode_choice.mode(), name="batch")
        self._task = task
        task.event.connect(self._on_event)
        task.progress.connect(self._on_progress)
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        task.finished.connect(self._on_finished)
        self._t0 = time.perf_counter()
        for b in (self.open_button, self.export_csv, self.export_sdf):
            b.setEnabled(False)
        self.cancel_button.setEnabled(True)
        task.start()
        return True

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.eta.setText("cancelling after this chunk…")

    @property
    def running(self) -> bool:
        return self._task is not None

    def _reset_progress(self) -> None:
        """No bar left over from an earlier file: 0 of nothing, no "10 / 10" text."""
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.eta.setText("")

    def _show_columns(self, columns: list[str], current: str | None, choice: bool) -> None:
        """`choice`: the structures are in a column the user may pick (not in a .smi or SD file)."""
        self.column_combo.clear()
        delimited = choice and bool(columns)
        if delimited:
            if current is None:
                self.column_combo.addItem("— pick a column —", None)
            for c in columns:
                self.column_combo.addItem(c or "(unnamed)", c)
            if current is not None:
                self.column_combo.setCurrentIndex(self.column_combo.findData(current))
        self.column_combo.setEnabled(delimited)

    def _column_arg(self) -> str | None:
        return self.column if self.column_combo.isEnabled() else None

    def _on_column_chosen(self, index: int) -> None:
        column = self.column_combo.itemData(index)
        if column is None or self.path is None or self._task is not None:
            return
        if column == self.column and self.model.rows:
            return  # already named with it
        self.start(self.path, column)

    def _on_event(self, kind: str, payload) -> None:
        if kind == "start":
            self.columns = payload["columns"]
            self.source = payload.get("source")
            total = payload["total"]
            if total:
                self.progress.setRange(0, 1000)
                self.progress.setValue(0)
                self.progress.setFormat(f"0 / {total}")
            self.eta.setText("naming…")
        elif kind == "rows":
            self.model.append(payload)
            self._update_summary()

    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
            self.progress.setFormat(message.split(" · ")[0].replace(" of ", " / "))
        self.eta.setText(message.split(" · ")[1] if " · " in message else message)

    def _update_summary(self) -> None:
        rows = self.model.rows
        named = sum(1 for r in rows if r.result is not None and r.result.name)
        verified = sum(1 for r in rows if r.result is not None and r.result.verified)
        errors = sum(1 for r in rows if r.problem)
        self.summary.setText(f"{len(rows)} rows · {named} named · "
                             f"<span style='color:{GREEN}'>{verified} verified</span> · "
                             f"<span style='color:{RED if errors else GREY}'>{errors} problem{'' if errors == 1 else 's'}</span>")
        self.summary.setTextFormat(Qt.RichText)

    def _on_done(self, info: dict) -> None:
        secs = time.perf_counter() - self._t0
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.progress.setFormat(f"{len(self.model.rows)} / {len(self.model.rows)}")
        self.eta.setText(f"done in {tasks.format_duration(secs)}")
        self.message.emit(f"Batch: {len(self.model.rows)} molecules named")

    def _on_failed(self, message: str, tb: str) -> None:
        self._reset_progress()
        QMessageBox.warning(self, "Batch naming", message.split(": ", 1)[-1] if "InputError" in message else message)

    def _on_cancelled(self) -> None:
        self.progress.setRange(0, 1000)
        self.eta.setText(f"cancelled after {len(self.model.rows)} rows")

    def _on_finished(self) -> None:
        self._task = None
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(True)
        has_rows = bool(self.model.rows)
        self.export_csv.setEnabled(has_rows)
        self.export_sdf.setEnabled(has_rows)
        self.finished.emit({"rows": len(self.model.rows)})

    # --- export ---------------------------------------------------------------------------------
    def _export(self, kind: str) -> None:
        base = Path(self.path or "molecules").with_suffix("")
        default = f"{base}-named.{kind}"
        flt = "CSV (*.csv)" if kind == "csv" else "SD file (*.sdf)"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind.upper()}", default, flt)
        if path:
            self.export(path, kind)

    def export(self, path: str, kind: str | None = None) -> Task:
        """Write the results in a worker (an SD file of 100k molecules takes a while)."""
        kind = kind or ("sdf" if path.lower().endswith((".sdf", ".sd")) else "csv")
        fn = batch_tasks.export_batch_sdf if kind == "sdf" else batch_tasks.export_batch_csv
        args = (self.source,) if kind == "csv" else ()
        task = Task(fn, list(self.model.rows), list(self.columns), path, *args, name=f"export-{kind}")
        self._export_task = task
        for b in (self.export_csv, self.export_sdf):
            b.setEnabled(False)
        self.eta.setText(f"writing {os.path.basename(path)}…")
        task.done.connect(lambda n: (self.eta.setText(f"exported {n} rows to {os.path.basename(path)}"),
                                     self.message.emit(f"Exported {n} rows to {path}")))
        task.failed.connect(lambda msg, tb: QMessageBox.warning(self, "Export", f"Cannot write {path}: {msg}"))
        task.finished.connect(self._export_finished)
        task.start()
        return task

    def _export_finished(self) -> None:
        self._export_task = None
        if self._task is None:
            for b in (self.export_csv, self.export_sdf):
                b.setEnabled(bool(self.model.rows))
