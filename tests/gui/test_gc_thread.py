"""Cyclic garbage holding Qt objects is collected on the GUI thread only. JPype calls PyGC_Collect
from a Java thread whenever Java collects; a core dump of the test suite showed it destroying a closed
Runs view's plot widgets there, and Qt crashed. With the app up, automatic GC is off (PyGC_Collect is
then a no-op, from any thread) and a GUI-thread timer collects. Real Qt, real threads."""
import ctypes
import gc
import threading
import weakref

from PySide6.QtCore import QObject


class Cycle(QObject):
    def __init__(self):
        super().__init__()
        self.me = self  # only the cyclic GC can free it


def test_garbage_is_collected_on_the_gui_thread_only(qtbot):
    from chemnamer.gui.app import make_app

    make_app()
    assert not gc.isenabled()
    where: list[str] = []
    obj = Cycle()
    weakref.finalize(obj, lambda: where.append(threading.current_thread().name))
    del obj
    collect = ctypes.pythonapi.PyGC_Collect
    collect.restype = ctypes.c_ssize_t
    found: list[int] = []
    other = threading.Thread(target=lambda: found.append(collect()), name="java-like")
    other.start()
    other.join()
    assert found == [0] and where == []  # the other thread's collection did nothing
    for _ in range(3000):  # enough cyclic garbage for the timer's generational check to collect
        loop: list = []
        loop.append(loop)
    qtbot.waitUntil(lambda: bool(where), timeout=10_000)
    assert where == [threading.main_thread().name]
