"""The naming view: type or paste a SMILES or a name, see the structure, the names and their checks."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QGridLayout, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QPushButton, QScrollArea, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from chemnamer.gui import tasks
from chemnamer.gui.concurrent import Task
from chemnamer.gui.name_check import NameCheck
from chemnamer.gui.widgets import (AMBER, GREEN, GREEN_BG, GREY, RED, RED_BG, Badge, ElidedLabel, ModeChoice,
                                   MoleculeView, Spinner, WrappingText, mono_font, section_label, settings,
                                   verified_color, verified_text, verified_tip)
from chemnamer.naming import SOURCE_LABELS, default_mode
from chemnamer.notebook import Notebook
from chemnamer.refnames import components, is_component_list
from chemnamer.textdiff import char_diff, edit_count

DEBOUNCE_MS = 400
EXAMPLE = "CC(=O)Oc1ccccc1C(=O)O"
MODE_KEY = "naming/mode"
BEST_MODE_KEY = "naming/fallback_to_reference"  # the earlier check box (model vs best): read once, as the default
SCORE_TIP = ("Mean log-probability per token under the model: it ranks the candidates, it is not the chance "
             "that a name is right (OPSIN's check is)")


def _name_rows_card(card, title: str, rows) -> tuple[QGridLayout, dict]:
    """A card's grid with a title and, per (key, label) of `rows`, a name with its ✓ badge and a grey
    line below it (origin, synonyms: 90-character names without a space wrap, like the name).
    Returns the grid (rows 1 to 2 x len(rows) taken) and {key: (name, badge, extra)}."""
    g = QGridLayout(card)
    g.setContentsMargins(14, 10, 14, 12)
    g.setHorizontalSpacing(10)
    g.setVerticalSpacing(6)
    g.addWidget(section_label(title), 0, 0, 1, 3)
    widgets = {}
    for r, (key, label) in enumerate(rows, start=1):
        t = QLabel(label)
        t.setObjectName("muted")
        name, badge, extra = _name_label(), Badge(), WrappingText()
        extra.setStyleSheet(f"color: {GREY};")
        g.addWidget(t, r * 2 - 1, 0, Qt.AlignTop)
        g.addWidget(name, r * 2 - 1, 1)
        g.addWidget(badge, r * 2 - 1, 2, Qt.AlignTop)
        g.addWidget(extra, r * 2, 1, 1, 2)
        widgets[key] = (name, badge, extra)
    return g, widgets


def _provenance(r) -> str:
    """Where the name shown comes from, in words, instead of a "confidence %".

    The old figure, the mean token probability exp(score), is not the chance a name is right. On the
    default recipe's 200 validation molecules (beam 8, as the app names; training/confidence_check.py)
    the top candidates showed 94 % on average and 39 % of them were right; the 88 names shown without
    a check mark averaged 91 % and none of them was PubChem's name. Right and wrong differ by OPSIN's
    check, shown beside the name, so no percentage is shown."""
    guided = r.mode == "guided"
    if guided and r.chosen_from == "rule_based":
        namer = f" ({r.reference.rule_based_namer})" if r.reference.rule_based_namer else ""
        return f"the verified rule-based draft{namer}, not a rewrite: " + \
            ("no rewrite verified" if r.candidates else "no rewrite (see the note)")
    if r.chosen_from and r.chosen_from not in ("model", "guided"):
        return f"chosen from the {SOURCE_LABELS.get(r.chosen_from, r.chosen_from)} reference"
    n = len(r.candidates)
    rank = next((i for i, c in enumerate(r.candidates) if c.name == r.name), 0)
    if guided:
        first = "rewrite" if not rank else f"rewrite {rank + 1} of {n}, the first that OPSIN verifies"
        return f"the guided model's {first}" + ("" if r.verified or r.verified is None else "; none verifies")
    if r.verified and rank:
        return f"the model's candidate {rank + 1} of {n}, the first that OPSIN verifies"
    if r.verified is False and n > 1:
        return f"the model's top candidate; none of its {n} candidates verifies"
    return "the model's top candidate"


def diff_html(before: str, after: str) -> str:
    """`char_diff` as rich text: deletions struck through in red, insertions in green."""
    from html import escape

    style = {"delete": f"color:{RED}; background-color:{RED_BG}; text-decoration:line-through;",
             "insert": f"color:{GREEN}; background-color:{GREEN_BG}; font-weight:600;"}
    return "".join(escape(text) if op == "equal" else f"<span style='{style[op]}'>{escape(text)}</span>"
                   for op, text in char_diff(before, after))


def _card() -> QFrame:
    card = QFrame()
    card.setObjectName("card")
    return card


def _name_label() -> WrappingText:
    """A name: wraps inside its card however long, selectable, copies exactly."""
    return WrappingText()


def _yes_no(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    if value is None:
        return f"<span style='color:{GREY}'>–</span>"
    color = GREEN if value else RED
    return f"<span style='color:{color}; font-weight:600'>{'✓ ' + yes if value else '✗ ' + no}</span>"


class NamingView(QWidget):
    """Naming starts as you type (debounced); one naming runs at a time in a worker, the newest input
    waits for it, and a result for an input that is no longer in the box is not shown. What reaches the
    history follows chemnamer.notebook: an as-you-type result is a draft, Enter/Name keep it."""

    named = Signal(object)  # NamingOutcome shown (tests, history refresh)
    message = Signal(str)  # short status-bar messages

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.outcome = None
        self._task: Task | None = None
        self._task_text: str | None = None
        self._guided_task: Task | None = None
        self._guided_prepared = None  # the Namer whose guided model is loaded or loading
        self._pending: str | None = None
        self._pending_commit = False
        self.notebook = Notebook()
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
        mode_label = QLabel("Mode")
        mode_label.setObjectName("muted")
        row.addWidget(mode_label)
        self.mode_choice = ModeChoice(MODE_KEY, "best" if settings().value(BEST_MODE_KEY, False, type=bool)
                                      else default_mode(self.session.model_id))
        self.mode_choice.changed.connect(self._on_mode)
        row.addWidget(self.mode_choice)
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
        self.copy_name.clicked.connect(lambda: self._copy_text(self.outcome.result.name if self.outcome else "",
                                                               "name"))
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

        # Guided mode: the rule-based draft, the guided model's rewrite, what changed between them
        self.guided_card = card = _card()
        g, self.guided_rows = _name_rows_card(card, "Guided rewrite", (("draft", "Draft"), ("rewrite", "Rewrite")))
        t = QLabel("Changes")
        t.setObjectName("muted")
        g.addWidget(t, 5, 0, Qt.AlignTop)
        self.guided_diff = WrappingText()  # rich text: deletions struck in red, insertions in green
        self.guided_diff.setToolTip("From the draft to the rewrite: struck red = deleted, green = inserted")
        g.addWidget(self.guided_diff, 5, 1, 1, 2)
        self.guided_status = QLabel()
        self.guided_status.setWordWrap(True)
        self.guided_status.setTextFormat(Qt.RichText)
        g.addWidget(self.guided_status, 6, 0, 1, 3)
        g.setColumnStretch(1, 1)
        card.hide()
        lay.addWidget(card)

        # Reference names
        card = _card()
        g, self.ref_rows = _name_rows_card(card, "Reference names", (("pubchem", "PubChem"), ("rule_based", "Rule-based")))
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
        self.cands_title = section_label("Candidates (beam search)")
        c.addWidget(self.cands_title)
        self.cands = QTableWidget(0, 3)
        self.cands.setHorizontalHeaderLabels(["Name", "Score", "OPSIN"])
        self.cands.horizontalHeaderItem(1).setToolTip(SCORE_TIP)
        self.cands.verticalHeader().setVisible(False)
        self.cands.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.cands.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.cands.setAlternatingRowColors(True)
        self.cands.setWordWrap(False)
        self.cands.setTextElideMode(Qt.ElideMiddle)
        hh = self.cands.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.Stretch)
        for i in (1, 2):
            hh.setSectionResizeMode(i, QHeaderView.ResizeToContents)
        self.cands.setMinimumHeight(90)
        c.addWidget(self.cands)
        lay.addWidget(card)

        self.name_check = NameCheck()  # the user's own name for the structure, checked like the others
        lay.addWidget(self.name_check)
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
        """Name what is in the box now, as a naming the user asked for (Enter, Name, the fallback)."""
        self._debounce.stop()
        self._fire(force=True)

    def _on_mode(self, _mode: str) -> None:
        self._prepare_guided()
        self.name_now()

    def _prepare_guided(self) -> None:
        """In mode guided, load the guided model and start the rule-based namers in the background
        while the user types, so the first guided naming does not wait for them."""
        namer = self.session.namer
        if namer is None or self.mode_choice.mode() != "guided" or namer is self._guided_prepared:
            return
        self._guided_prepared = namer
        task = Task(tasks.prepare_guided, namer, name="prepare-guided")
        self._guided_task = task  # referenced until it ends
        task.finished.connect(lambda t=task: setattr(self, "_guided_task", None) if self._guided_task is t else None)
        task.start()

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
            # named when the model is ready / the running naming ends; Enter on the same text still counts
            self._pending_commit = force or (self._pending_commit and self._pending == text)
            self._pending = text
            self._set_busy(True)
            return
        self._start(text, committed=force)

    def _start(self, text: str, committed: bool = True) -> None:
        self._pending, self._pending_commit = None, False
        mode = self.mode_choice.mode()
        task = Task(self._name_fn, self.session.namer, text, mode, self.notebook, committed, name="naming")
        self._task, self._task_text = task, text
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)
        task.finished.connect(lambda t=task: self._on_finished(t))
        self._set_busy(True)
        task.start()

    @staticmethod
    def _name_fn(state, namer, text, mode, notebook, committed):
        import time

        t0 = time.perf_counter()
        result = namer.name(text, mode=mode, store=False)
        notebook.save(result, committed)  # in the worker: the SQLite write never waits in the GUI thread
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
            self._start(self._pending, self._pending_commit)
        elif self._task is None:
            self._set_busy(False)

    def _on_namer_changed(self) -> None:
        text = self.input.text().strip()
        self.notebook.keep()  # the result of the previous model stays in the history
        if self.session.guided_active:  # a guided model was chosen: it names in guided mode only
            self.mode_choice.blockSignals(True)  # the naming below is the one naming
            self.mode_choice.set_mode("guided")
            self.mode_choice.blockSignals(False)
        self._guided_prepared = None  # a new Namer (the old one is not kept alive for this)
        self._prepare_guided()
        if self._pending:
            if self._task is None:
                self._start(self._pending, self._pending_commit)
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
        info = [_provenance(r)] if r.name else []
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
        details = " · ".join(x for x in (f"CID {ref.cid}" if ref.cid else "",
                                         f"common name: {ref.common_name}" if ref.common_name else "",
                                         f"also: {', '.join(synonyms)}" if synonyms else "") if x) \
            or ("" if ref.pubchem else "not in the PubChem table")
        if ref.pubchem_original:  # shown: the current-style conversion; one line below: the table's own name
            details = f"as in the table: {ref.pubchem_original}" + (f"\n{details}" if details else "")
        self._set_ref("pubchem", ref.pubchem, ref.pubchem_verified, details)
        if is_component_list(ref.pubchem):  # "sodium;chloride": the parts of a salt, not a name
            label, badge, _extra = self.ref_rows["pubchem"]
            label.setText("; ".join(components(ref.pubchem)))
            badge.set_neutral("components", "PubChem lists the components of this salt or mixture (joined by "
                                            "';'): not a name, so it is neither checked nor compared")
        self._set_ref("rule_based", ref.rule_based, ref.rule_based_verified,
                      (f"by {ref.rule_based_namer}" if ref.rule_based_namer else "") if ref.rule_based
                      else (ref.rule_based_error or "not computed"))
        self._show_guided(r)
        agree = outcome.agreement or {"same_string": None, "same_structure": None}
        if agree["same_string"] is None:
            why = ("PubChem gives the components of a salt, not a name" if is_component_list(ref.pubchem)
                   else "no name shown or no PubChem name to compare")
            self.agreement.setText(f"<span style='color:{GREY}'>{why}</span>")
        elif r.chosen_from == "pubchem":
            self.agreement.setText(f"<span style='color:{GREY}'>the name shown is PubChem's own</span>")
        else:
            self.agreement.setText(f"same string {_yes_no(agree['same_string'])} &nbsp;·&nbsp; "
                                   f"same structure {_yes_no(agree['same_structure'])}")
        cmp = outcome.compare if r.chosen_from != "pubchem" else None
        if cmp:
            self.metrics.setText(f"exact match {_yes_no(cmp['exact'])} &nbsp;·&nbsp; "
                                 f"Levenshtein <b>{cmp['levenshtein']:.3f}</b> &nbsp;·&nbsp; "
                                 f"BLEU <b>{cmp['bleu']:.3f}</b>")
        else:
            self.metrics.setText(f"<span style='color:{GREY}'>–</span>")
        self._fill_candidates(r)
        self.name_check.set_structure(r.smiles)
        for b in (self.copy_smiles, self.copy_image):
            b.setEnabled(bool(r.smiles))
        self.copy_name.setEnabled(bool(r.name))
        self.named.emit(outcome)

    def _show_guided(self, r) -> None:
        """Guided mode: the verified rule-based draft, the guided model's rewrite, the character diff
        between them, and which of the two is the name shown."""
        self.guided_card.setVisible(r.mode == "guided")
        if r.mode != "guided":
            return
        ref = r.reference
        name, badge, extra = self.guided_rows["draft"]
        name.setText(ref.rule_based or "–")
        name.setStyleSheet("" if ref.rule_based else f"color: {GREY};")
        badge.set_state(ref.rule_based_verified)
        badge.setVisible(bool(ref.rule_based))
        extra.setText((f"by {ref.rule_based_namer}" if ref.rule_based_namer else "") if ref.rule_based
                      else (ref.rule_based_error or "no rule-based name"))
        extra.setVisible(bool(extra.text()))
        draft = ref.rule_based if ref.rule_based_verified else None  # only a verified draft is rewritten
        # the rewrite shown: the chosen one, else the guided model's top candidate
        rewrite = r.name if r.chosen_from in ("model", "guided") else (r.candidates[0].name if r.candidates else None)
        cand = next((c for c in r.candidates if c.name == rewrite), None)
        name, badge, extra = self.guided_rows["rewrite"]
        name.setText(rewrite or "–")
        name.setStyleSheet("" if rewrite else f"color: {GREY};")
        badge.set_state(cand.verified if cand is not None else None)
        badge.setVisible(bool(rewrite))
        unavailable = "guided model unavailable" in (r.note or "")
        if rewrite:
            rank = r.candidates.index(cand) + 1 if cand is not None else 1
            why = f"rewrite {rank} of {len(r.candidates)} (beam search)" if len(r.candidates) > 1 else ""
        elif not draft:
            why = "nothing to rewrite: no verified rule-based name"
        else:
            why = "the guided model is not available (see the note above)" if unavailable \
                else "the guided model wrote no rewrite"
        extra.setText(why)
        extra.setVisible(bool(why))
        if draft and rewrite:
            self.guided_diff.setHtml(diff_html(draft, rewrite))
            n = edit_count(draft, rewrite)
            changed = f"{n} character{'' if n == 1 else 's'} changed" if n else "the rewrite copies the draft"
        else:
            self.guided_diff.setText("–")
            changed = ""
        if r.chosen_from == "rule_based":
            why = "no rewrite verified" if r.candidates else "no rewrite"
            status = (f"<span style='color:{AMBER}; font-weight:600'>The verified draft is the name shown</span>"
                      f" ({why})")
        elif rewrite and r.name == rewrite and r.verified:
            status = f"<span style='color:{GREEN}; font-weight:600'>The rewrite is the name shown</span> " \
                     "(OPSIN verifies it)"
        elif rewrite and r.name == rewrite:
            status = f"<span style='color:{RED}; font-weight:600'>The rewrite is shown unverified</span> " \
                     "(no verified draft to fall back to)"
        else:
            status = f"<span style='color:{GREY}'>No name from guided naming</span>"
        self.guided_status.setText(status + (f" · <span style='color:{GREY}'>{changed}</span>" if changed else ""))

    def _set_ref(self, key: str, name: str | None, verified: bool | None, extra: str) -> None:
        label, badge, extra_label = self.ref_rows[key]
        label.setText(name or "–")
        label.setStyleSheet("" if name else f"color: {GREY};")
        badge.set_state(verified)
        badge.setVisible(bool(name))
        extra_label.setText(extra)
        extra_label.setVisible(bool(extra))

    def _fill_candidates(self, r) -> None:
        self.cands_title.setText(("Rewrites" if r.mode == "guided" else "Candidates").upper() + " (BEAM SEARCH)")
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
            score.setToolTip(SCORE_TIP)
            self.cands.setItem(i, 1, score)
            v = QTableWidgetItem(verified_text(c.verified, short=True))
            v.setForeground(QColor(verified_color(c.verified)))
            v.setTextAlignment(Qt.AlignCenter)
            v.setToolTip(c.reason or verified_tip(c.verified))
            self.cands.setItem(i, 2, v)
        if not r.candidates:
            self.cands.setRowCount(1)
            if r.mode == "guided":
                why = ("no verified rule-based name: nothing to rewrite" if not r.reference.rule_based_verified
                       else "no guided model: the verified draft is used"
                       if "guided model unavailable" in (r.note or "") else "the guided model gave no rewrites")
            elif self.session.namer and not self.session.namer.model_error:
                why = "the model gave no candidates"
            else:
                why = "no model loaded: reference names only"
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
        self.guided_card.hide()
        for key in self.ref_rows:
            self._set_ref(key, None, None, "")
        self.agreement.setText("")
        self.metrics.setText("")
        self.cands.setRowCount(0)
        self._fit_candidates()
        self.name_check.set_structure(None)
        for b in (self.copy_smiles, self.copy_name, self.copy_image):
            b.setEnabled(False)

    def _show_empty(self) -> None:
        self.outcome = None
        self.msg.hide()
        self._clear_result()

    # --- clipboard ------------------------------------------------------------------------------
    def _copy_text(self, text: str, what: str) -> None:
        if text:
            self.notebook.keep()  # a result the user takes away is one they asked for
            QGuiApplication.clipboard().setText(text)
            self.message.emit(f"Copied the {what}")

    def _copy_image(self) -> None:
        if self.mol.copy_to_clipboard():
            self.notebook.keep()
            self.message.emit("Copied the structure image (PNG and SVG)")
