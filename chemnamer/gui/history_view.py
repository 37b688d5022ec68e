"""The history view: every naming, paged lazily from SQLite, sorted and filtered in SQL."""
from __future__ import annotations

from datetime import datetime, time as dtime, timedelta, timezone

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDateEdit, QFileDialog, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QMessageBox, QPushButton, QTableView,
                               QVBoxLayout, QWidget)

from chemnamer.gui import history_tasks
from chemnamer.gui.concurrent import Task, TaskSlot
from chemnamer.gui.widgets import GREY, verified_color, verified_text
from chemnamer.gui import verdicts

PAGE = 200


class HistoryModel(QAbstractTableModel):
    """Rows come in pages of PAGE via canFetchMore/fetchMore; sorting and filters go to SQL.

    The view only asks for the pages it scrolls to, so 100k namings cost what one page costs."""

    COLUMNS = [("created_at", "When"), ("input", "Input"), ("name", "Name"), ("verified", "✓"),
               ("score", "Score"), ("smiles", "SMILES"), ("inchikey", "InChIKey"), ("model_id", "Model"),
               ("user_verdict", verdicts.VERDICT_HEADER)]

    reloaded = Signal()
    error = Signal(str)

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.total = 0
        self.filters: dict = {}
        self.order_by, self.descending = "created_at", True
        self.query_ms = 0.0
        self.loading = False
        self._pages = TaskSlot(done=self._apply, failed=self._failed)  # a newer request wins

    # --- loading --------------------------------------------------------------------------------
    def reload(self, sync: bool = False) -> None:
        """Count and first page for the current filters and order. In a worker (a LIKE search or an
        unindexed sort over 100k rows takes ~0.1-0.2 s); a newer request makes an older one stale."""
        args = (dict(self.filters), self.order_by, self.descending, PAGE)
        if sync:
            self._pages.cancel()
            self._apply(history_tasks.history_page(None, *args))
            return
        self.loading = True
        self._pages.start(history_tasks.history_page, *args, name="history-page")

    def _apply(self, res) -> None:
        total, rows, ms = res
        self.beginResetModel()
        self.total, self.rows, self.query_ms = total, rows, ms
        self.endResetModel()
        self.loading = False
        self.reloaded.emit()

    def _failed(self, message: str, _traceback: str) -> None:
        self.loading = False
        self.error.emit(message)

    def _page(self, offset: int) -> list[dict]:
        from chemnamer.store import history

        return history.query_history(limit=PAGE, offset=offset, order_by=self.order_by,
                                     descending=self.descending, **self.filters)

    def canFetchMore(self, parent=QModelIndex()):  # noqa: N802
        return not parent.isValid() and not self.loading and len(self.rows) < self.total

    def fetchMore(self, parent=QModelIndex()):  # noqa: N802
        if parent.isValid():
            return
        page = self._page(len(self.rows))
        if not page:
            self.total = len(self.rows)
            return
        n = len(self.rows)
        self.beginInsertRows(QModelIndex(), n, n + len(page) - 1)
        self.rows.extend(page)
        self.endInsertRows()

    def set_filters(self, **filters) -> None:
        self.filters = {k: v for k, v in filters.items() if v is not None and v != ""}
        self.reload()

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        key = self.COLUMNS[column][0]
        self.order_by = key
        self.descending = order == Qt.DescendingOrder
        self.reload()

    # --- Qt model -------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.COLUMNS[section][1]
        return None

    _ROLES = frozenset({Qt.DisplayRole, Qt.ToolTipRole, Qt.ForegroundRole, Qt.TextAlignmentRole})

    def data(self, index, role=Qt.DisplayRole):
        if role not in self._ROLES:
            return None  # the view asks ~10 roles per cell and repaint; answer the rest at once
        key = self.COLUMNS[index.column()][0]
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignCenter) if key == "verified" else \
                int(Qt.AlignRight | Qt.AlignVCenter) if key == "score" else None
        rec = self.rows[index.row()]
        if role == Qt.ForegroundRole:
            if key == "verified":
                return QColor(verified_color(rec.get("verified")))
            if key == "name" and not rec.get("name"):
                return QColor(GREY)
            if key == "user_verdict" and rec.get("user_verdict"):
                return QColor(verdicts.verdict_color(rec["user_verdict"]))
            return None
        texts = rec.get("_texts")
        if texts is None:  # formatted once per row, not once per paint
            texts = rec["_texts"] = self._texts(rec)
        return texts[index.column()]

    def _texts(self, rec: dict) -> tuple:
        out = []
        for key, _ in self.COLUMNS:
            value = rec.get(key)
            if key == "created_at":
                out.append(value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "")
            elif key == "verified":
                out.append(verified_text(value, short=True) if rec.get("name") else "")
            elif key == "score":
                out.append(f"{value:.3f}" if value is not None else "")
            elif key == "name" and not value:
                out.append(rec.get("error") or "(no name)")
            elif key == "user_verdict":
                out.append(verdicts.verdict_text(rec))
            else:
                out.append("" if value is None else str(value))
        return tuple(out)

    def naming_id(self, row: int) -> int:
        return self.rows[row]["id"]

    def update_rows(self, rows: list[dict]) -> None:
        """Rows rewritten in the store (a verdict given or cleared): replaced where loaded, in place."""
        fresh = {r["id"]: r for r in rows}
        for i, rec in enumerate(self.rows):
            if rec["id"] in fresh:
                self.rows[i] = dict(fresh[rec["id"]])
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.COLUMNS) - 1))


class HistoryView(QWidget):
    reopen = Signal(int)  # naming id to show in the naming view
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = HistoryModel()
        self.model.reloaded.connect(self._update_count)
        self.model.error.connect(lambda msg: self.count_label.setText(f"History unavailable: {msg}"))
        self._export_task: Task | None = None
        self._dirty = True
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self.apply_filters)
        self._build()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 12)
        lay.setSpacing(10)
        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search names, common names and synonyms (aspirin), SMILES, InChIKeys…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        bar.addWidget(self.search, 3)
        self.verified = QComboBox()
        self.verified.addItems(["Any check", "Verified ✓", "Not verified ✗"])
        self.verified.currentIndexChanged.connect(lambda _: self.apply_filters())
        bar.addWidget(self.verified)
        self.model_filter = QComboBox()
        self.model_filter.setMinimumWidth(150)
        self.model_filter.addItem("Any model", None)
        self.model_filter.currentIndexChanged.connect(lambda _: self.apply_filters())
        bar.addWidget(self.model_filter)
        self.since_on = QCheckBox("From")
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.until_on = QCheckBox("to")
        self.until = QDateEdit(QDate.currentDate())
        for check, edit in ((self.since_on, self.since), (self.until_on, self.until)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(lambda _: self.apply_filters())
            edit.dateChanged.connect(lambda _: self.apply_filters())
            bar.addWidget(check)
            bar.addWidget(edit)
        lay.addLayout(bar)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.DescendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.doubleClicked.connect(lambda idx: self.reopen.emit(self.model.naming_id(idx.row())))
        hh = self.table.horizontalHeader()
        hh.setMinimumSectionSize(28)
        for col, width in enumerate((142, 170, 300, 30, 58, 180, 120, 100, 160)):
            self.table.setColumnWidth(col, width)
        hh.setSectionResizeMode(2, QHeaderView.Stretch)
        lay.addWidget(self.table, 1)

        bottom = QHBoxLayout()
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        bottom.addWidget(self.count_label, 1)
        self._build_verdicts(bottom)
        self.open_button = QPushButton("Open in naming view")
        self.open_button.clicked.connect(self._open_selected)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._export)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete_selected)
        for b in (self.open_button, self.export_button, self.delete_button):
            bottom.addWidget(b)
        lay.addLayout(bottom)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self._update_buttons()

    # --- filters --------------------------------------------------------------------------------
    def current_filters(self) -> dict:
        verified = {0: None, 1: True, 2: False}[self.verified.currentIndex()]
        since = until = None
        if self.since_on.isChecked():
            since = _local_midnight_utc(self.since.date())
        if self.until_on.isChecked():
            until = _local_midnight_utc(self.until.date()) + timedelta(days=1)  # the whole 'to' day
        return {"search": self.search.text().strip() or None, "verified": verified,
                "model_id": self.model_filter.currentData(), "since": since, "until": until}

    def apply_filters(self) -> None:
        self.model.set_filters(**self.current_filters())

    def refresh(self) -> None:
        """Reload (after new namings); keeps filters and sort order."""
        self._refresh_models()
        self.model.reload()
        self._dirty = False

    def mark_dirty(self) -> None:
        self._dirty = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def _refresh_models(self) -> None:
        from chemnamer.store.history import naming_model_ids

        ids = naming_model_ids()
        current = self.model_filter.currentData()
        self.model_filter.blockSignals(True)
        self.model_filter.clear()
        self.model_filter.addItem("Any model", None)
        for mid in ids:
            self.model_filter.addItem(mid if len(mid) < 40 else "…" + mid[-38:], mid)
        i = self.model_filter.findData(current)
        self.model_filter.setCurrentIndex(max(0, i))
        self.model_filter.blockSignals(False)

    def _update_count(self) -> None:
        m = self.model
        shown = "" if m.total == 0 else f" (loaded {len(m.rows)})" if len(m.rows) < m.total else ""
        self.count_label.setText(f"{m.total:,} namings{shown} · double-click a row to open it")
        self._update_buttons()

    def _update_buttons(self) -> None:
        sel = bool(self.table.selectionModel().selectedRows())
        self.open_button.setEnabled(sel)
        self.delete_button.setEnabled(sel)
        self.export_button.setEnabled(self.model.total > 0 and self._export_task is None)
        self._update_verdict_buttons()

    # --- actions --------------------------------------------------------------------------------
    def _selected_ids(self) -> list[int]:
        return [self.model.naming_id(i.row()) for i in self.table.selectionModel().selectedRows()]

    def _open_selected(self) -> None:
        ids = self._selected_ids()
        if ids:
            self.reopen.emit(ids[0])

    def _delete_selected(self) -> None:
        ids = self._selected_ids()
        if not ids:
            return
        answer = QMessageBox.question(self, "Delete namings", f"Delete {len(ids)} naming(s) from the history?")
        if answer == QMessageBox.Yes:
            self.delete(ids)

    def delete(self, ids: list[int]) -> int:
        from chemnamer.store import history

        n = history.delete_namings(ids)
        self.model.reload()
        self.message.emit(f"Deleted {n} naming(s)")
        return n

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export history", "chemnamer-history.csv", "CSV (*.csv)")
        if path:
            self.export(path)

    def export(self, path: str) -> Task:
        """Every row that matches the filters (not only the loaded ones), in a worker."""
        task = Task(history_tasks.export_history, path, self.current_filters_for_query(), self.model.order_by,
                    self.model.descending, name="export-history")
        self._export_task = task
        task.progress.connect(lambda f, msg: self.count_label.setText(f"Exporting… {msg}"))
        task.done.connect(lambda n: self.message.emit(f"Exported {n} namings to {path}"))
        task.failed.connect(lambda msg, tb: QMessageBox.warning(self, "Export", msg))
        task.finished.connect(self._export_finished)
        self._update_buttons()
        task.start()
        return task

    def _export_finished(self) -> None:
        self._export_task = None
        self._update_count()

    def current_filters_for_query(self) -> dict:
        return {k: v for k, v in self.current_filters().items() if v is not None}

    # --- your verdict: mark correct, correct the name, export the corrections (issue 18) ---------------
    def _build_verdicts(self, bar: QHBoxLayout) -> None:
        self._verdict_task: Task | None = None
        self._corrections_task: Task | None = None
        self.correction_dialog: verdicts.CorrectionDialog | None = None
        self.mark_button = QPushButton("Mark correct")
        self.mark_button.setToolTip("The selected names are right: they export as training pairs")
        self.mark_button.clicked.connect(lambda: self.mark_correct(self._selected_ids()))
        self.correct_button = QPushButton("Correct name…")
        self.correct_button.setToolTip("Type the right name for the selected structure (OPSIN checks it)")
        self.correct_button.clicked.connect(self._correct_selected)
        self.corrections_button = QPushButton("Export corrections…")
        self.corrections_button.setToolTip("Names you marked correct or corrected, as a CSV the training wizard "
                                           "reads (“Your file”: smiles → name)")
        self.corrections_button.clicked.connect(self._export_corrections)
        for b in (self.mark_button, self.correct_button, self.corrections_button):
            bar.addWidget(b)
        self.table.setContextMenuPolicy(Qt.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._verdict_menu)

    def _update_verdict_buttons(self) -> None:
        n = len(self.table.selectionModel().selectedRows())
        idle = self._verdict_task is None
        self.mark_button.setEnabled(n > 0 and idle)
        self.correct_button.setEnabled(n == 1 and idle)
        self.corrections_button.setEnabled(self._corrections_task is None)

    def _verdict_menu(self, pos) -> None:
        from PySide6.QtWidgets import QMenu

        ids = self._selected_ids()
        if not ids:
            return
        menu = QMenu(self)
        menu.addAction("Mark correct", lambda: self.mark_correct(ids)).setEnabled(self._verdict_task is None)
        menu.addAction("Correct name…", self._correct_selected).setEnabled(len(ids) == 1)
        menu.addAction("Clear your verdict", lambda: self.clear_verdict(ids)).setEnabled(self._verdict_task is None)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _start_verdict_task(self, fn, *args, name: str) -> Task:
        task = Task(fn, *args, name=name)
        self._verdict_task = task
        task.failed.connect(lambda msg, tb: self.message.emit(f"Could not save your verdict: {msg}"))
        task.finished.connect(self._verdict_finished)
        self._update_buttons()
        task.start()
        return task

    def _verdict_finished(self) -> None:
        self._verdict_task = None
        self._update_buttons()

    def mark_correct(self, ids: list[int]) -> Task | None:
        """The names of these namings are right (names OPSIN did not verify are checked again)."""
        if not ids or self._verdict_task is not None:
            return None
        task = self._start_verdict_task(verdicts.mark_correct_rows, list(ids), name="mark-correct")
        task.done.connect(self._marked)
        return task

    def _marked(self, res: dict) -> None:
        self.model.update_rows(res["rows"])
        parts = [f"Marked {len(res['rows'])} name(s) correct"] if res["rows"] else []
        parts += [f"naming {i} not marked: {reason}" for i, reason in res["refused"]]
        parts += [f"naming {i} {reason}" for i, reason in res["unchecked"][:1]]
        self.message.emit("; ".join(parts))

    def clear_verdict(self, ids: list[int]) -> Task | None:
        if not ids or self._verdict_task is not None:
            return None
        task = self._start_verdict_task(verdicts.clear_rows, list(ids), name="clear-verdict")
        task.done.connect(lambda rows: (self.model.update_rows(rows),
                                        self.message.emit(f"Cleared your verdict on {len(rows)} naming(s)")))
        return task

    def _correct_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if len(rows) == 1:
            self.correct_dialog(self.model.rows[rows[0].row()])

    def correct_dialog(self, row: dict) -> verdicts.CorrectionDialog:
        """The Correct name… dialog for one history row (shown, not modal to the test driving it)."""
        if self.correction_dialog is not None:
            self.correction_dialog.close()
        dlg = self.correction_dialog = verdicts.CorrectionDialog(row, self)
        dlg.saved.connect(self._corrected)
        dlg.open()
        return dlg

    def _corrected(self, row: dict, note: str) -> None:
        self.model.update_rows([row])
        verdict = "marked correct" if row.get("user_verdict") == "correct" else "corrected"
        self.message.emit(f"Naming {row['id']} {verdict}: {row.get('user_name')}" + (f" ({note})" if note else ""))

    def _export_corrections(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export your corrections", "chemnamer-corrections.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_corrections(path)

    def export_corrections(self, path: str) -> Task:
        """The namings with your verdict, as the training file the wizard reads (smiles, name, …)."""
        task = Task(verdicts.export_corrections, path, name="export-corrections")
        self._corrections_task = task
        task.done.connect(lambda n: self.message.emit(
            f"Exported {n} correction(s) to {path}: train on them with the wizard's “Your file” source" if n else
            "No corrections yet: mark names correct or correct them first (the file has the header only)"))
        task.failed.connect(lambda msg, tb: QMessageBox.warning(self, "Export corrections", msg))
        task.finished.connect(self._corrections_finished)
        self._update_buttons()
        task.start()
        return task

    def _corrections_finished(self) -> None:
        self._corrections_task = None
        self._update_buttons()


def _local_midnight_utc(d: QDate) -> datetime:
    local = datetime.combine(d.toPython(), dtime.min).astimezone()
    return local.astimezone(timezone.utc)
