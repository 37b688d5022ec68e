"""The main window: a model bar on top, views on the left (Name, Batch, History, Runs), status below."""
from __future__ import annotations

import sys

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QMainWindow, QMessageBox, QProgressDialog,
                               QPushButton, QSizePolicy, QStackedWidget, QToolBar, QVBoxLayout, QWidget)

from chemnamer.gui import concurrent, runs_tasks, tasks
from chemnamer.gui.batch_view import BatchView
from chemnamer.gui.history_view import HistoryView
from chemnamer.gui.naming_view import NamingView
from chemnamer.gui.runs_view import RunsView
from chemnamer.gui.training import RunMonitor, TrainingController
from chemnamer.gui.widgets import Spinner, icon

VIEWS = [("name", "Name"), ("batch", "Batch"), ("history", "History"), ("runs", "Runs")]


class MonitorDialog(QDialog):
    """A resumed run's live view (the wizard shows its own)."""

    def __init__(self, controller: TrainingController, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Training")
        self.resize(900, 620)
        lay = QVBoxLayout(self)
        self.monitor = RunMonitor(controller)
        lay.addWidget(self.monitor)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.hide)
        lay.addWidget(buttons)


class MainWindow(QMainWindow):
    def __init__(self, session, controller: TrainingController | None = None):
        super().__init__()
        self.session = session
        self.controller = controller or TrainingController(self)
        self.wizard = None
        self.monitor_dialog: MonitorDialog | None = None
        self._closing = False
        self.setWindowTitle("chemnamer")
        self.setWindowIcon(icon("chemnamer"))
        self.resize(1280, 800)
        self._build_toolbar()
        self._build_body()
        self._build_status()
        session.busy.connect(self._on_busy)
        session.namer_changed.connect(self._on_namer)
        session.load_failed.connect(self._on_load_failed)
        session.warmed.connect(self._on_warmed)
        self.controller.ended.connect(self._on_training_ended)
        self.naming.named.connect(lambda o: self.history.mark_dirty() if o.stored_at is None else None)
        self.batch.finished.connect(lambda _: self.history.mark_dirty())
        self.refresh_models()

    # --- layout ---------------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Model")
        bar.setMovable(False)
        bar.setIconSize(QSize(18, 18))
        self.addToolBar(Qt.TopToolBarArea, bar)
        bar.addWidget(QLabel(" Model "))
        self.model_combo = QComboBox()
        self.model_combo.setMinimumWidth(260)
        self.model_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.activated.connect(self._on_model_chosen)
        bar.addWidget(self.model_combo)
        folder = QPushButton("Model folder…")
        folder.setToolTip("Load a model directory (a fine-tuned model or any Hugging Face causal LM)")
        folder.clicked.connect(self._choose_folder)
        bar.addWidget(folder)
        bar.addWidget(QLabel("   Device "))
        self.device_combo = QComboBox()
        self.device_combo.addItems(self.session.devices)
        self.device_combo.setCurrentText(self.session.device)
        self.device_combo.activated.connect(self._on_device_chosen)
        bar.addWidget(self.device_combo)
        self.spinner = Spinner(self, 20)
        bar.addWidget(self.spinner)
        self.busy_label = QLabel("")
        self.busy_label.setObjectName("muted")
        bar.addWidget(self.busy_label)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        bar.addWidget(spacer)
        self.train_button = QPushButton(icon("train"), "Train a model…")
        self.train_button.setObjectName("primary")
        self.train_button.clicked.connect(self.open_wizard)
        bar.addWidget(self.train_button)

    def _build_body(self) -> None:
        body = QWidget()
        lay = QHBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(150)
        self.nav.setIconSize(QSize(20, 20))
        for key, label in VIEWS:
            item = QListWidgetItem(icon(key), label)
            item.setSizeHint(QSize(140, 40))
            self.nav.addItem(item)
        lay.addWidget(self.nav)
        self.stack = QStackedWidget()
        self.naming = NamingView(self.session)
        self.batch = BatchView(self.session)
        self.history = HistoryView()
        self.runs = RunsView()
        for view in (self.naming, self.batch, self.history, self.runs):
            self.stack.addWidget(view)
            view.message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)
        self.history.reopen.connect(self.reopen_naming)
        self.runs.open_model.connect(self.use_model)
        self.runs.resume_run.connect(self.resume_run)
        self.runs.follow_run.connect(self.follow_run)
        self.runs.stop_run.connect(self.stop_run)

    def _build_status(self) -> None:
        self.model_status = QLabel()
        self.statusBar().addPermanentWidget(self.model_status)
        self._update_model_status()

    def show_view(self, key: str) -> None:
        self.nav.setCurrentRow([k for k, _ in VIEWS].index(key))

    # --- models ---------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        current = self.session.model_id or "default"
        self.model_combo.clear()
        try:
            specs = tasks.list_model_specs()
        except Exception:  # noqa: BLE001
            specs = []
        for spec in specs:
            label = spec.id if spec.kind != "finetuned" else f"{spec.id}  (trained)"
            self.model_combo.addItem(label, spec.id)
            self.model_combo.setItemData(self.model_combo.count() - 1, spec.description, Qt.ToolTipRole)
        if self.model_combo.findData(current) < 0:
            self.model_combo.addItem(current if len(current) < 48 else "…" + current[-46:], current)
        self.model_combo.setCurrentIndex(self.model_combo.findData(current))

    def _on_model_chosen(self, index: int) -> None:
        model_id = self.model_combo.itemData(index)
        if model_id and model_id != self.session.model_id:
            self.session.load(model_id, self.device_combo.currentText())

    def _on_device_chosen(self, index: int) -> None:
        device = self.device_combo.itemText(index)
        if device != self.session.device or self.session.namer is None:
            self.session.load(self.session.model_id, device, required=self.session.model_id is not None)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder")
        if path:
            self.use_model(path)

    def use_model(self, model_id: str) -> None:
        """Load a model (registered id or folder) and show the naming view."""
        self.session.load(model_id, self.device_combo.currentText())
        self.show_view("name")

    def _on_busy(self, busy: bool, message: str) -> None:
        if busy:
            self.spinner.start()
        else:
            self.spinner.stop()
        self.busy_label.setText(message)
        self.model_combo.setEnabled(not busy)
        self.device_combo.setEnabled(not busy)

    def _on_namer(self) -> None:
        self.refresh_models()
        self._update_model_status()
        if self.session.model_error:
            self.statusBar().showMessage(f"Model unavailable: {self.session.model_error} — reference names only",
                                         12000)

    def _on_load_failed(self, message: str) -> None:
        self.refresh_models()
        QMessageBox.warning(self, "Model", f"The model could not be loaded:\n\n{message}")

    def _on_warmed(self, info: dict) -> None:
        current = self.device_combo.currentText()
        self.device_combo.clear()
        self.device_combo.addItems(info.get("devices") or ["auto", "cpu"])
        self.device_combo.setCurrentText(current)
        if info.get("opsin"):
            self.statusBar().showMessage(f"Names cannot be verified: {info['opsin']}", 15000)

    def _update_model_status(self) -> None:
        s = self.session
        if s.namer is None:
            text = f"Model: {s.model_label} (loading…)"
        elif s.model_error:
            text = f"Model: {s.model_label} unavailable — reference names only"
        else:
            text = f"Model: {s.model_label} · device: {s.device_label}"
        self.model_status.setText(text + "  ")
        self.model_status.setToolTip(s.model_error or "")

    # --- history, wizard, runs ------------------------------------------------------------------
    def reopen_naming(self, naming_id: int) -> None:
        task = concurrent.Task(tasks.reopen_naming, naming_id, name="reopen")
        task.done.connect(self.naming.show_outcome)
        task.failed.connect(lambda msg, tb: QMessageBox.warning(self, "History", msg))
        task.start()
        self.show_view("name")

    def open_wizard(self):
        from chemnamer.gui.wizard import TrainingWizard

        if self.wizard is None:
            self.wizard = TrainingWizard(self.controller, self.session.devices, self)
            self.wizard.model_ready.connect(self.use_model)
            self.wizard.finished.connect(self._wizard_closed)
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def _wizard_closed(self, _result: int) -> None:
        self.wizard.deleteLater()
        self.wizard = None

    def _monitor(self) -> MonitorDialog:
        if self.monitor_dialog is None:
            self.monitor_dialog = MonitorDialog(self.controller, self)
        return self.monitor_dialog

    def reattach_training(self) -> dict | None:
        """At start: follow the newest run an earlier app started that is still training (its process
        outlived that app). Returns the run, or None."""
        if self.controller.running:
            return None
        try:
            from chemnamer.finetune.subprocess_run import attachable_runs

            found = attachable_runs()
        except Exception:  # noqa: BLE001 - a damaged database must not keep the app from starting
            return None
        if not found:
            return None
        run = found[0]
        self._attach(run)
        self.statusBar().showMessage(f"Run {run['id']} ({run.get('name') or 'training'}) is still training: "
                                     "follow or stop it in the Runs view", 15000)
        return run

    def _attach(self, run: dict) -> None:
        curves = runs_tasks.run_curves(None, [run["id"]]).get(run["id"], {"steps": [], "metrics": []})
        self._monitor().monitor.load_history(curves["steps"], curves["metrics"])
        self.controller.attach(run)

    def follow_run(self, run: dict) -> None:
        """The Runs view's "Show progress": the live monitor of a running run (attached if need be)."""
        if not (self.controller.running and self.controller.run_id == run["id"]):
            if self.controller.running:
                QMessageBox.information(self, "Training", "Another training run is being followed.")
                return
            self._attach(run)
        elif not self._monitor().isVisible():  # followed already (started here): catch the monitor up
            curves = runs_tasks.run_curves(None, [run["id"]]).get(run["id"], {"steps": [], "metrics": []})
            self._monitor().monitor.load_history(curves["steps"], curves["metrics"])
            self._monitor().monitor.follow_current()
        self._monitor().show()
        self._monitor().raise_()

    def stop_run(self, run: dict) -> None:
        """The Runs view's "Stop run": a checkpoint, then the run ends 'cancelled' (resumable)."""
        if self.controller.running and self.controller.run_id == run["id"]:
            self.controller.cancel()
        else:
            from chemnamer.finetune.subprocess_run import stop_run

            stop_run(run)
        self.statusBar().showMessage(f"Stopping run {run['id']}: it saves a checkpoint, then ends", 8000)

    def resume_run(self, run: dict) -> None:
        if self.controller.running:
            QMessageBox.information(self, "Training", "A training run is already in progress.")
            return
        try:
            request = runs_tasks.resume_request(run, tasks.default_threads())
        except FileNotFoundError as exc:
            QMessageBox.warning(self, "Resume", str(exc))
            return
        curves = runs_tasks.run_curves(None, [run["id"]]).get(run["id"], {"steps": [], "metrics": []})
        self._monitor().monitor.load_history(curves["steps"], curves["metrics"])
        self.controller.start(request)
        self._monitor().show()

    def _on_training_ended(self, status: str, result) -> None:
        self.runs.refresh()
        if status == "completed":
            self.refresh_models()
            self.statusBar().showMessage(f"Training finished: model {(result or {}).get('model_id')}", 10000)

    # --- closing --------------------------------------------------------------------------------
    def closeEvent(self, event):  # noqa: N802
        if self.controller.running and not self._closing:
            choice = self.ask_about_training()
            if choice is None:
                event.ignore()
                return
            if choice == "stop":
                self._closing = True
                self._stop_training_then_close()
                event.ignore()
                return
        # The training process does not depend on this window: it goes on, with a checkpoint now.
        self.controller.detach(checkpoint=True)
        if self.wizard is not None:
            self.wizard.hide()
        concurrent.shutdown(10000)
        super().closeEvent(event)

    def quit_now(self, reason: str = "") -> None:
        """SIGTERM/SIGINT (a logout, `kill`, Ctrl-C): close without questions, nobody may be there to
        answer. A training goes on in its own process, after a checkpoint it is asked for."""
        self._closing = True
        if reason:
            going = f"; training run {self.controller.run_id or ''} goes on in its own process (checkpoint " \
                "requested)" if self.controller.running else ""
            print(f"chemnamer: {reason}: closing{going}", file=sys.stderr)
        self.close()

    def ask_about_training(self) -> str | None:
        """The close question's answer: "background" (quit, the training goes on), "stop" (checkpoint, stop,
        quit) or None (stay)."""
        box = QMessageBox(QMessageBox.Question, "Training in progress",
                          "A model is being trained in its own process.\n\nIt can go on while the app is closed "
                          "(follow it again in the Runs view when you reopen the app), or stop now with a "
                          "checkpoint to resume from later.", QMessageBox.NoButton, self)
        background = box.addButton("Quit, keep training", QMessageBox.AcceptRole)
        stop = box.addButton("Stop training and quit", QMessageBox.DestructiveRole)
        box.addButton("Keep working", QMessageBox.RejectRole)
        box.setDefaultButton(background)
        box.exec()
        clicked = box.clickedButton()
        return "background" if clicked is background else "stop" if clicked is stop else None

    def _stop_training_then_close(self) -> None:
        dlg = QProgressDialog("Saving a checkpoint and stopping the training…", None, 0, 0, self)
        dlg.setWindowTitle("chemnamer")
        dlg.setMinimumDuration(0)
        dlg.show()
        self.controller.ended.connect(lambda *_: (dlg.close(), self.close()))
        self.controller.cancel()
