"""GUI test fixtures: a tiny random model on disk, one torch thread, a main window on it."""
from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared, busy machine: oversubscribed threads are ~10x slower
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """SmolLM2's tokenizer on a random 2-layer Llama: loads in a second, names nonsense quickly."""
    from chemnamer.finetune.modelprep import base_tokenizer, tiny_model

    out = tmp_path_factory.mktemp("tiny-model")
    tok = base_tokenizer()
    tiny_model(tok).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture
def window(qtbot, tiny_dir, monkeypatch):
    """The main window on the tiny model, model loaded."""
    monkeypatch.setattr("chemnamer.gui.tasks.default_threads", lambda: 1)
    from chemnamer.gui.app import build, make_app

    make_app()
    session, win = build(str(tiny_dir), "cpu")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: session.namer is not None, timeout=120_000)
    yield win
    win.close()


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


@pytest.fixture
def gap_meter():
    return GapMeter()
