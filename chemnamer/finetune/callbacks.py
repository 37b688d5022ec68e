"""How the training loop talks to the outside: the CLI progress bar, the GUI's QThread worker, the DB.

A callback never drives the loop; it observes. Cancellation is a separate token the loop polls
between steps, so a cancel always lands on a step boundary and leaves a usable checkpoint.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field


@dataclass
class TrainState:
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    epoch_index: int = 0
    batch_in_epoch: int = 0
    examples_seen: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    loss: float = float("nan")  # running mean since the last log
    lr: float = 0.0
    best_metric: float | None = None
    bad_evals: int = 0
    run_id: int | None = None
    status: str = "running"
    history: list = field(default_factory=list)  # recent (step, loss) for live plots

    @property
    def eta_s(self) -> float | None:
        if self.step <= 0 or not self.total_steps:
            return None
        return self.elapsed_s / self.step * max(0, self.total_steps - self.step)


class CancelToken:
    """Stop requests for the loop, from any thread: `cancel()` stops at the next step with a checkpoint;
    `request_checkpoint()` asks for one checkpoint at the next step and training goes on."""

    def __init__(self):
        self._event = threading.Event()
        self._checkpoint = threading.Event()
        self.reason: str | None = None  # e.g. "SIGTERM": who stopped the run, when it was not the user

    def cancel(self, reason: str | None = None) -> None:
        if reason and not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def request_checkpoint(self) -> None:
        self._checkpoint.set()

    def take_checkpoint_request(self) -> bool:
        """True once per request (the loop then saves one checkpoint)."""
        if self._checkpoint.is_set():
            self._checkpoint.clear()
            return True
        return False


STOP_SIGNALS = ("SIGTERM", "SIGINT")


@contextlib.contextmanager
def cancel_on_signals(cancel: CancelToken, names: tuple[str, ...] = STOP_SIGNALS):
    """SIGTERM (logout, shutdown, `kill`) and SIGINT (Ctrl-C) stop the training at the next step with a
    checkpoint, `cancel.reason` set to the signal's name, instead of killing it mid-step with no
    checkpoint at all. The first signal restores the previous handler: a second one acts at once.
    Only the main thread can install handlers; elsewhere this does nothing."""
    import signal

    previous: dict = {}

    def handler(signum, _frame):
        signal.signal(signum, previous.get(signum, signal.SIG_DFL))
        cancel.cancel(signal.Signals(signum).name)

    if threading.current_thread() is threading.main_thread():
        for name in names:
            num = getattr(signal, name, None)
            if num is not None:
                previous[num] = signal.signal(num, handler)
    try:
        yield cancel
    finally:
        for num, old in previous.items():
            signal.signal(num, old)


class Callback:
    def on_start(self, state: TrainState, info: dict) -> None: ...
    def on_log(self, state: TrainState, logs: list[dict]) -> None: ...
    def on_step(self, state: TrainState) -> None: ...
    def on_evaluate(self, state: TrainState, split: str, decoding: str, metrics: dict) -> None: ...
    def on_checkpoint(self, state: TrainState, path: str, kind: str) -> None: ...
    def on_end(self, state: TrainState, status: str, result: dict) -> None: ...


class CallbackList(Callback):
    def __init__(self, callbacks):
        self.callbacks = [c for c in callbacks if c is not None]

    def __getattribute__(self, name):
        if name.startswith("on_"):
            def fan_out(*args, **kwargs):
                for cb in object.__getattribute__(self, "callbacks"):
                    getattr(cb, name)(*args, **kwargs)
            return fan_out
        return object.__getattribute__(self, name)


class TqdmProgress(Callback):
    """The CLI's progress bar."""

    def __init__(self, **tqdm_kwargs):
        self.kwargs = tqdm_kwargs
        self.bar = None

    def on_start(self, state, info):
        from tqdm import tqdm

        self.bar = tqdm(total=state.total_steps, initial=state.step, unit="step", **self.kwargs)

    def on_step(self, state):
        if self.bar is not None:
            self.bar.update(state.step - self.bar.n)
            self.bar.set_postfix(loss=f"{state.loss:.3f}", ep=f"{state.epoch:.2f}", refresh=False)

    def on_evaluate(self, state, split, decoding, metrics):
        if self.bar is not None:
            shown = {k: round(v, 3) for k, v in metrics.items() if isinstance(v, float)}
            self.bar.write(f"[eval {split}/{decoding} @ step {state.step}] {shown}")

    def on_end(self, state, status, result):
        if self.bar is not None:
            self.bar.close()
