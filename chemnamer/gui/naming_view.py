"""The naming view: type or paste a SMILES or a name, see the structure, the names and their checks."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFrame, QGridLayout, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QPushButton, QScrollArea, QSizePolicy, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from chemnamer.gui import tasks
from chemnamer.gui.concurrent import Task
from chemnamer.gui.widgets import (GREEN, GREY, RED, Badge, ElidedLabel, MoleculeView, Spinner, mono_font,
                                   section_label, verified_color, verified_text, verified_tip)

DEBOUNCE_MS = 400
EXAMPLE = "CC(=O)Oc1ccccc1C(=O)O"


def _card() -> QFrame:
    card = QFrame()
    card.setObjectName("card")
    return card


def _name_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    return label


def _yes_no(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    if value is None:
        return f"<span style='color:{GREY}'>–</span>"
    color = GREEN if value else RED
    return f"<span style='color:{color}; font-weight:600'>{'✓ ' + yes if value else '✗ ' + no}</span>"


class NamingView(QWidget):
    """Naming starts as you type (debounced); one naming runs at a time in a worker, the newest input
    waits for it, and a result for an input that is no longer in the box is not shown."""

    named = Signal(object)  # NamingOutcome shown (tests, history refresh)
    message = Signal(str)  # short status-bar messages

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.outcome = None
        self._task: Task | None = None
        self._task_text: str | None = None
        self._pending: str | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._fire)
        self._build()
        session.namer_changed.connect(self._on_namer_changed)

    # --- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 12)
        outer.setSpacing(10)

        row = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setObjectName("bigInput")
        self.input.setPlaceholderText(f"Paste a SMILES or an IUPAC name — e.g. {EXAMPLE} or 2-methylpropan-1-ol")
        self.input.setClearButtonEnabled(True)
        self.input.textEdited.connect(self._on_edited)
        self.input.returnPressed.connect(self.name_now)
        row.addWidget(self.input, 1)
        self.spinner = Spinner(self, 22)
        row.addWidget(self.spinner)
        self.best_mode = QCheckBox("Fall back to a verified reference")
        self.best_mode.setToolTip("When no model candidate verifies, choose the verified PubChem or rule-based "
                                  "name instead (naming mode 'best')")
        self.best_mode.toggled.connect(lambda _: self.name_now())
        row.addWidget(self.best_mode)
        self.name_button = QPushButton("Name")
        self.name_button.setObjectName("primary")
        self.name_button.clicked.connect(self.name_now)
        row.addWidget(self.name_button)
        outer.addLayout(row)

        self.msg = QLabel()
        self.msg.setObjectName("error")
        self.msg.setWordWrap(True)
        self.msg.hide()
        outer.addWidget(self.msg)

        split = QSplitter(Qt.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(self._left_panel())
        split.addWidget(self._right_panel())
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 6)
        split.setSizes([470, 600])
        outer.addWidget(split, 1)
        self._show_empty()

    def _left_panel(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 6, 0)
        lay.setSpacing(8)
        self.mol = MoleculeView(placeholder="Type a SMILES or a name:\nthe structure appears here")
        self.mol.setMinimumSize(300, 250)
        lay.addWidget(self.mol, 1)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        self.formula = QLabel()
        self.inchikey = QLabel()
        self.inchikey.setFont(mono_font(9))
        self.inchikey.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.smiles = ElidedLabel()
        self.smiles.setFont(mono_font(9))
        self.smiles.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for r, (label, widget) in enumerate((("Formula", self.formula), ("InChIKey", self.inchikey),
                                             ("SMILES", self.smiles))):
            key = QLabel(label)
            key.setObjectName("muted")
            grid.addWidget(key, r, 0, Qt.AlignRight)
            grid.addWidget(widget, r, 1)
        grid.setColumnStretch(1, 1)
        lay.addLayout(grid)
        buttons = QHBoxLayout()
        self.copy_smiles = QPushButton("Copy SMILES")
        self.copy_smiles.clicked.connect(lambda: self._copy_text(self.smiles.full_text(), "SMILES"))
        self.copy_name = QPushButton("Copy name")
        self.copy_name.clicked.connect(lambda: self._copy_text(self.gen_name.text(), "name"))
        self.copy_image = QPushButton("Copy image")
        self.copy_image.clicked.connect(self._copy_image)
        for b in (self.copy_smiles, self.copy_name, self.copy_image):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        return w

    def _right_panel(self) -> QWidget:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(6, 0, 4, 0)
        lay.setSpacing(10)

        # Generated name
        card = _card()
        c = QVBoxLayout(card)
        c.setContentsMargins(14, 10, 14, 12)
        c.setSpacing(6)
        c.addWidget(section_label("Generated name"))
        self.gen_name = _name_label()
        self.gen_name.setObjectName("bigname")
        c.addWidget(self.gen_name)
        line = QHBoxLayout()
        self.gen_badge = Badge()
        line.addWidget(self.gen_badge)
        self.gen_info = QLabel()
        self.gen_info.setObjectName("muted")
        self.gen_info.setWordWrap(True)
        line.addWidget(self.gen_info, 1)
        c.addLayout(line)
        self.note = QLabel()
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        self.note.hide()
        c.addWidget(self.note)
        lay.addWidget(card)

        # Reference names
        card = _card()
        g = QGridLayout(card)
        g.setContentsMargins(14, 10, 14, 12)
        g.setHorizontalSpacing(10)
        g.setVerticalSpacing(6)
        g.addWidget(section_label("Reference names"), 0, 0, 1, 3)
        self.ref_rows = {}
        for r, (key, title) in enumerate((("pubchem", "PubChem"), ("rule_based", "Rule-based")), start=1):
            t = QLabel(title)
            t.setObjectName("muted")
            name = _name_label()
            badge = Badge()
            g.addWidget(t, r * 2 - 1, 0, Qt.AlignTop)
            g.addWidget(name, r * 2 - 1, 1)
            g.addWidget(badge, r * 2 - 1, 2, Qt.AlignTop)
            extra = QLabel()
            extra.setObjectName("muted")
            extra.setWordWrap(True)
            g.addWidget(extra, r * 2, 1, 1, 2)
            self.ref_rows[key] = (name, badge, extra)
        g.setColumnStretch(1, 1)
        sep = QFrame()
        sep.setFrameShape(QFrame.HLine)
        sep.setStyleSheet("color: #e3e6ea;")
        g.addWidget(sep, 5, 0, 1, 3)
        t = QLabel("Agreement")
        t.setObjectName("muted")
        g.addWidget(t, 6, 0)
        self.agreement = QLabel()
        self.agreement.setTextFormat(Qt.RichText)
        g.addWidget(self.agreement, 6, 1, 1, 2)
        t = QLabel("vs PubChem")
        t.setObjectName("muted")
        g.addWidget(t, 7, 0)
        self.metrics = QLabel()
        self.metrics.setTextFormat(Qt.RichText)
        self.metrics.setToolTip("The generated name scored against the PubChem name: exact string match, "
                                "normalized Levenshtein similarity (1 = identical) and character BLEU")
        g.addWidget(self.metrics, 7, 1, 1, 2)
        lay.addWidget(card)

        # Candidates
        card = _card()
        c = QVBoxLayout(card)
        c.setContentsMargins(14, 10, 14, 12)
        c.addWidget(section_label("Candidates (beam search)"))
        self.cands = QTableWidget(0, 4)
        self.cands.setHorizontalHeaderLabels(["Name", "Score", "Conf.", "OPSIN"])
        self.cands.verticalHeader().setVisible(False)
        self.cands.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.cands.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.cands.setAlternatingRowColors(True)
        self.cands.setWordWrap(False)
        self.cands.setTextElideMode(Qt.ElideMiddle)
        hh = self.cands.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.Stretch)
        for i in (1, 2, 3):
            hh.setSectionResizeMode(i, QHeaderView.ResizeToContents)
        self.cands.setMinimumHeight(90)
        c.addWidget(self.cands)
        lay.addWidget(card)
        lay.addStretch(1)
        scroll.setWidget(body)
        return scroll

    # --- input ----------------------------------------------------------------------------------
    def set_input(self, text: str, name_now: bool = True) -> None:
        self.input.setText(text)
        if name_now:
            self.name_now()

    def _on_edited(self, _text: str) -> None:
        self._debounce.start()

    def name_now(self) -> None:
        self._debounce.stop()
        self._fire(force=True)

    def _fire(self, force: bool = False) -> None:
        text = self.input.text().strip()
        if not text:
            self._pending = None
            self._show_empty()
            return
        shown = self.outcome.result.input if self.outcome is not None else None
        if not force and text == shown and self.outcome.stored_at is None:
            return
        if self.session.namer is None or self._task is not None:
            self._pending = text  # named when the model is ready / the running naming ends
            self._set_busy(True)
            return
        self._start(text)

    def _start(self, text: str) -> None:
        self._pending = None
        mode = "best" if self.best_mode.isChecked() else "model"
        task = Task(self._name_fn, self.session.namer, text, mode, name="naming")
        self._task, self._task_text = task, text
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)
        task.finished.connect(lambda t=task: self._on_finished(t))
        self._set_busy(True)
        task.start()

    @staticmethod
    def _name_fn(state, namer, text, mode):
        import time

        t0 = time.perf_counter()
        result = namer.name(text, mode=mode)
        return tasks.outcome_of(result, seconds=time.perf_counter() - t0)

    def _on_done(self, outcome) -> None:
        if outcome.result.input != self.input.text().strip():
            return  # stale: the box holds something else by now
        self.show_outcome(outcome)

    def _on_failed(self, message: str, tb: str) -> None:
        if self._task_text == self.input.text().strip():
            self._show_error(f"Naming failed: {message}")

    def _on_finished(self, task: Task) -> None:
        if task is self._task:
            self._task = None
        if self._pending and self.session.namer is not None:
            self._start(self._pending)
        elif self._task is None:
            self._set_busy(False)

    def _on_namer_changed(self) -> None:
        text = self.input.text().strip()
        if self._pending:
            if self._task is None:
                self._start(self._pending)
        elif text and self._task is None:
            self._start(text)  # same input, new model

    def _set_busy(self, busy: bool) -> None:
        if busy:
            self.spinner.start()
        else:
            self.spinner.stop()

    @property
    def busy(self) -> bool:
        return self._task is not None or bool(self._pending)

    # --- showing a result -----------------------------------------------------------------------
    def show_outcome(self, outcome) -> None:
        """Render a NamingOutcome (from a naming, or re-opened from the history)."""
        self.outcome = outcome
        r = outcome.result
        if outcome.stored_at is not None and self.input.text().strip() != r.input:
            self.input.setText(r.input)
        if r.error:
            self._show_error(self._friendly_error(r.error))
            self._clear_result()
            self.named.emit(outcome)
            return
        self.msg.hide()
        self.mol.set_svg(outcome.svg)
        self.formula.setText(outcome.formula or "–")
        self.inchikey.setText(r.inchikey or "–")
        self.smiles.set_full_text(r.smiles or "")
        # generated name
        if r.name:
            self.gen_name.setText(r.name)
            self.gen_name.setStyleSheet("")
        else:
            self.gen_name.setText("no name")
            self.gen_name.setStyleSheet(f"color: {GREY};")
        self.gen_badge.set_state(r.verified)
        self.gen_badge.setVisible(bool(r.name))
        info = []
        if r.chosen_from and r.chosen_from != "model":
            info.append(f"chosen from the {r.chosen_from.replace('_', '-')} reference")
        elif r.confidence is not None:
            info.append(f"confidence {r.confidence:.0%}")
        info.append(f"model {r.model or self.session.model_label}")
        if r.device:
            info.append(r.device)
        total = r.ms.get("total") if r.ms else None
        if outcome.stored_at is not None:
            info.append(f"from history, {outcome.stored_at.astimezone().strftime('%Y-%m-%d %H:%M')}")
        elif total is not None:
            info.append(f"{total / 1000:.2f} s")
        self.gen_info.setText(" · ".join(info))
        note = r.note or ""
        if outcome.stored_at is not None:
            note = (note + "\n" if note else "") + "Re-opened from the history: press Name to name it again."
        self.note.setText(note)
        self.note.setVisible(bool(note))
        # references
        ref = r.reference
        synonyms = [x for x in (ref.synonyms or []) if x and x.lower() != (ref.common_name or "").lower()][:4]
        self._set_ref("pubchem", ref.pubchem, ref.pubchem_verified,
                      " · ".join(x for x in (f"CID {ref.cid}" if ref.cid else "",
                                             f"common name: {ref.common_name}" if ref.common_name else "",
                                             f"also: {', '.join(synonyms)}" if synonyms else "") if x)
                      or ("" if ref.pubchem else "not in the PubChem table"))
        self._set_ref("rule_based", ref.rule_based, ref.rule_based_verified,
                      "openclatura" if ref.rule_based else (ref.rule_based_error or "not computed"))
        agree = outcome.agreement or {"same_string": None, "same_structure": None}
        if agree["same_string"] is None:
            self.agreement.setText(f"<span style='color:{GREY}'>no generated name or no PubChem name to "
                                   f"compare</span>")
        else:
            self.agreement.setText(f"same string {_yes_no(agree['same_string'])} &nbsp;·&nbsp; "
                                   f"same structure {_yes_no(agree['same_structure'])}")
        cmp = outcome.compare
        if cmp:
            self.metrics.setText(f"exact match {_yes_no(cmp['exact'])} &nbsp;·&nbsp; "
                                 f"Levenshtein <b>{cmp['levenshtein']:.3f}</b> &nbsp;·&nbsp; "
                                 f"BLEU <b>{cmp['bleu']:.3f}</b>")
        else:
            self.metrics.setText(f"<span style='color:{GREY}'>–</span>")
        self._fill_candidates(r)
        for b in (self.copy_smiles, self.copy_image):
            b.setEnabled(bool(r.smiles))
        self.copy_name.setEnabled(bool(r.name))
        self.named.emit(outcome)

    def _set_ref(self, key: str, name: str | None, verified: bool | None, extra: str) -> None:
        label, badge, extra_label = self.ref_rows[key]
        label.setText(name or "–")
        label.setStyleSheet("" if name else f"color: {GREY};")
        badge.set_state(verified)
        badge.setVisible(bool(name))
        extra_label.setText(extra)
        extra_label.setVisible(bool(extra))

    def _fill_candidates(self, r) -> None:
        self.cands.setRowCount(len(r.candidates))
        for i, c in enumerate(r.candidates):
            item = QTableWidgetItem(c.name)
            item.setToolTip(f"{c.name}\n{c.reason}" if c.reason else c.name)
            if c.name == r.name:
                f = item.font()
                f.setBold(True)
                item.setFont(f)
            self.cands.setItem(i, 0, item)
            score = QTableWidgetItem(f"{c.score:.3f}")
            score.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.cands.setItem(i, 1, score)
            conf = QTableWidgetItem(f"{math.exp(c.score):.0%}" if c.score is not None else "")
            conf.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.cands.setItem(i, 2, conf)
            v = QTableWidgetItem(verified_text(c.verified, short=True))
            v.setForeground(QColor(verified_color(c.verified)))
            v.setTextAlignment(Qt.AlignCenter)
            v.setToolTip(c.reason or verified_tip(c.verified))
            self.cands.setItem(i, 3, v)
        if not r.candidates:
            self.cands.setRowCount(1)
            why = "the model gave no candidates" if self.session.namer and not self.session.model_error \
                else "no model loaded: reference names only"
            item = QTableWidgetItem(why)
            item.setForeground(QColor(GREY))
            self.cands.setItem(0, 0, item)
        self._fit_candidates()

    def _fit_candidates(self) -> None:
        """As tall as its rows (up to 8), so the card does not show an empty table."""
        rows = min(max(self.cands.rowCount(), 1), 8)
        height = self.cands.horizontalHeader().height() + 2 * self.cands.frameWidth() + 2
        height += sum(self.cands.rowHeight(i) for i in range(min(rows, self.cands.rowCount()))) or 28
        self.cands.setFixedHeight(height)

    def _friendly_error(self, error: str) -> str:
        return f"Cannot read this input: {error}"

    def _show_error(self, text: str) -> None:
        self.msg.setText(text)
        self.msg.show()

    def _clear_result(self) -> None:
        self.mol.set_svg(None)
        for w in (self.formula, self.inchikey):
            w.setText("–")
        self.smiles.set_full_text("")
        self.gen_name.setText("–")
        self.gen_name.setStyleSheet(f"color: {GREY};")
        self.gen_badge.hide()
        self.gen_info.setText("")
        self.note.hide()
        for key in self.ref_rows:
            self._set_ref(key, None, None, "")
        self.agreement.setText("")
        self.metrics.setText("")
        self.cands.setRowCount(0)
        self._fit_candidates()
        for b in (self.copy_smiles, self.copy_name, self.copy_image):
            b.setEnabled(False)

    def _show_empty(self) -> None:
        self.outcome = None
        self.msg.hide()
        self._clear_result()

    # --- clipboard ------------------------------------------------------------------------------
    def _copy_text(self, text: str, what: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)
            self.message.emit(f"Copied the {what}")

    def _copy_image(self) -> None:
        if self.mol.copy_to_clipboard():
            self.message.emit("Copied the structure image (PNG and SVG)")
