"""The runs dashboard: every training run, its status, config and metrics; loss curves overlaid."""
from __future__ import annotations

import json
import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from chemnamer.finetune.generalization import summary_text
from chemnamer.gui import runs_tasks, tasks
from chemnamer.gui.concurrent import Task, TaskSlot
from chemnamer.gui.plots import log_plot
from chemnamer.gui.widgets import AMBER, GREEN, GREY, RED, section_label

PALETTE = ["#2457a6", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6e63", "#e76f51"]
STATUS_COLORS = {"completed": GREEN, "running": "#2457a6", "cancelled": AMBER, "interrupted": AMBER,
                 "failed": RED}
METRICS = [("exact_match", "Exact match"), ("exact_match_ci", "Exact match (any case)"),
           ("levenshtein", "Levenshtein similarity"), ("bleu", "BLEU"), ("opsin_parsable", "OPSIN parses"),
           ("structure_match", "Same structure")]
COLUMNS = ["ID", "Name", "Status", "Base", "Method", "Layers", "Steps", "EM", "Lev.", "BLEU", "Model", "Started"]


class RunsView(QWidget):
    open_model = Signal(str)  # a registered model id to load in the naming view
    resume_run = Signal(dict)  # a run (dict from the DB) to resume
    follow_run = Signal(dict)  # a running run whose live progress to show
    stop_run = Signal(dict)  # a running run to stop (checkpoint, then 'cancelled')
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list[dict] = []
        self.curves: dict = {}
        self.overview = TaskSlot(done=self._on_runs, failed=lambda msg, tb: self.message.emit(f"Runs: {msg}"))
        self._curves = TaskSlot(done=self._on_curves)  # the latest selection wins
        self._timer = QTimer(self)
        self._timer.setInterval(5000)
        self._timer.timeout.connect(self._auto_refresh)
        self._build()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 12)
        lay.setSpacing(10)
        bar = QHBoxLayout()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button = QPushButton("Use model in naming view")
        self.open_button.clicked.connect(self._open_model)
        self.resume_button = QPushButton("Resume run")
        self.resume_button.clicked.connect(self._resume)
        self.follow_button = QPushButton("Show progress")
        self.follow_button.setToolTip("The live view of a run that is training (also one started before the "
                                      "app was last closed)")
        self.follow_button.clicked.connect(lambda: self._emit_running(self.follow_run))
        self.stop_button = QPushButton("Stop run")
        self.stop_button.setToolTip("Save a checkpoint and stop; resume it later")
        self.stop_button.clicked.connect(lambda: self._emit_running(self.stop_run))
        bar.addWidget(self.refresh_button)
        bar.addStretch(1)
        self.hint = QLabel("Select several runs to compare their curves")
        self.hint.setObjectName("muted")
        bar.addWidget(self.hint)
        bar.addWidget(self.open_button)
        bar.addWidget(self.follow_button)
        bar.addWidget(self.stop_button)
        bar.addWidget(self.resume_button)
        lay.addLayout(bar)

        split = QSplitter(Qt.Vertical)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.itemSelectionChanged.connect(self._on_selection)
        split.addWidget(self.table)

        bottom = QSplitter(Qt.Horizontal)
        plots = QWidget()
        pl = QVBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = log_plot()  # numbers on the y axis at any range, not only at powers of ten
        self.loss_plot.showGrid(x=True, y=True, alpha=0.25)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "training loss (log scale)")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setLogMode(y=True)  # early losses are 10-100x the late ones
        self.loss_plot.hideButtons()
        pl.addWidget(self.loss_plot, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Validation metric"))
        self.metric = QComboBox()
        for key, label in METRICS:
            self.metric.addItem(label, key)
        self.metric.currentIndexChanged.connect(lambda _: self._draw())
        row.addWidget(self.metric)
        row.addStretch(1)
        pl.addLayout(row)
        self.metric_plot = pg.PlotWidget()
        self.metric_plot.showGrid(x=True, y=True, alpha=0.25)
        self.metric_plot.setLabel("bottom", "epoch")
        self.metric_plot.hideButtons()
        for plot in (self.loss_plot, self.metric_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
        pl.addWidget(self.metric_plot, 1)
        bottom.addWidget(plots)

        details = QWidget()
        dl = QVBoxLayout(details)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(section_label("Run details"))
        self.details = QTreeWidget()
        self.details.setHeaderLabels(["Setting", "Value"])
        self.details.header().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.details.setAlternatingRowColors(True)
        dl.addWidget(self.details, 1)
        bottom.addWidget(details)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        split.addWidget(bottom)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        split.setSizes([150, 560])
        bottom.setSizes([700, 380])
        lay.addWidget(split, 1)
        self._update_buttons()

    # --- data -----------------------------------------------------------------------------------
    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event):  # noqa: N802
        super().hideEvent(event)
        self._timer.stop()

    def _auto_refresh(self) -> None:
        if any(r["status"] == "running" for r in self.runs):
            self.refresh()

    def refresh(self) -> Task:
        """Reload the runs; while a reload runs, that one (it reads the same rows)."""
        return self.overview.task or self.overview.start(runs_tasks.runs_overview, name="runs")

    def _on_runs(self, runs: list[dict]) -> None:
        selected = set(self.selected_ids())
        self.runs = runs
        self.table.blockSignals(True)
        self.table.setRowCount(len(runs))
        for r, run in enumerate(runs):
            fm = run.get("final_metrics") or {}
            cfg = run.get("config") or {}
            layers = (cfg.get("model") or {}).get("num_layers") or "all"
            started = run.get("started_at")
            cells = [str(run["id"]), run.get("name") or "", run["status"], run.get("base_model") or "",
                     run.get("method") or "", str(layers), "" if run.get("last_step") is None else str(run["last_step"]),
                     _num(fm.get("exact_match")), _num(fm.get("levenshtein")), _num(fm.get("bleu")),
                     run.get("model_id") or "", started.astimezone().strftime("%Y-%m-%d %H:%M") if started else ""]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setForeground(QColor(STATUS_COLORS.get(run["status"], GREY)))
                    if run.get("error"):
                        item.setToolTip(run["error"])
                if c in (0, 5, 6, 7, 8, 9):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.MultiSelection)
        for r, run in enumerate(runs):
            if run["id"] in selected:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)
        self.table.blockSignals(False)
        if not selected and runs:
            self.table.selectRow(0)
        else:
            self._on_selection()

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.runs[r]["id"] for r in rows if r < len(self.runs)]

    def selected_runs(self) -> list[dict]:
        ids = set(self.selected_ids())
        return [r for r in self.runs if r["id"] in ids]

    def select_ids(self, ids: list[int]) -> None:
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.MultiSelection)
        self.table.clearSelection()
        for r, run in enumerate(self.runs):
            if run["id"] in ids:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)

    def _on_selection(self) -> None:
        self._update_buttons()
        runs = self.selected_runs()
        self._show_details(runs[0] if runs else None)
        ids = [r["id"] for r in runs]
        if not ids:
            self.curves = {}
            self._draw()
            return
        self._curves.start(runs_tasks.run_curves, ids, name="run-curves")

    def _on_curves(self, curves: dict) -> None:
        self.curves = curves
        try:
            self._draw()
        except RuntimeError:  # the view was closed (its plots deleted) while the curves were loading
            return

    def _draw(self) -> None:
        self.loss_plot.clear()
        self.metric_plot.clear()
        legend = self.loss_plot.plotItem.legend
        if legend is not None:
            legend.clear()
        key = self.metric.currentData()
        self.metric_plot.setLabel("left", self.metric.currentText())
        empty = not self.curves
        self.loss_plot.setTitle("Select runs above to compare their loss curves" if empty else None, color="#6b6f76")
        has_metrics = any(d["metrics"] for d in self.curves.values())
        self.metric_plot.setTitle(None if has_metrics else "No validation metrics yet (evaluated at each epoch end)",
                                  color="#6b6f76")
        names = {r["id"]: f"#{r['id']} {r.get('name') or ''}".strip() for r in self.runs}
        for i, (rid, data) in enumerate(sorted(self.curves.items())):
            color = PALETTE[i % len(PALETTE)]
            pts = [(s, loss) for s, loss, _ in data["steps"] if loss is not None and math.isfinite(loss)]
            if pts:
                xs, ys = zip(*pts)
                self.loss_plot.plot(list(xs), list(ys), pen=pg.mkPen(color, width=2), name=names.get(rid, str(rid)))
            mpts = [(epoch, m.get(key)) for epoch, _step, split, decoding, m in data["metrics"]
                    if split == "valid" and m.get("decoding", decoding) == "greedy" and
                    isinstance(m.get(key), (int, float)) and epoch is not None]
            if mpts:
                xs, ys = zip(*mpts)
                self.metric_plot.plot(list(xs), list(ys), pen=pg.mkPen(color, width=2), symbol="o", symbolSize=7,
                                      symbolBrush=color, symbolPen=None)

    def _show_details(self, run: dict | None) -> None:
        self.details.clear()
        if run is None:
            return

        def add(parent, key, value):
            if isinstance(value, dict):
                node = QTreeWidgetItem(parent, [str(key), ""])
                for k, v in value.items():
                    add(node, k, v)
                return node
            text = json.dumps(value) if isinstance(value, (list, tuple)) else \
                (f"{value:.4g}" if isinstance(value, float) else str(value))
            node = QTreeWidgetItem(parent, [str(key), text])
            node.setToolTip(1, text)
            return node

        top = {"status": run["status"], "output": run.get("output_dir") or "", "model": run.get("model_id") or "–"}
        if run.get("error"):
            top["error"] = run["error"]
        if run.get("elapsed_s"):
            top["training time"] = tasks.format_duration(run["elapsed_s"])
        for k, v in top.items():
            add(self.details, k, v)
        fm = run.get("final_metrics") or {}
        if fm:
            node = add(self.details, "final metrics", {k: v for k, v in fm.items() if k != "decoding"})
            node.setExpanded(True)
        report = run.get("generalization") or {}
        if report:  # `chemnamer eval --sets` on this run's model: one line per set, size bins below
            beams = "/".join(sorted({str(r.get("beams")) for r in report.values()}))
            forms = "/".join(sorted({str(r.get("forms", 1)) for r in report.values()}))
            node = QTreeWidgetItem(self.details, [f"generalization ({beams} beams, SMILES forms: {forms})", ""])
            for name, r in report.items():
                item = QTreeWidgetItem(node, [name, summary_text(r)])
                for b, sub in (r.get("by_bin") or {}).items():
                    QTreeWidgetItem(item, [f"atoms {b}", summary_text(sub)])
            node.setExpanded(True)
        cfg = {k: v for k, v in (run.get("config") or {}).items() if not k.startswith("_")}
        if (cfg.get("model") or {}).get("method") == "full":  # LoRA settings do not apply
            cfg["model"] = {k: v for k, v in cfg["model"].items() if not k.startswith("lora_")}
        for section in ("data", "format", "model", "train"):
            if section in cfg:
                node = add(self.details, section, cfg[section])
                node.setExpanded(section in ("model", "train"))
        hw = run.get("hardware") or {}
        if hw:
            add(self.details, "hardware", hw)

    def _update_buttons(self) -> None:
        runs = self.selected_runs()
        one = runs[0] if len(runs) == 1 else None
        self.open_button.setEnabled(bool(one and one.get("model_id")))
        self.resume_button.setEnabled(bool(one and one["status"] in ("interrupted", "cancelled", "failed")
                                           and one.get("output_dir")))
        running = bool(one and one["status"] == "running")
        self.follow_button.setEnabled(running and bool(one.get("output_dir")))
        self.stop_button.setEnabled(running)

    # --- actions --------------------------------------------------------------------------------
    def _open_model(self) -> None:
        runs = self.selected_runs()
        if runs and runs[0].get("model_id"):
            self.open_model.emit(runs[0]["model_id"])

    def _emit_running(self, signal) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0]["status"] == "running":
            signal.emit(runs[0])

    def _resume(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        try:
            runs_tasks.resume_request(runs[0])
        except FileNotFoundError as exc:
            QMessageBox.warning(self, "Resume", str(exc))
            return
        self.resume_run.emit(runs[0])


def _num(v) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) else ""
