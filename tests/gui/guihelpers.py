"""Helpers for the GUI tests: an event-loop gap meter and the bound it is held to."""
from __future__ import annotations

import time


class GapMeter:
    """Ticks a 10 ms QTimer in the GUI thread and records the longest gap between ticks."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = None
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self):
        self._last = time.perf_counter()
        self.timer.start()
        return self

    def stop(self):
        self.timer.stop()
        return self

    @property
    def max_ms(self) -> float:
        return max(self.gaps, default=0.0) * 1000

    def pct_ms(self, q: float) -> float:
        if not self.gaps:
            return 0.0
        g = sorted(self.gaps)
        return g[min(len(g) - 1, int(q * len(g)))] * 1000

    def summary(self) -> str:
        return (f"{len(self.gaps)} ticks, max gap {self.max_ms:.0f} ms, p99 {self.pct_ms(0.99):.0f} ms, "
                f"median {self.pct_ms(0.5):.0f} ms")


GOAL_MS = 100.0  # the event loop answers within 100 ms: what a user feels as instant
FREEZE_MS = 1000.0


def assert_responsive(meter: GapMeter) -> None:
    """The sanity bound the GUI tests keep: 99 % of the 10 ms ticks come within the 100 ms goal, and
    no gap is a freeze (1 s). The numbers themselves come from benchmarks/gui_responsiveness.py. Why
    p99 and not the longest gap: on the shared 2-core box at load average ~10, p99 measured 18-27 ms
    while a single gap reached 165 ms (the GUI thread descheduled), so a bound on the longest gap at
    the goal would only flake there."""
    assert meter.pct_ms(0.99) < GOAL_MS and meter.max_ms < FREEZE_MS, meter.summary()


def tiny_config(epochs: float = 2.0) -> dict:
    """A RunConfig dict like the wizard's: PubChem's small table, the tiny model, seconds of training."""
    from chemnamer.gui.wizard import default_config

    cfg = default_config()
    cfg["name"] = "gui-test"
    cfg["data"].update(source="pubchem", pubchem_tables=["small"], n_valid=8, n_test=8, limit_train=100)
    cfg["format"].update(instruction="SMILES: {source}", response_marker="\nIUPAC: ")
    cfg["model"].update(base="tiny")
    cfg["train"].update(lr=3e-3, batch_size=16, epochs=epochs, eval_limit=2, checkpoint_every=2, log_every=1,
                        threads=1, device="cpu")
    return cfg
