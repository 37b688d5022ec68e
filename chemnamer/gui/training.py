"""One training at a time: the controller that runs it in a worker, and the monitor that shows it."""
from __future__ import annotations

import math
import threading

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from chemnamer.gui import tasks
from chemnamer.gui.concurrent import Task
from chemnamer.gui.plots import log_plot
from chemnamer.finetune import subprocess_run
from chemnamer.gui.widgets import ACCENT, ElidedLabel, progress_row

pg.setConfigOptions(antialias=True, background="w", foreground="#3a3f47")

METRIC_COLUMNS = [("exact_match", "EM", "exact match with the reference name"),
                  ("exact_match_ci", "EM ci", "exact match, ignoring case"),
                  ("levenshtein", "Lev.", "normalized Levenshtein similarity (1 = identical)"),
                  ("bleu", "BLEU", "character BLEU"),
                  ("opsin_parsable", "Parses", "share of names OPSIN can read"),
                  ("structure_match", "Structure", "share of names OPSIN reads to the right structure")]


class TrainingController(QObject):
    """Runs `subprocess_run.run_training` (or `attach` for a run an earlier app started) in a Task.
    Re-emits its events; remembers the latest state. The training process outlives the app:
    `detach()` stops following it (the app quits), `cancel()` stops the training.

    Signals: started(request), event(kind, payload), ended(status, result_or_error); status is the
    run's (completed, cancelled, interrupted, failed) or "detached"."""

    started = Signal(dict)
    event = Signal(str, object)
    ended = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.task: Task | None = None
        self.request: dict | None = None
        self.run_id: int | None = None
        self.output_dir: str | None = None
        self.state: dict = {}
        self.status: str | None = None
        self.result: dict | None = None
        self.error: str | None = None
        self.pid: int | None = None
        self._detached = threading.Event()

    @property
    def running(self) -> bool:
        return self.task is not None

    def start(self, request: dict, mode: str | None = None) -> bool:
        if self.task is not None:
            return False
        self.request, self.run_id, self.state, self.status, self.result, self.error = request, None, {}, "starting", \
            None, None
        self.output_dir, self.pid = request.get("output_dir"), None
        self._detached = threading.Event()
        self._run_task(Task(subprocess_run.run_training, request, mode, detached=self._detached, name="training"),
                       request)
        return True

    def attach(self, run: dict) -> bool:
        """Follow `run` (a DB row), still training in a process an earlier app started."""
        if self.task is not None:
            return False
        self.run_id, self.output_dir, self.pid = run["id"], run["output_dir"], run.get("pid")
        self.state, self.status, self.result, self.error = {}, "running", None, None
        self._detached = threading.Event()
        self.request = {"config": run.get("config") or {}, "output_dir": run["output_dir"], "resume": True,
                        "attach": run["id"]}
        self._run_task(Task(subprocess_run.attach, run, detached=self._detached, name="training"), self.request)
        return True

    def _run_task(self, task: Task, request: dict) -> None:
        self.task = task
        task.event.connect(self._on_event)
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)
        task.finished.connect(self._on_finished)
        self.started.emit(request)
        task.start()

    def cancel(self) -> None:
        """Stop the training: a checkpoint, then the run ends 'cancelled' (resumable)."""
        if self.task is not None:
            self.status = "cancelling"
            self.task.cancel()

    def detach(self, checkpoint: bool = True) -> None:
        """Stop following; the training goes on in its process (the app quits). `checkpoint`: ask it for
        a checkpoint now, so that nothing since the last one depends on the process surviving."""
        if self.task is None:
            return
        if checkpoint and self.output_dir:
            try:
                subprocess_run.send_control(self.output_dir, "checkpoint")
            except OSError:
                pass  # the folder is gone: the run will fail on its own, and say so
        self._detached.set()

    def _on_event(self, kind: str, payload) -> None:
        if isinstance(payload, dict) and payload.get("state"):
            self.state = payload["state"]
            self.run_id = self.state.get("run_id") or self.run_id
        if kind == "launched":
            self.pid, self.output_dir = payload["pid"], payload["output_dir"]
        elif kind == "start":
            self.status = "running"
            self.output_dir = (payload.get("info") or {}).get("output_dir") or self.output_dir
        elif kind == "end":
            self.status = payload.get("status")
        self.event.emit(kind, payload)

    def _on_done(self, result: dict) -> None:
        self.result = result
        self.status = result.get("status") or self.status
        self.run_id = result.get("run_id") or self.run_id
        self.output_dir = result.get("output_dir") or self.output_dir

    def _on_failed(self, message: str, tb: str) -> None:
        self.status, self.error = "failed", message

    def _on_finished(self) -> None:
        self.task = None
        if self._detached.is_set():
            self.status = "detached"  # the run itself goes on; its process reports to the database
        self.ended.emit(self.status or "failed", self.result if self.result is not None else self.error)


class RunMonitor(QWidget):
    """Live view of a training: progress and ETA, loss curve, metrics per evaluation, cancel/resume."""

    resume_requested = Signal()

    def __init__(self, controller: TrainingController, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.steps: list[int] = []
        self.losses: list[float] = []
        self._build()
        controller.started.connect(self._on_started)
        controller.event.connect(self._on_event)
        controller.ended.connect(self._on_ended)
        self.follow_current()

    def follow_current(self) -> None:
        """A monitor opened while the controller already follows a run: its title, buttons and state
        now, not "Not started" until the run ends (its loss history: load_history)."""
        c = self.controller
        if not c.running:
            return
        self.title.setText(f"Run {c.run_id or ''} · training")
        self.cancel_button.setEnabled(True)
        self.resume_button.setEnabled(False)
        if c.state:
            self._show_state(c.state)

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        top = QHBoxLayout()
        self.title = QLabel("Not started")
        self.title.setObjectName("h1")
        top.addWidget(self.title, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setEnabled(False)
        self.resume_button.setToolTip("Continue from the last checkpoint of this run")
        self.resume_button.clicked.connect(self.resume_requested)
        top.addWidget(self.cancel_button)
        top.addWidget(self.resume_button)
        lay.addLayout(top)

        prog, self.progress, self.eta = progress_row(260)
        lay.addLayout(prog)

        self.plot = log_plot()  # numbers on the y axis from the first steps (pyqtgraph labels decades only)
        self.plot.setMinimumHeight(150)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "training loss (log)")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLogMode(y=True)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.plot.hideButtons()
        self.curve = self.plot.plot([], [], pen=pg.mkPen(ACCENT, width=2), symbol="o", symbolSize=4,
                                    symbolBrush=ACCENT, symbolPen=None)
        lay.addWidget(self.plot, 5)

        self.metrics = QTableWidget(0, 3 + len(METRIC_COLUMNS))
        self.metrics.setHorizontalHeaderLabels(["Epoch", "Step", "Decoding", *[t for _, t, _ in METRIC_COLUMNS]])
        for i, (_, _, tip) in enumerate(METRIC_COLUMNS, start=3):
            self.metrics.horizontalHeaderItem(i).setToolTip(tip)
        self.metrics.verticalHeader().setVisible(False)
        self.metrics.verticalHeader().setDefaultSectionSize(24)
        self.metrics.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.metrics.setAlternatingRowColors(True)
        self.metrics.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        # Stretch alone squeezes a column below its title in a narrow window ("Structure" was cut to
        # "5tructure"): no column narrower than its title; the table scrolls sideways instead.
        self.metrics.horizontalHeader().setMinimumSectionSize(
            max(self.metrics.horizontalHeader().sectionSizeFromContents(i).width()
                for i in range(self.metrics.columnCount())))
        self.metrics.setMinimumHeight(120)
        lay.addWidget(self.metrics, 2)
        self.log = ElidedLabel("")
        self.log.setObjectName("muted")
        lay.addWidget(self.log)

    # --- events ---------------------------------------------------------------------------------
    def reset(self) -> None:
        self.steps, self.losses = [], []
        self.curve.setData([], [])
        self.metrics.setRowCount(0)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.eta.setText("")
        self.log.set_full_text("")

    def _on_started(self, request: dict) -> None:
        if not request.get("resume"):
            self.reset()
        self.title.setText("Preparing data and model…")
        self.progress.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.resume_button.setEnabled(False)

    def load_history(self, steps: list, metrics: list) -> None:
        """Fill in what a resumed run already did (from the database)."""
        self.reset()
        for step, loss, _epoch in steps:
            if loss is not None and math.isfinite(loss):
                self.steps.append(step)
                self.losses.append(loss)
        self.curve.setData(self.steps, self.losses)
        for epoch, step, _split, decoding, m in metrics:
            self._add_metrics(epoch, step, m.get("decoding", decoding), m)

    def _on_event(self, kind: str, payload) -> None:
        st = payload.get("state") or {} if isinstance(payload, dict) else {}
        if kind == "start":
            info = payload.get("info") or {}
            self.title.setText(f"Run {st.get('run_id') or ''} · training")
            self.log.set_full_text(f"{_examples_text(info)} · {info.get('steps_per_epoch', '?')} "
                                   f"steps/epoch · {_count(info.get('trainable_params'))} trainable parameters · "
                                   f"{info.get('device', '')}{' · bf16' if info.get('bf16') else ''}")
            self.progress.setRange(0, 1000)
        elif kind == "log":
            for row in payload.get("rows") or []:
                loss = row.get("loss")
                if loss is not None and math.isfinite(loss):
                    self.steps.append(row["step"])
                    self.losses.append(loss)
            self.curve.setData(self.steps, self.losses)
        elif kind == "evaluate":
            self._add_metrics(st.get("epoch"), st.get("step"), payload.get("decoding"), payload.get("metrics") or {})
        elif kind == "checkpoint":
            self.log.set_full_text(f"checkpoint ({payload.get('kind')}) at step {st.get('step')}: {payload.get('path')}")
        elif kind == "stderr":
            text = str(payload)
            if "Warning" not in text and "warn(" not in text:
                self.log.set_full_text(text[-300:])
            return
        if st:
            self._show_state(st)

    def _show_state(self, st: dict) -> None:
        step, total = st.get("step") or 0, st.get("total_steps") or 0
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(1.0, step / total)))
            self.progress.setFormat(f"step {step} / {total} · epoch {st.get('epoch') or 0:.2f}")
        elapsed = st.get("elapsed_s") or 0.0
        loss = st.get("loss")
        loss_text = f" · loss {loss:.3f}" if isinstance(loss, float) else ""
        self.eta.setText(f"{tasks.format_duration(elapsed)} elapsed · {tasks.format_duration(st.get('eta_s'))} left"
                         f"{loss_text}")

    def _add_metrics(self, epoch, step, decoding, m: dict) -> None:
        r = self.metrics.rowCount()
        self.metrics.insertRow(r)
        cells = [f"{epoch:.2f}" if isinstance(epoch, (int, float)) else "", str(step or ""), decoding or ""]
        cells += [f"{m[k]:.3f}" if isinstance(m.get(k), (int, float)) else "–" for k, _, _ in METRIC_COLUMNS]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignCenter)
            self.metrics.setItem(r, c, item)
        self.metrics.scrollToBottom()

    def _on_ended(self, status: str, result) -> None:
        self.cancel_button.setEnabled(False)
        run_id = self.controller.run_id
        self.progress.setRange(0, 1000)
        label = {"completed": "finished", "cancelled": "cancelled", "failed": "failed",
                 "interrupted": "stopped with a checkpoint",
                 "detached": "still training in the background"}.get(status, status)
        self.title.setText(f"Run {run_id or ''} · {label}")
        if status == "completed":
            self.progress.setValue(1000)
            model_id = (result or {}).get("model_id") if isinstance(result, dict) else None
            self.log.set_full_text(f"Model registered as {model_id}" if model_id else "Run completed")
        elif status == "failed":
            self.log.set_full_text(f"Failed: {result}")
        self.resume_button.setEnabled(status in ("cancelled", "interrupted", "failed")
                                      and bool(self.controller.output_dir))


def _count(n) -> str:
    if not isinstance(n, (int, float)):
        return "?"
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.0f} k" if n >= 1e3 else str(n)


def _examples_text(info: dict) -> str:
    """Says "8,219 training examples (2 too long for the model, left out)" where the wizard counted 8,221
    pairs: the difference reads as what it is, not as two numbers that disagree."""
    n, dropped, inverted = info.get("examples"), info.get("dropped_too_long") or 0, info.get("inverted") or 0
    if not isinstance(n, int):
        return "? training examples"
    extra = [f"{dropped:,} too long for the model, left out"] if dropped else []
    extra += [f"{inverted:,} of them inverted"] if inverted else []
    return f"{n:,} training examples" + (f" ({'; '.join(extra)})" if extra else "")
