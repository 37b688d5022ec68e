"""GUI test fixtures: a tiny random model on disk, one torch thread, a main window on it."""
from __future__ import annotations

import pytest

from guihelpers import GapMeter


@pytest.fixture(scope="package", autouse=True)
def gui_threads(one_thread):
    from chemnamer.gui.concurrent import release_gc

    yield
    release_gc()  # the app keeps automatic GC off (GUI-thread collection); the other tests get it back


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


@pytest.fixture
def gap_meter():
    return GapMeter()
