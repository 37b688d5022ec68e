"""TaskSlot: the latest task wins; a stale task's results never reach the view; the slot is empty
before the handler runs."""
from __future__ import annotations

import threading

from chemnamer.gui.concurrent import TaskSlot


def _wait_then(state, gate: threading.Event, value):
    gate.wait(10)
    state.progress(0.5, "half", force=True)
    return value


def test_start_cancels_and_disconnects_the_previous_task(qtbot):
    seen, progress, ended = [], [], []
    slot = TaskSlot(done=lambda v: seen.append((v, slot.running)), progress=lambda f, m: progress.append(m),
                    finished=lambda: ended.append(True))
    first_gate, second_gate = threading.Event(), threading.Event()
    first = slot.start(_wait_then, first_gate, "first", name="first")
    second = slot.start(_wait_then, second_gate, "second", name="second")
    assert first.state.cancelled and slot.task is second
    first_gate.set()  # the stale task ends (its function ignores the cancel) and reports ...
    qtbot.waitUntil(lambda: not first.running, timeout=10_000)
    qtbot.wait(50)
    assert seen == [] and progress == [] and ended == []  # ... to nobody
    second_gate.set()
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert seen == [("second", False)] and progress == ["half"] and not slot.running


def test_failure_and_cancel(qtbot):
    failed, ended = [], []

    def boom(state):
        raise ValueError("bad input")

    slot = TaskSlot(failed=lambda msg, tb: failed.append(msg), finished=lambda: ended.append(True))
    slot.start(boom)
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert failed == ["ValueError: bad input"]
    gate = threading.Event()
    task = slot.start(_wait_then, gate, "never shown")
    slot.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not task.running, timeout=10_000)
    qtbot.wait(50)
    assert task.state.cancelled and ended == [True] and not slot.running
