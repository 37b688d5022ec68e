"""The training wizard: data → filters and split → format → model and method → hyperparameters → run.

Every page writes its part of a `RunConfig` (as the plain dict `RunConfig.to_dict()` gives), so what
the wizard runs is exactly what `chemnamer train --recipe` would run with the same values.
"""
from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QPlainTextEdit,
                               QPushButton, QRadioButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget, QWizard, QWizardPage)

from chemnamer.gui import tasks, wizard_tasks
from chemnamer.gui.concurrent import TaskSlot
from chemnamer.gui.training import RunMonitor, TrainingController
from chemnamer.gui.widgets import GREY, RED, Spinner, mono_font

PUBCHEM_TABLES = [("large", "PubChem large table"), ("small", "PubChem small table"),
                  ("user", "Example user database")]
FILE_FILTER = "Data files (*.csv *.tsv *.txt *.jsonl *.json *.sdf *.smi *.gz);;All files (*)"
EXAMPLE_PAIRS = [("CC(=O)Oc1ccccc1C(=O)O", "2-acetyloxybenzoic acid"),
                 ("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "1,3,7-trimethylpurine-2,6-dione"),
                 ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", "2-[4-(2-methylpropyl)phenyl]propanoic acid"),
                 ("OCC1OC(O)C(O)C(O)C1O", "6-(hydroxymethyl)oxane-2,3,4,5-tetrol")]


def default_config() -> dict:
    """RunConfig's defaults as a dict: every page starts from these values (none re-typed here)."""
    from chemnamer.recipe import RunConfig

    cfg = RunConfig().to_dict()
    cfg["name"] = "wizard"
    return cfg


def instruction_with_inputs(instruction: str, inputs: dict[str, str]) -> str:
    """The instruction with a line per extra input column ("rule: {rule}") it does not use yet."""
    return instruction + "".join(f"\n{column}: {{{name}}}" for column, name in inputs.items()
                                 if f"{{{name}}}" not in instruction)


def _table_label(key: str, label: str) -> str:
    """The table's name with its size read from the file (the shipped data decides, not this file)."""
    from chemnamer.data.pubchem import table_rows

    try:
        return f"{label} ({table_rows(key):,} compounds)"
    except OSError:  # the data package is missing: the count step says so in words
        return label


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


# --- 1. data ---------------------------------------------------------------------------------------

class DataPage(QWizardPage):
    def __init__(self, wizard: "TrainingWizard"):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Training data")
        self.setSubTitle("Examples of one or more inputs (a SMILES, a rule-based name…) and the target (its "
                         "IUPAC name) the model learns from.")
        d = wizard.base_config["data"]
        self._previews = TaskSlot(done=self._on_preview, failed=self._on_preview_failed)  # the latest file wins
        lay = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.src_pubchem = QRadioButton("PubChem table — SMILES with PubChem's IUPAC names")
        self.src_zinc = QRadioButton("Rule-labelled ZINC — openclatura names that OPSIN reads back")
        self.src_file = QRadioButton("Your file — CSV, TSV, JSON lines, SDF or SMI, any input columns")
        for i, b in enumerate((self.src_pubchem, self.src_zinc, self.src_file)):
            self.group.addButton(b, i)
        self.src_pubchem.setChecked(True)

        lay.addWidget(self.src_pubchem)
        self.pubchem_box = QWidget()
        f = QFormLayout(self.pubchem_box)
        f.setContentsMargins(26, 0, 0, 6)
        self.table = QComboBox()
        for key, label in PUBCHEM_TABLES:
            self.table.addItem(_table_label(key, label), key)
        f.addRow("Table", self.table)
        self.drop_old = QCheckBox("Drop old-style names (oxidanyl, azanyl, chloranyl…)")
        self.drop_old.setChecked(d["drop_old_style"])
        self.restore_case = QCheckBox("Restore IUPAC capitals (N-methyl, (2R), 1H-)")
        self.restore_case.setChecked(d["restore_case"])
        f.addRow(self.drop_old)
        f.addRow(self.restore_case)
        lay.addWidget(self.pubchem_box)

        lay.addWidget(self.src_zinc)
        self.zinc_box = _hint("Built beforehand with `chemnamer data build --source zinc --pairs N` (resumable; "
                              "slow: every name is checked by OPSIN). The split limits choose how many are used.")
        self.zinc_box.setContentsMargins(26, 0, 0, 6)
        lay.addWidget(self.zinc_box)

        lay.addWidget(self.src_file)
        self.file_box = QWidget()
        g = QGridLayout(self.file_box)
        g.setContentsMargins(26, 0, 0, 0)
        self.path = QLineEdit()
        self.path.setPlaceholderText("Choose a file…")
        self.path.editingFinished.connect(self._load_preview)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        g.addWidget(QLabel("File"), 0, 0)
        g.addWidget(self.path, 0, 1, 1, 3)
        g.addWidget(browse, 0, 4)
        self.source_col = QComboBox()
        self.source_col.setToolTip("The first input: {source} in the prompt")
        self.target_col = QComboBox()
        self.target_col.setToolTip("What the model learns to write")
        self.source_is_smiles = QCheckBox("The first input holds SMILES (enables filters and InChIKey splits)")
        self.source_is_smiles.setChecked(d["source_is_smiles"])
        g.addWidget(QLabel("Input column"), 1, 0)
        g.addWidget(self.source_col, 1, 1)
        g.addWidget(QLabel("Target column"), 1, 2)
        g.addWidget(self.target_col, 1, 3)
        g.addWidget(self.source_is_smiles, 2, 1, 1, 4)
        # More inputs: each checked column becomes a named input of the prompt ({rule} for "Rule").
        self.extra_cols = QListWidget()
        self.extra_cols.setFlow(QListWidget.LeftToRight)
        self.extra_cols.setWrapping(True)
        self.extra_cols.setMaximumHeight(58)
        self.extra_cols.setToolTip("Each checked column is one more input of the prompt, by its name in braces "
                                   "(a guided model reads a rule-based name as {rule})")
        g.addWidget(QLabel("More inputs"), 3, 0, Qt.AlignTop)
        g.addWidget(self.extra_cols, 3, 1, 1, 4)
        self.preview = QTableWidget(0, 0)
        self.preview.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.preview.verticalHeader().setVisible(False)
        self.preview.setMinimumHeight(120)
        self.preview.hide()
        self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        g.addWidget(self.preview, 4, 0, 1, 5)
        self.file_msg = QLabel()
        self.file_msg.setWordWrap(True)
        g.addWidget(self.file_msg, 5, 0, 1, 5)
        g.setColumnStretch(1, 1)
        g.setColumnStretch(3, 1)
        lay.addWidget(self.file_box)
        lay.addStretch(1)

        self.group.idToggled.connect(self._on_source)
        for w in (self.source_col, self.target_col):
            w.currentIndexChanged.connect(self._on_columns)
        self.extra_cols.itemChanged.connect(self._relabel)
        self._on_source()

    def _on_source(self, *_):
        self.pubchem_box.setEnabled(self.src_pubchem.isChecked())
        self.zinc_box.setEnabled(self.src_zinc.isChecked())
        self.file_box.setEnabled(self.src_file.isChecked())
        self.completeChanged.emit()

    def _on_columns(self, *_):
        """The first input and the target are no extra inputs: their boxes are greyed out."""
        taken = {self.source_col.currentText(), self.target_col.currentText()}
        self.extra_cols.blockSignals(True)
        for i in range(self.extra_cols.count()):
            item = self.extra_cols.item(i)
            free = item.data(Qt.UserRole) not in taken
            item.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled if free else Qt.ItemIsUserCheckable)
            if not free:
                item.setCheckState(Qt.Unchecked)
        self.extra_cols.blockSignals(False)
        self._relabel()

    def _relabel(self, *_):
        """Each checked column with the name it takes in the prompt: "Rule name  →  {rule_name}"."""
        from chemnamer.data.userfile import input_names

        names = input_names(self.extra_columns())
        self.extra_cols.blockSignals(True)
        for i in range(self.extra_cols.count()):
            item = self.extra_cols.item(i)
            column = item.data(Qt.UserRole)
            item.setText(f"{column}  →  {{{names[column]}}}" if column in names else column)
        self.extra_cols.blockSignals(False)
        self.completeChanged.emit()

    def extra_columns(self) -> list[str]:
        """The checked extra input columns, in the file's order."""
        return [self.extra_cols.item(i).data(Qt.UserRole) for i in range(self.extra_cols.count())
                if self.extra_cols.item(i).checkState() == Qt.Checked]

    def set_extra_columns(self, columns: list[str]) -> None:
        for i in range(self.extra_cols.count()):
            item = self.extra_cols.item(i)
            if item.flags() & Qt.ItemIsEnabled:
                item.setCheckState(Qt.Checked if item.data(Qt.UserRole) in columns else Qt.Unchecked)

    def input_names(self) -> dict[str, str]:
        """{extra input column: its name in the prompt}; empty unless the source is a file."""
        from chemnamer.data.userfile import input_names

        return input_names(self.extra_columns()) if self.src_file.isChecked() else {}

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Training data", str(Path.home()), FILE_FILTER)
        if path:
            self.set_file(path)

    def set_file(self, path: str) -> None:
        self.src_file.setChecked(True)
        self.path.setText(path)
        self._load_preview()

    def _load_preview(self) -> None:
        path = self.path.text().strip()
        if not path:
            return
        self.file_msg.setText("reading…")
        self._previews.start(wizard_tasks.file_preview, path, name="file-preview")

    def _on_preview(self, res) -> None:
        columns, rows = res
        self.preview.show()
        self.preview.setColumnCount(len(columns))
        self.preview.setHorizontalHeaderLabels(columns)
        self.preview.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                self.preview.setItem(r, c, QTableWidgetItem(value))
        lowered = [c.lower() for c in columns]
        d = self.wiz.base_config["data"]
        for combo, guesses, fallback in ((self.source_col, (d["source_column"], "source", "input"), 0),
                                         (self.target_col, (d["target_column"], "iupac", "iupac_name", "target"), 1)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(columns)
            pick = next((lowered.index(g) for g in guesses if g in lowered), min(fallback, len(columns) - 1))
            combo.setCurrentIndex(pick)
            combo.blockSignals(False)
        from chemnamer.data.userfile import input_names

        self.extra_cols.blockSignals(True)
        self.extra_cols.clear()
        for column, name in input_names(columns).items():
            item = QListWidgetItem(column)
            item.setData(Qt.UserRole, column)
            # a "rule" column is what guided naming fills: offered checked
            item.setCheckState(Qt.Checked if name == "rule" else Qt.Unchecked)
            self.extra_cols.addItem(item)
        self.extra_cols.blockSignals(False)
        self._on_columns()
        self.file_msg.setStyleSheet(f"color: {GREY};")
        self.file_msg.setText(f"{len(columns)} columns; the first {len(rows)} rows are shown")
        self.completeChanged.emit()

    def _on_preview_failed(self, message: str, _traceback: str) -> None:
        self.preview.setRowCount(0)
        self.preview.setColumnCount(0)
        self.preview.hide()
        for combo in (self.source_col, self.target_col, self.extra_cols):
            combo.clear()
        self.file_msg.setStyleSheet(f"color: {RED};")
        self.file_msg.setText(message.split(": ", 1)[-1])
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        if not self.src_file.isChecked():
            return True
        return bool(self.path.text().strip()) and self.source_col.count() > 0 and \
            self.source_col.currentText() != self.target_col.currentText()

    def apply(self, cfg: dict) -> None:
        d = cfg["data"]
        if self.src_pubchem.isChecked():
            d.update(source="pubchem", pubchem_tables=[self.table.currentData()], drop_old_style=self.drop_old.isChecked(),
                     restore_case=self.restore_case.isChecked(), path="", source_is_smiles=True)
        elif self.src_zinc.isChecked():
            d.update(source="zinc", path="", source_is_smiles=True)
        else:
            d.update(source="file", path=self.path.text().strip(), source_column=self.source_col.currentText(),
                     target_column=self.target_col.currentText(), extra_columns=self.extra_columns(),
                     source_is_smiles=self.source_is_smiles.isChecked())


# --- 2. filters and split --------------------------------------------------------------------------

class FilterPage(QWizardPage):
    def __init__(self, wizard: "TrainingWizard"):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Filters and split")
        self.setSubTitle("The paper's molecule filters, switchable; duplicates (same InChIKey) are removed and "
                         "the split never puts one structure on both sides.")
        self.counts: dict | None = None
        self.counts_error: str | None = None
        # One count at a time (a minute for the large table, cached); a change meanwhile recounts after it.
        self.counting = TaskSlot(done=self._on_counts, failed=self._on_failed, finished=self._on_finished)
        self._counting_data: dict | None = None
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self.recount)

        lay = QHBoxLayout(self)
        left = QVBoxLayout()
        d = wizard.base_config["data"]
        fc = d["filters"]  # FilterConfig's defaults: the paper's values
        box = QGroupBox("Molecule filters (Fauber 2024)")
        g = QGridLayout(box)
        self.f_elements = QCheckBox("Only H, C, N, O, S, F, Cl, Br")
        self.f_mw = QCheckBox("Molecular weight from")
        self.mw_min = self._dspin(0, 5000, fc["mw_min"], 10)
        self.mw_max = self._dspin(0, 5000, fc["mw_max"], 10)
        self.f_fsp3 = QCheckBox("Fsp3 at least")
        self.fsp3_min = self._dspin(0, 1, fc["fsp3_min"], 0.05, 2)
        self.f_phenyl = QCheckBox("Phenyl rings at most")
        self.phenyl_max = self._ispin(0, 20, fc["phenyl_max"])
        self.f_aromatic = QCheckBox("Aromatic rings at most")
        self.aromatic_max = self._ispin(0, 20, fc["aromatic_max"])
        self.f_rings = QCheckBox("Rings at least")
        self.rings_min = self._ispin(0, 20, fc["rings_min"])
        self.f_fragments = QCheckBox("One fragment (no salts or mixtures)")
        g.addWidget(self.f_elements, 0, 0, 1, 4)
        g.addWidget(self.f_mw, 1, 0)
        g.addWidget(self.mw_min, 1, 1)
        g.addWidget(QLabel("to"), 1, 2)
        g.addWidget(self.mw_max, 1, 3)
        for r, (check, spin) in enumerate(((self.f_fsp3, self.fsp3_min), (self.f_phenyl, self.phenyl_max),
                                           (self.f_aromatic, self.aromatic_max), (self.f_rings, self.rings_min)),
                                          start=2):
            g.addWidget(check, r, 0)
            g.addWidget(spin, r, 1)
        g.addWidget(self.f_fragments, 6, 0, 1, 4)
        for check, key in zip(self._checks(), ("elements", "mw", "fsp3", "phenyl", "aromatic", "rings",
                                               "single_fragment")):
            check.setChecked(fc[key])
            check.toggled.connect(self._changed)
        left.addWidget(box)

        box = QGroupBox("Split")
        f = QFormLayout(box)
        self.split = QComboBox()
        self.split.addItem("by InChIKey (no structure in two splits)", "inchikey")
        self.split.addItem("by scaffold (harder: unseen ring systems)", "scaffold")
        self.split.setCurrentIndex(max(0, self.split.findData(d["split"])))
        self.n_valid = self._ispin(0, 100000, d["n_valid"])
        self.n_test = self._ispin(0, 1000000, d["n_test"])
        self.limit_train = self._ispin(0, 10000000, d["limit_train"])
        self.limit_train.setSpecialValueText("all")
        self.seed = self._ispin(0, 1000000, d["seed"])
        f.addRow("Split", self.split)
        f.addRow("Validation pairs", self.n_valid)
        f.addRow("Test pairs", self.n_test)
        f.addRow("Training pairs (limit)", self.limit_train)
        f.addRow("Seed", self.seed)
        self.split.currentIndexChanged.connect(self._changed)
        left.addWidget(box)
        left.addStretch(1)
        lay.addLayout(left, 3)

        right = QVBoxLayout()
        box = QGroupBox("What remains")
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        self.spinner = Spinner(self)
        row.addWidget(self.spinner)
        self.count_title = QLabel("–")
        self.count_title.setObjectName("h1")
        row.addWidget(self.count_title, 1)
        v.addLayout(row)
        self.count_text = QLabel("")
        self.count_text.setWordWrap(True)
        self.count_text.setTextFormat(Qt.RichText)
        self.count_text.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        v.addWidget(self.count_text, 1)
        right.addWidget(box, 1)
        lay.addLayout(right, 2)

    def _dspin(self, lo, hi, value, step, decimals=0) -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(lo, hi)
        s.setDecimals(decimals)
        s.setSingleStep(step)
        s.setValue(value)
        s.valueChanged.connect(self._changed)
        return s

    def _ispin(self, lo, hi, value) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setValue(value)
        s.setGroupSeparatorShown(True)
        s.valueChanged.connect(self._changed)
        return s

    def _checks(self):
        return (self.f_elements, self.f_mw, self.f_fsp3, self.f_phenyl, self.f_aromatic, self.f_rings,
                self.f_fragments)

    def initializePage(self) -> None:  # noqa: N802
        self.recount()

    def _changed(self, *_):
        self.counts = None
        self.completeChanged.emit()
        self._timer.start()

    def apply(self, cfg: dict) -> None:
        d = cfg["data"]
        d["filters"].update(
            elements=self.f_elements.isChecked(), mw=self.f_mw.isChecked(), mw_min=self.mw_min.value(),
            mw_max=self.mw_max.value(), fsp3=self.f_fsp3.isChecked(), fsp3_min=self.fsp3_min.value(),
            phenyl=self.f_phenyl.isChecked(), phenyl_max=self.phenyl_max.value(),
            aromatic=self.f_aromatic.isChecked(), aromatic_max=self.aromatic_max.value(),
            rings=self.f_rings.isChecked(), rings_min=self.rings_min.value(),
            single_fragment=self.f_fragments.isChecked())
        d.update(split=self.split.currentData(), n_valid=self.n_valid.value(), n_test=self.n_test.value(),
                 limit_train=self.limit_train.value(), seed=self.seed.value())

    # --- counting in a worker --------------------------------------------------------------------
    def recount(self) -> None:
        if self.counting.running:
            self._pending = True
            return
        self._pending = False
        cfg = self.wiz.config(upto=self)
        self.counts, self.counts_error = None, None
        self.spinner.start()
        self.count_title.setText("Counting…")
        big = cfg["data"]["source"] == "pubchem" and cfg["data"]["pubchem_tables"] == ["large"]
        self.count_text.setText("Reading the source and applying the filters" +
                                (" (about a minute for the large table; the result is cached and the run "
                                 "reuses it)" if big else "") + "…")
        self._counting_data = copy.deepcopy(cfg["data"])
        self.counting.start(wizard_tasks.data_counts, cfg["data"], name="data-counts")

    def _on_counts(self, res: dict) -> None:
        if self._counting_data != self.wiz.config(upto=self)["data"]:
            return  # the settings changed meanwhile; a recount is pending
        self.counts = res
        sizes, filt = res.get("sizes", {}), res.get("filters", {})
        self.count_title.setText(f"{sizes.get('train', 0):,} training pairs")
        rej = filt.get("rejected") or {}
        lines = [f"<b>{sizes.get('valid', 0):,}</b> validation · <b>{sizes.get('test', 0):,}</b> test",
                 f"<b>{filt.get('kept', 0):,}</b> molecules pass the filters"]
        if rej:
            lines.append("<br><span style='color:%s'>Removed:</span>" % GREY)
            names = {"mw": "molecular weight", "fsp3": "Fsp3", "rings": "no ring", "elements": "other elements",
                     "fragments": "several fragments", "phenyl": "too many phenyls", "aromatic": "too many "
                     "aromatic rings", "duplicate": "duplicates", "unparsable": "unreadable SMILES"}
            for k, v in sorted(rej.items(), key=lambda kv: -kv[1]):
                lines.append(f"&nbsp;&nbsp;{names.get(k, k)}: {v:,}")
        src = res.get("sources") or {}
        for name, rep in src.items():
            if isinstance(rep, dict) and rep.get("bad_rows"):
                bad = ", ".join(f"{k}: {v}" for k, v in rep["bad_rows"].items())
                lines.append(f"<br><span style='color:{RED}'>{name}: unusable rows ({bad})</span>")
            if isinstance(rep, dict) and rep.get("recoded"):
                from chemnamer.readers import recoded_note

                note = recoded_note(name, rep["recoded"], rep.get("recoded_lines", []))
                lines.append(f"<span style='color:{GREY}'>{note}</span>")
        lines.append(f"<br><span style='color:{GREY}'>counted in {res.get('seconds', 0):.1f} s</span>")
        self.count_text.setText("<br>".join(lines))
        self.completeChanged.emit()

    def _on_failed(self, message: str, tb: str) -> None:
        self.counts_error = message
        self.count_title.setText("Cannot use this data")
        self.count_text.setText(f"<span style='color:{RED}'>{message}</span>")
        self.completeChanged.emit()

    def _on_finished(self) -> None:
        if self._pending:
            self.recount()
        else:
            self.spinner.stop()

    def isComplete(self) -> bool:  # noqa: N802
        return self.counts is not None and (self.counts.get("sizes") or {}).get("train", 0) > 0


# --- 3. format ------------------------------------------------------------------------------------

PRESETS = [("Paper: \"Translate the following SMILES string into an IUPAC name: …\"", None, None),
           ("Short: \"SMILES: …\" / \"IUPAC: \" (fewer tokens, the default model's)", "SMILES: {source}",
            "\nIUPAC: ")]


class FormatPage(QWizardPage):
    def __init__(self, wizard: "TrainingWizard"):
        super().__init__()
        from chemnamer.data.formatting import PAPER_INSTRUCTION, RESPONSE_MARKER

        self.wiz = wizard
        self.setTitle("Prompt format")
        self.setSubTitle("How each example becomes a prompt and its answer: {source} is the first input, each "
                         "further input column its own {name}; \\n is a new line. Inversion trains the reverse "
                         "task (name → SMILES) on a share of the examples, as in the paper's ablation.")
        self._inputs: dict | None = None  # the extra inputs the instruction was last written for
        lay = QVBoxLayout(self)
        f = QFormLayout()
        self.preset = QComboBox()
        for label, _, _ in PRESETS:
            self.preset.addItem(label)
        self.preset.currentIndexChanged.connect(self._on_preset)
        fmt = wizard.base_config["format"]  # FormatConfig's defaults: the paper's template
        self.instruction = QLineEdit(fmt["instruction"].replace("\n", "\\n"))
        self.marker = QLineEdit(fmt["response_marker"].replace("\n", "\\n"))
        self.inversion = QSpinBox()
        self.inversion.setRange(0, 100)
        self.inversion.setSuffix(" %")
        self.inversion.setValue(round(fmt["inversion"] * 100))
        f.addRow("Template", self.preset)
        f.addRow("Instruction", self.instruction)
        f.addRow("Response marker", self.marker)
        f.addRow("Inverted examples", self.inversion)
        lay.addLayout(f)
        self.inputs_hint = _hint("")
        lay.addWidget(self.inputs_hint)
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {RED};")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        lay.addWidget(QLabel("Preview of formatted examples (the loss covers only the response):"))
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setFont(mono_font(9.5))
        lay.addWidget(self.preview, 1)
        for w in (self.instruction, self.marker):
            w.textChanged.connect(self.update_preview)
        self.inversion.valueChanged.connect(self.update_preview)
        self._paper = (PAPER_INSTRUCTION, RESPONSE_MARKER)

    def _on_preset(self, i: int) -> None:
        _, ins, marker = PRESETS[i]
        ins, marker = (ins, marker) if ins else self._paper
        self.set_instruction(instruction_with_inputs(ins, self.wiz.data_page.input_names()))
        self.marker.setText(marker.replace("\n", "\\n"))

    def initializePage(self) -> None:  # noqa: N802
        inputs = self.wiz.data_page.input_names()
        if inputs != self._inputs:  # other input columns than last time: one line for each new one
            if self._inputs:
                ins = self.instruction_text()
                for column, name in self._inputs.items():
                    ins = ins.replace(f"\n{column}: {{{name}}}", "")
                self.set_instruction(ins)
            self.set_instruction(instruction_with_inputs(self.instruction_text(), inputs))
            self._inputs = inputs
        self.update_preview()

    def set_instruction(self, text: str) -> None:
        self.instruction.setText(text.replace("\n", "\\n"))

    def instruction_text(self) -> str:
        return self.instruction.text().replace("\\n", "\n")

    def marker_text(self) -> str:
        return self.marker.text().replace("\\n", "\n")

    def update_preview(self) -> None:
        counts = self.wiz.filter_page.counts or {}
        pairs = counts.get("sample") or EXAMPLE_PAIRS
        pairs = pairs[:6]
        inputs = self.wiz.data_page.input_names()
        self.inputs_hint.setText("Inputs: " + " · ".join(
            [f"{{source}} ← {self.wiz.data_page.source_col.currentText() or 'source'}"] +
            [f"{{{name}}} ← {column}" for column, name in inputs.items()]) if inputs else "")
        self.inputs_hint.setVisible(bool(inputs))
        try:
            from chemnamer.data.formatting import Template

            unknown = [f for f in Template(self.instruction_text(), self.marker_text()).fields
                       if f not in inputs.values()]
            if unknown:
                given = ", ".join(f"{{{n}}}" for n in inputs.values())
                raise ValueError(f"{{{unknown[0]}}} is not an input of this data (the inputs: {{source}}"
                                 f"{', ' + given if given else ''}); pick its column on the Data page")
            examples = wizard_tasks.format_preview(pairs, self.instruction_text(), self.marker_text(),
                                            self.inversion.value() / 100)
        except ValueError as exc:
            self.error.setText(str(exc))
            self.preview.setPlainText("")
            self.completeChanged.emit()
            return
        self.error.setText("")
        blocks = []
        for e in examples:
            tag = "   [inverted: name → SMILES]" if e.inverted else ""
            blocks.append(f"{e.prompt}{e.response}<eos>{tag}")
        sep = "\n" + "─" * 60 + "\n"
        self.preview.setPlainText(sep.join(blocks))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return "{source}" in self.instruction_text() and not self.error.text()

    def apply(self, cfg: dict) -> None:
        cfg["format"].update(instruction=self.instruction_text(), response_marker=self.marker_text(),
                             inversion=self.inversion.value() / 100)


# --- 4. model and method ---------------------------------------------------------------------------

class ModelPage(QWizardPage):
    def __init__(self, wizard: "TrainingWizard"):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Model and method")
        self.setSubTitle("The base model, how much of it to keep, and whether to train all weights or "
                         "low-rank adapters (LoRA).")
        lay = QVBoxLayout(self)
        m = wizard.base_config["model"]  # ModelConfig's defaults
        f = QFormLayout()
        self.base = QComboBox()
        self.base.setMinimumWidth(380)
        self._fill_bases()
        self.base.setCurrentIndex(max(0, self.base.findData(m["base"])))
        f.addRow("Base model", self.base)
        self.layers = QSpinBox()
        self.layers.setRange(0, 64)
        self.layers.setSpecialValueText("all")
        self.layers.setValue(m["num_layers"])
        f.addRow("Transformer layers to keep", self.layers)
        self.trim_vocab = QCheckBox("Trim the vocabulary to the tokens the data uses (faster, smaller)")
        self.trim_vocab.setChecked(m["trim_vocab"])
        f.addRow("", self.trim_vocab)
        lay.addLayout(f)
        box = QGroupBox("Method")
        g = QGridLayout(box)
        self.full = QRadioButton("Full fine-tuning — every weight is trained")
        self.lora = QRadioButton("LoRA — small adapters on attention and MLP projections")
        (self.lora if m["method"] == "lora" else self.full).setChecked(True)
        self.rank = QSpinBox()
        self.rank.setRange(1, 512)
        self.rank.setValue(m["lora_r"])
        self.alpha = QSpinBox()
        self.alpha.setRange(1, 1024)
        self.alpha.setValue(m["lora_alpha"])
        g.addWidget(self.full, 0, 0, 1, 4)
        g.addWidget(self.lora, 1, 0, 1, 4)
        g.addWidget(QLabel("rank"), 2, 0, Qt.AlignRight)
        g.addWidget(self.rank, 2, 1)
        g.addWidget(QLabel("alpha"), 2, 2, Qt.AlignRight)
        g.addWidget(self.alpha, 2, 3)
        g.setColumnStretch(4, 1)
        self.lora.toggled.connect(self._on_method)
        self._on_method()
        lay.addWidget(box)
        f2 = QFormLayout()
        self.device = QComboBox()
        f2.addRow("Device", self.device)
        lay.addLayout(f2)
        lay.addWidget(_hint("SmolLM2-135M has 30 layers; keeping 6 trains about five times faster on a CPU "
                            "and still learns to name. 'tiny' is a random 2-layer model for trying the "
                            "pipeline in seconds (its names are noise)."))
        lay.addStretch(1)

    def _fill_bases(self) -> None:
        from chemnamer.model.loading import BASE_ID

        self.base.addItem(f"{BASE_ID} — SmolLM2-135M-Instruct (the paper's family)", BASE_ID)
        try:
            for spec in tasks.list_model_specs():
                if spec.kind == "finetuned" and not (spec.meta or {}).get("vocab_map"):
                    self.base.addItem(f"{spec.id} — {spec.description}", spec.id)
        except Exception:  # noqa: BLE001 - the registry is optional here
            pass
        self.base.addItem("tiny — random 2-layer model (pipeline test, seconds)", "tiny")

    def initializePage(self) -> None:  # noqa: N802
        current = self.device.currentText() or "auto"
        self.device.clear()
        self.device.addItems(self.wiz.devices)
        self.device.setCurrentText(current if current in self.wiz.devices else "auto")

    def _on_method(self, *_):
        self.rank.setEnabled(self.lora.isChecked())
        self.alpha.setEnabled(self.lora.isChecked())

    def apply(self, cfg: dict) -> None:
        cfg["model"].update(base=self.base.currentData(), num_layers=self.layers.value(),
                            trim_vocab=self.trim_vocab.isChecked(), method="lora" if self.lora.isChecked() else "full",
                            lora_r=self.rank.value(), lora_alpha=self.alpha.value())
        cfg["train"]["device"] = self.device.currentText() or "auto"


# --- 5. hyperparameters ----------------------------------------------------------------------------

class HyperPage(QWizardPage):
    def __init__(self, wizard: "TrainingWizard"):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Hyperparameters")
        t = wizard.base_config["train"]  # TrainConfig's defaults: the paper's learning rate and batch size
        self.paper = (t["lr"], t["batch_size"], t["scheduler"])
        self.setSubTitle(f"The paper's defaults: learning rate {t['lr']:g}, batch size {t['batch_size']}. A time "
                         "budget stops the run cleanly, with a final model, when it is spent.")
        lay = QVBoxLayout(self)
        f = QFormLayout()
        self.name = QLineEdit(wizard.base_config["name"])
        self.lr = QLineEdit(f"{t['lr']:g}")
        self.lr.setValidator(QDoubleValidator(1e-9, 0.999, 12))
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.batch.setValue(t["batch_size"])
        self.epochs = QDoubleSpinBox()
        self.epochs.setRange(0.01, 1000)
        self.epochs.setDecimals(2)
        self.epochs.setValue(t["epochs"])
        self.minutes = QSpinBox()
        self.minutes.setRange(0, 100000)
        self.minutes.setSpecialValueText("no limit")
        self.minutes.setSuffix(" min")
        self.minutes.setValue(round(t["max_minutes"]))
        self.scheduler = QComboBox()
        self.scheduler.addItems(["constant", "linear", "cosine"])
        self.scheduler.setCurrentText(t["scheduler"])
        self.eval_limit = QSpinBox()
        self.eval_limit.setRange(0, 100000)
        self.eval_limit.setValue(t["eval_limit"])
        self.eval_limit.setSpecialValueText("all")
        self.checkpoint_every = QSpinBox()
        self.checkpoint_every.setRange(1, 10_000_000)
        self.checkpoint_every.setValue(t["checkpoint_every"])
        self.checkpoint_minutes = QSpinBox()
        self.checkpoint_minutes.setRange(0, 24 * 60)
        self.checkpoint_minutes.setValue(round(t["checkpoint_minutes"]))
        self.checkpoint_minutes.setSpecialValueText("by steps only")
        self.checkpoint_minutes.setSuffix(" min")
        self.checkpoint_minutes.setToolTip("A crash or kill of the training loses at most this much work; "
                                           "a checkpoint of the 135M model takes ~5 s")
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("automatic")
        self.threads.setValue(t["threads"])
        f.addRow("Run name", self.name)
        f.addRow("Learning rate", self.lr)
        f.addRow("Batch size", self.batch)
        f.addRow("Epochs", self.epochs)
        f.addRow("Time budget", self.minutes)
        f.addRow("Learning-rate schedule", self.scheduler)
        f.addRow("Validation pairs per evaluation", self.eval_limit)
        f.addRow("Checkpoint every (steps)", self.checkpoint_every)
        f.addRow("… and every (time)", self.checkpoint_minutes)
        f.addRow("CPU threads", self.threads)
        lay.addLayout(f)
        reset = QPushButton("Paper defaults")
        reset.clicked.connect(self.paper_defaults)
        row = QHBoxLayout()
        row.addWidget(reset)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(1)
        self.lr.textChanged.connect(lambda _: self.completeChanged.emit())

    def paper_defaults(self) -> None:
        lr, batch, scheduler = self.paper
        self.lr.setText(f"{lr:g}")
        self.batch.setValue(batch)
        self.scheduler.setCurrentText(scheduler)

    def learning_rate(self) -> float | None:
        try:
            v = float(self.lr.text())
        except ValueError:
            return None
        return v if 0 < v < 1 else None

    def isComplete(self) -> bool:  # noqa: N802
        return self.learning_rate() is not None and bool(self.name.text().strip())

    def apply(self, cfg: dict) -> None:
        cfg["name"] = self.name.text().strip() or "wizard"
        cfg["train"].update(lr=self.learning_rate() or self.paper[0], batch_size=self.batch.value(),
                            epochs=self.epochs.value(), max_minutes=float(self.minutes.value()),
                            scheduler=self.scheduler.currentText(), eval_limit=self.eval_limit.value(),
                            checkpoint_every=self.checkpoint_every.value(),
                            checkpoint_minutes=float(self.checkpoint_minutes.value()), threads=self.threads.value())


# --- 6. run ----------------------------------------------------------------------------------------

class RunPage(QWizardPage):
    def __init__(self, wizard: "TrainingWizard"):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Train")
        self.setSubTitle("Training runs in its own process: it goes on when the app is closed (or crashes), with a "
                         "checkpoint every few minutes and when stopped. Reopen the app to follow, stop or resume "
                         "it in the Runs view.")
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setObjectName("muted")
        row.addWidget(self.summary, 1)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start)
        row.addWidget(self.start_button, 0, Qt.AlignTop)
        lay.addLayout(row)
        self.monitor = RunMonitor(wizard.controller)
        self.monitor.resume_requested.connect(self.resume)
        lay.addWidget(self.monitor, 1)
        c = wizard.controller
        c.started.connect(self._on_changed)
        c.ended.connect(self._on_changed)

    def initializePage(self) -> None:  # noqa: N802
        cfg = self.wiz.config()
        d, m, t = cfg["data"], cfg["model"], cfg["train"]
        src = {"pubchem": f"PubChem {d['pubchem_tables'][0]}", "zinc": "ZINC (rule-labelled)",
               "file": Path(d["path"]).name}.get(d["source"], d["source"])
        sizes = (self.wiz.filter_page.counts or {}).get("sizes") or {}
        method = f"LoRA r={m['lora_r']}" if m["method"] == "lora" else "full fine-tuning"
        budget = f", at most {t['max_minutes']:g} min" if t["max_minutes"] else ""
        self.summary.setText(
            f"<b>{cfg['name']}</b>: {src}, {sizes.get('train', '?'):,} training pairs · {m['base']}, "
            f"{m['num_layers'] or 'all'} layers, {method} · lr {t['lr']:g}, batch {t['batch_size']}, "
            f"{t['epochs']:g} epoch(s){budget} · {t['device']}" if isinstance(sizes.get('train'), int) else
            f"<b>{cfg['name']}</b>: {src} · {m['base']}, {method} · lr {t['lr']:g}, batch {t['batch_size']}")
        self._on_changed()

    def start(self) -> bool:
        c = self.wiz.controller
        if c.running:
            QMessageBox.information(self, "Training", "A training run is already in progress (see Runs).")
            return False
        cfg = self.wiz.config()
        request = {"config": cfg, "output_dir": None, "resume": None,
                   "threads": cfg["train"]["threads"] or tasks.default_threads()}
        self.wiz.started_here = True
        return c.start(request)

    def resume(self) -> None:
        c = self.wiz.controller
        if c.running or not c.output_dir:
            return
        request = {"config": self.wiz.config(), "output_dir": c.output_dir, "resume": True,
                   "threads": self.wiz.config()["train"]["threads"] or tasks.default_threads()}
        c.start(request)

    def _on_changed(self, *_):
        c = self.wiz.controller
        mine = self.wiz.started_here
        self.start_button.setEnabled(not c.running and not (mine and c.status == "completed"))
        self.start_button.setText("Start training" if not mine or c.status not in ("cancelled", "interrupted", "failed")
                                  else "Start again")
        self.completeChanged.emit()  # first: QWizard recomputes its buttons on it
        back = self.wiz.button(QWizard.BackButton)
        if back is not None and self.wiz.currentPage() is self:
            back.setEnabled(not c.running)

    def isComplete(self) -> bool:  # noqa: N802
        c = self.wiz.controller
        return self.wiz.started_here and not c.running and c.status == "completed" and bool(c.result)


# --- 7. finish -------------------------------------------------------------------------------------

class FinishPage(QWizardPage):
    def __init__(self, wizard: "TrainingWizard"):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Your model")
        self.setSubTitle("Registered in the model list: name molecules with it, compare it in the Runs view.")
        lay = QVBoxLayout(self)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.RichText)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.text)
        self.activate = QCheckBox("Make it the active model in the naming view")
        self.activate.setChecked(True)
        lay.addWidget(self.activate)
        lay.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802
        res = self.wiz.controller.result or {}
        m = res.get("metrics") or {}
        metrics = " · ".join(f"{label} {m[k]:.3f}" for k, label in (("exact_match", "exact match"),
                                                                   ("levenshtein", "Levenshtein"), ("bleu", "BLEU"),
                                                                   ("structure_match", "same structure"))
                             if isinstance(m.get(k), (int, float)))
        from chemnamer.data.formatting import Template

        fmt = self.wiz.config()["format"]
        guided = "rule" in Template(fmt["instruction"], fmt["response_marker"]).fields
        kind = ("<p>It is a <b>guided</b> model (its prompt takes a rule-based name as {rule}): it names in "
                "mode Guided, from the verified rule-based draft.</p>") if guided else ""
        mode = "--mode guided " if guided else ""
        self.text.setText(
            f"<p>The run finished and its model is registered as <b>{res.get('model_id')}</b>.</p>{kind}"
            f"<p>Validation: {metrics or 'no validation metrics'}</p>"
            f"<p style='color:{GREY}'>Folder: {res.get('model_dir')}<br>"
            f"Use it from the terminal with <code>chemnamer name {mode}--model {res.get('model_id')} SMILES</code>.</p>")

    @property
    def model_id(self) -> str | None:
        return (self.wiz.controller.result or {}).get("model_id")


class StepList(QWidget):
    """The wizard's steps down its left side, the current one highlighted."""

    def __init__(self, names: list[str]):
        super().__init__()
        self.setFixedWidth(190)
        self.setObjectName("steps")
        self.setAttribute(Qt.WA_StyledBackground, True)
        self.setStyleSheet("QWidget#steps { background: #e9ecf1; border-right: 1px solid #d6dae1; }")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 18, 10, 10)
        lay.setSpacing(4)
        title = QLabel("Train a model")
        title.setStyleSheet("font-weight: 700; font-size: 11pt; color: #2b3038; padding-bottom: 8px;")
        lay.addWidget(title)
        self.labels = []
        for i, name in enumerate(names, 1):
            label = QLabel(f"{i}  {name}")
            self.labels.append(label)
            lay.addWidget(label)
        lay.addStretch(1)

    def set_current(self, index: int) -> None:
        for i, label in enumerate(self.labels):
            if i == index:
                style = "color: white; background: #2457a6; border-radius: 6px; padding: 5px 8px; font-weight: 600;"
            elif i < index:
                style = "color: #1e7b34; padding: 5px 8px;"
            else:
                style = "color: #5b616b; padding: 5px 8px;"
            label.setStyleSheet(style)


# --- the wizard ------------------------------------------------------------------------------------

class TrainingWizard(QWizard):
    model_ready = Signal(str)  # a trained model to make active

    def __init__(self, controller: TrainingController | None = None, devices: list[str] | None = None,
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle("Train a naming model")
        self.setWizardStyle(QWizard.ModernStyle)
        self.setOption(QWizard.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.NoCancelButtonOnLastPage, True)
        self.resize(960, 700)
        self.controller = controller or TrainingController(self)
        self.devices = devices or ["auto", "cpu"]
        self.started_here = False
        self.base_config = default_config()
        self.data_page = DataPage(self)
        self.filter_page = FilterPage(self)
        self.format_page = FormatPage(self)
        self.model_page = ModelPage(self)
        self.hyper_page = HyperPage(self)
        self.run_page = RunPage(self)
        self.finish_page = FinishPage(self)
        self.pages = [self.data_page, self.filter_page, self.format_page, self.model_page, self.hyper_page,
                      self.run_page, self.finish_page]
        for p in self.pages:
            self.addPage(p)
        self.steps = StepList(["Data", "Filters and split", "Prompt format", "Model",
                               "Hyperparameters", "Train", "Your model"])
        self.setSideWidget(self.steps)
        self.currentIdChanged.connect(self.steps.set_current)
        self.steps.set_current(0)

    def config(self, upto: QWizardPage | None = None) -> dict:
        """The RunConfig dict from the pages (up to and including `upto`)."""
        cfg = copy.deepcopy(self.base_config)
        for p in self.pages:
            if hasattr(p, "apply"):
                p.apply(cfg)
            if p is upto:
                break
        return cfg

    def accept(self) -> None:
        if self.finish_page.activate.isChecked() and self.finish_page.model_id:
            self.model_ready.emit(self.finish_page.model_id)
        super().accept()

    def reject(self) -> None:
        if self.controller.running and self.started_here:
            answer = QMessageBox.question(
                self, "Training in progress",
                "The training goes on in the background; follow it in the Runs view.\n\nClose the wizard?")
            if answer != QMessageBox.Yes:
                return
        super().reject()

