"""The app's shared state: the active Namer (model + device), loaded in the background."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from chemnamer.gui import tasks
from chemnamer.gui.concurrent import TaskSlot


class Session(QObject):
    """Owns the active `Namer`. Views ask it to load models and listen for the outcome.

    Signals: namer_changed() once a Namer is ready (also after a failed default load: reference
    names only), busy(bool, message), load_failed(message), warmed(dict) with devices and helpers.
    """

    namer_changed = Signal()
    busy = Signal(bool, str)
    load_failed = Signal(str)
    warmed = Signal(dict)

    def __init__(self, model_id: str | None = None, device: str = "auto", beams: int = 8):  # = naming.NAME_BEAMS
        super().__init__()
        self.model_id = model_id
        self.device = device or "auto"
        self.beams = beams
        self.namer = None
        self.devices = ["auto", "cpu"]
        self.warm_info: dict = {}
        self._load = TaskSlot(done=self._on_loaded, failed=self._on_failed)  # a newer load wins
        self._load_device = self.device
        self._warm = TaskSlot(done=self._on_warm)
        self._warm_after_load = False

    # --- loading --------------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        return self._load.running

    def start(self) -> None:
        """Load the start-up model (a missing default model is a note, not an error) and warm up."""
        self.load(self.model_id, self.device, required=self.model_id is not None)
        self._warm_after_load = True

    def _warm_up(self) -> None:
        """After the first model load, not beside it: two threads importing and starting the JVM at
        once contend for the GIL and make the window stutter on a small machine."""
        self._warm_after_load = False
        self._warm.start(tasks.warm_up, name="warm-up")

    def load(self, model_id: str | None, device: str | None = None, required: bool = True) -> None:
        device = device or self.device
        # a guided model takes the guided slot; modes model and best keep the model active now
        direct = self.namer.model_id if self.namer is not None else None
        self._load_device = device
        self._load.start(tasks.load_namer, model_id, device, self.beams, "model", required, direct, name="load-model")
        self.busy.emit(True, f"Loading model {model_id or 'default'} on {device}…")

    def _on_loaded(self, namer) -> None:
        self.namer = namer
        self.model_id = namer.guided_model_id if namer.mode == "guided" else namer.model_id
        self.device = self._load_device
        self.busy.emit(False, "")
        self.namer_changed.emit()
        if self._warm_after_load:
            self._warm_up()

    def _on_failed(self, message: str, _traceback: str) -> None:
        self.busy.emit(False, "")
        self.load_failed.emit(message)
        if self.namer is None:  # nothing to fall back to: name with references only
            self.load(None, "cpu", required=False)
        elif self._warm_after_load:
            self._warm_up()

    def _on_warm(self, info: dict) -> None:
        self.warm_info = info
        self.devices = info.get("devices") or self.devices
        self.warmed.emit(info)

    # --- labels ---------------------------------------------------------------------------------
    @property
    def guided_active(self) -> bool:
        """The model chosen is a guided model (tasks.load_namer): it names in mode guided."""
        return self.namer is not None and self.namer.mode == "guided"

    @property
    def model_label(self) -> str:
        if self.guided_active:
            return f"{self.namer.guided_label} (guided)"
        return self.namer.model_label if self.namer is not None else (self.model_id or "default")

    @property
    def device_label(self) -> str:
        if self.namer is not None and self.namer.device_label:
            return self.namer.device_label
        return "–" if self.namer is None or self.namer.model_error else self.device

    @property
    def model_error(self) -> str | None:
        if self.guided_active:
            return self.namer.guided_error
        return self.namer.model_error if self.namer is not None else None
