"""How the training loop talks to the outside: the CLI progress bar, the GUI's QThread worker, the DB.

A callback never drives the loop; it observes. Cancellation is a separate token the loop polls
between steps, so a cancel always lands on a step boundary and leaves a usable checkpoint.
"""
from __future__ import annotations

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
    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


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
