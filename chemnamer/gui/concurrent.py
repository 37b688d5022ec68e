"""Background work for the GUI, Orange3-style.

A task is a plain function `fn(state, *args)` that knows nothing about Qt: it reports through the
`TaskState` it is given (progress, events) and polls `state.cancelled`. `Task` runs it in a QThread
and turns what it reports into Qt signals, delivered in the GUI thread; widgets only react to them.

Rules that keep the event loop responsive:
  * a task never touches a widget; everything it hands over goes through a signal (queued);
  * progress is throttled (at most ~25 signals/s), events are not;
  * a stale task is not waited for: its `TaskSlot` cancels and disconnects it, and the module keeps
    the thread alive until it ends (a QThread destroyed while running aborts Qt).
"""
from __future__ import annotations

import gc
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal

PROGRESS_INTERVAL_S = 0.04


class Cancelled(Exception):
    """Raised by `TaskState.check()` inside a task function when the user cancelled."""


class TaskState:
    """The task function's handle: progress, events, cancel. No Qt in here."""

    def __init__(self):
        self._cancel = threading.Event()
        self._on_cancel: list[Callable[[], None]] = []
        self._progress_sink: Callable[[float, str], None] | None = None
        self._event_sink: Callable[[str, Any], None] | None = None
        self._last_progress = 0.0

    # --- cancel ------------------------------------------------------------------------------
    def cancel(self) -> None:
        if self._cancel.is_set():
            return
        self._cancel.set()
        for fn in list(self._on_cancel):
            try:
                fn()
            except Exception:  # noqa: BLE001 - a cancel hook must never raise into the GUI thread
                pass

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def on_cancel(self, fn: Callable[[], None]) -> None:
        """Call `fn` (from whichever thread cancels) when the task is cancelled."""
        self._on_cancel.append(fn)
        if self.cancelled:
            fn()

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    # --- reporting ---------------------------------------------------------------------------
    def progress(self, fraction: float | None, message: str = "", force: bool = False) -> None:
        """fraction in [0, 1] (None: unknown); throttled unless `force`."""
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        if self._progress_sink is not None:
            self._progress_sink(-1.0 if fraction is None else float(fraction), message)

    def emit(self, kind: str, payload: Any = None) -> None:
        """A named event for the widget (partial results, log rows...); never throttled."""
        if self._event_sink is not None:
            self._event_sink(kind, payload)


class _Thread(QThread):
    def __init__(self, task: "Task"):
        super().__init__()
        self.task = task

    def run(self) -> None:  # worker thread
        try:
            self._run()
        finally:
            _release_java_thread()

    def _run(self) -> None:
        task = self.task
        try:
            result = task.fn(task.state, *task.args, **task.kwargs)
        except Cancelled:
            task._sig_cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - reported to the GUI as a value
            task._sig_failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            if task.state.cancelled:
                task._sig_cancelled.emit()
            else:
                task._sig_done.emit(result)


def _release_java_thread() -> None:
    """Detach this worker thread from OPSIN's JVM if it touched Java.

    A thread that starts the JVM (or attaches to it) and ends still attached makes the JVM's
    shutdown wait for it at exit: the app hangs or crashes on quit."""
    _jpype = sys.modules.get("_jpype")  # JPype's C module: no Java class lookups at thread exit
    if _jpype is None:
        return
    try:
        if _jpype.isStarted() and _jpype.isThreadAttachedToJVM():
            _jpype.detachThreadFromJVM()
    except Exception:  # noqa: BLE001 - best effort at thread exit
        pass


_gc_timer: QTimer | None = None


def _gc_check() -> None:
    threshold = gc.get_threshold()
    g0, g1, g2 = gc.get_count()
    if g0 > threshold[0]:
        gc.collect(0)
        if g1 > threshold[1]:
            gc.collect(1)
            if g2 > threshold[2]:
                gc.collect(2)


def _gc_update() -> None:
    """Python's cyclic GC runs in whichever thread happens to allocate, and OPSIN's JVM runs it too:
    JPype calls PyGC_Collect from a Java thread whenever Java collects (seen in a core dump of the
    test suite: a closed Runs view's plot widgets destroyed from that thread, Qt crashed). When the
    garbage holds Qt objects they must be destroyed on the GUI thread. So once the application exists,
    automatic GC stays off (PyGC_Collect then does nothing) and the same generational collection runs
    on a GUI-thread timer, as pyqtgraph's GarbageCollector does."""
    global _gc_timer
    app = QCoreApplication.instance()
    if app is None:
        return
    if _gc_timer is None:
        _gc_timer = QTimer(app)
        _gc_timer.setInterval(500)
        _gc_timer.timeout.connect(_gc_check)
    if not _gc_timer.isActive():
        _gc_timer.start()
    gc.disable()


def collect_on_gui_thread() -> None:
    """Make the GUI thread the only one that collects cyclic garbage (see _gc_update); the app calls
    it as soon as the QApplication exists."""
    _gc_update()


def release_gc() -> None:
    """Collect now, on this (the GUI) thread, and give automatic GC back (tests that leave the GUI)."""
    if _gc_timer is not None:
        _gc_timer.stop()
    gc.collect()
    gc.enable()


_alive: set["Task"] = set()  # running tasks, kept until their thread ends


class Task(QObject):
    """Runs `fn(state, *args, **kwargs)` in a QThread. Connect the signals, then `start()`.

    Signals (GUI thread): progress(fraction or -1, message), event(kind, payload), done(result),
    failed(message, traceback), cancelled(), finished() — finished comes last, whatever happened.
    """

    progress = Signal(float, str)
    event = Signal(str, object)
    done = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    finished = Signal()

    # Emitted from the worker thread; re-emitted from the GUI thread by the slots below.
    _sig_progress = Signal(float, str)
    _sig_event = Signal(str, object)
    _sig_done = Signal(object)
    _sig_failed = Signal(str, str)
    _sig_cancelled = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name = name or getattr(fn, "__name__", "task")
        self.state = TaskState()
        self.state._progress_sink = self._sig_progress.emit
        self.state._event_sink = self._sig_event.emit
        self.outcome: str | None = None  # done | failed | cancelled
        self.result: Any = None
        self.error: str | None = None
        self._thread: _Thread | None = None
        self._sig_progress.connect(self.progress)
        self._sig_event.connect(self.event)
        self._sig_done.connect(self._on_done)
        self._sig_failed.connect(self._on_failed)
        self._sig_cancelled.connect(self._on_cancelled)

    def start(self) -> "Task":
        self._thread = _Thread(self)
        self._thread.finished.connect(self._on_thread_finished)
        _alive.add(self)
        _gc_update()
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.state.cancel()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def wait(self, ms: int = -1) -> bool:
        """Block until the thread ends (tests, shutdown). Signals still need the event loop."""
        if self._thread is None:
            return True
        return self._thread.wait(ms) if ms >= 0 else self._thread.wait()

    # --- GUI thread ----------------------------------------------------------------------------
    def _on_done(self, result: Any) -> None:
        self.outcome, self.result = "done", result
        self.done.emit(result)

    def _on_failed(self, message: str, tb: str) -> None:
        self.outcome, self.error = "failed", message
        self.failed.emit(message, tb)

    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"
        self.cancelled.emit()

    def _on_thread_finished(self) -> None:
        self.finished.emit()
        _alive.discard(self)
        _gc_update()



class TaskSlot:
    """One job of a view, the latest task winning (Orange3's ConcurrentWidgetMixin, one per job).

    `start` cancels the slot's running task and disconnects it, so only the newest task's signals
    reach the view's handlers. The slot is empty again (`running` False) before `done(result)`,
    `failed(message, traceback)` or `cancelled()` is called, so a handler may start the next task;
    `finished()` follows whichever of the three came. `cancel` drops the task the same way, unseen.
    """

    def __init__(self, done: Callable | None = None, failed: Callable | None = None,
                 progress: Callable | None = None, event: Callable | None = None,
                 cancelled: Callable | None = None, finished: Callable[[], None] | None = None):
        self._done, self._failed, self._cancelled, self._finished = done, failed, cancelled, finished
        self._progress, self._event = progress, event
        self.task: Task | None = None
        self._connections: list[tuple[Any, Callable]] = []

    @property
    def running(self) -> bool:
        return self.task is not None

    def start(self, fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any) -> Task:
        self.cancel()
        task = Task(fn, *args, name=name, **kwargs)
        self.task = task
        ends = ((task.done, self._done), (task.failed, self._failed), (task.cancelled, self._cancelled))
        self._connections = [(signal, (lambda *a, h=handler: self._end(task, h, a))) for signal, handler in ends]
        self._connections += [(signal, handler) for signal, handler in ((task.progress, self._progress),
                                                                        (task.event, self._event)) if handler]
        for signal, slot in self._connections:
            signal.connect(slot)
        task.start()
        return task

    def cancel(self) -> None:
        """Cancel the running task; nothing it still reports reaches the view."""
        task = self._drop()
        if task is not None:
            task.cancel()

    def _drop(self) -> Task | None:
        task, self.task = self.task, None
        for signal, slot in self._connections:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # already gone
                pass
        self._connections = []
        return task

    def _end(self, task: Task, handler: Callable | None, args: tuple) -> None:
        if task is not self.task:
            return
        self._drop()  # empty before the handler runs, so that it may start the next task
        if handler is not None:
            handler(*args)
        if self._finished is not None:
            self._finished()

def running_tasks() -> list[Task]:
    return [t for t in _alive if t.running]


def shutdown(timeout_ms: int = 3000) -> list[str]:
    """Cancel every task and wait for their threads (app exit). Returns the names still running."""
    tasks = list(_alive)
    for t in tasks:
        t.cancel()
    deadline = time.monotonic() + timeout_ms / 1000
    left = []
    for t in tasks:
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        if not t.wait(remaining):
            left.append(t.name)
    return left
