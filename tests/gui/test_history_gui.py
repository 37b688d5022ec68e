"""The history view: lazy pages, SQL sorting, search and filters, delete, export; fast on 100k rows."""
from __future__ import annotations

import csv
import time
from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import QDate, Qt

from chemnamer.gui.history_view import PAGE, HistoryView


def _records(n: int, start: datetime):
    names = ["ethanol", "benzoic acid", "2-acetyloxybenzoic acid", "propan-2-ol", "cyclohexanamine"]
    for i in range(n):
        yield {"input": f"C{i}", "smiles": "C" * (1 + i % 7), "inchikey": f"KEY{i:08d}-UHFFFAOYSA-N",
               "name": f"{names[i % 5]} {i}", "verified": (None, True, False)[i % 3], "score": -0.01 * (i % 50),
               "model_id": "run-1" if i % 4 == 0 else "default", "created_at": start + timedelta(minutes=i),
               "candidates": [], "source": "smiles", "mode": "model"}


def settle(qtbot, model):
    qtbot.waitUntil(lambda: not model.loading, timeout=30_000)


@pytest.fixture
def filled(home):
    from chemnamer.store import history

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    history.save_namings(_records(450, start))
    return start


def test_lazy_pages_sort_search_filters_delete_export(filled, qtbot, tmp_path):
    view = HistoryView()
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    m = view.model
    qtbot.waitUntil(lambda: m.total == 450)
    assert m.rowCount() == PAGE and m.canFetchMore()  # only one page is read at first
    m.fetchMore()
    assert m.rowCount() == 2 * PAGE
    view.table.scrollToBottom()  # scrolling asks for the next page
    qtbot.waitUntil(lambda: m.rowCount() == 450)
    assert not m.canFetchMore()
    assert m.rows[0]["input"] == "C449"  # newest first

    view.table.sortByColumn(2, Qt.AscendingOrder)  # by name, in SQL (in a worker)
    settle(qtbot, m)
    assert m.order_by == "name" and not m.descending and m.rows[0]["name"].startswith("2-acetyloxybenzoic acid")

    view.search.setText("benzoic")
    qtbot.waitUntil(lambda: m.total == 180)  # 'benzoic acid' + '2-acetyloxybenzoic acid'
    view.search.setText("")
    qtbot.waitUntil(lambda: m.total == 450)

    view.verified.setCurrentIndex(1)  # verified only
    settle(qtbot, m)
    assert m.total == 150 and all(r["verified"] is True for r in m.rows)
    view.verified.setCurrentIndex(0)
    view._refresh_models()
    view.model_filter.setCurrentIndex(view.model_filter.findData("run-1"))
    settle(qtbot, m)
    assert m.total == 113 and all(r["model_id"] == "run-1" for r in m.rows)
    view.model_filter.setCurrentIndex(0)

    # dates: 450 namings a minute apart from 2026-01-01 00:00 UTC (all on Jan 1 in UTC)
    view.since_on.setChecked(True)
    view.since.setDate(QDate(2026, 1, 3))
    settle(qtbot, m)
    assert m.total == 0
    view.since.setDate(QDate(2025, 12, 30))
    settle(qtbot, m)
    assert m.total == 450
    view.since_on.setChecked(False)
    settle(qtbot, m)

    # delete the two newest
    ids = [m.rows[0]["id"], m.rows[1]["id"]]
    assert view.delete(ids) == 2
    settle(qtbot, m)
    assert m.total == 448

    # export everything that matches (not only the loaded page)
    out = tmp_path / "history.csv"
    task = view.export(str(out))
    qtbot.waitUntil(lambda: task.outcome is not None, timeout=30_000)
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert task.outcome == "done" and len(rows) == 448 and rows[0]["name"]

    # reopen: double-click emits the naming id
    with qtbot.waitSignal(view.reopen) as sig:
        view.table.doubleClicked.emit(m.index(0, 0))
    assert sig.args == [m.rows[0]["id"]]


def test_100k_rows_stay_fast(home, qtbot):
    from chemnamer.store import history

    history.save_namings(_records(100_000, datetime(2025, 6, 1, tzinfo=timezone.utc)))
    view = HistoryView()
    qtbot.addWidget(view)
    view.resize(1100, 700)
    t0 = time.perf_counter()
    view.show()
    qtbot.waitUntil(lambda: view.model.total == 100_000, timeout=30_000)
    first = time.perf_counter() - t0
    timings = {"open": first}
    from guihelpers import GapMeter

    meter = GapMeter().start()
    for label, action in (("fetch page", lambda: view.model.fetchMore()),
                          ("sort by name", lambda: view.table.sortByColumn(2, Qt.AscendingOrder)),
                          ("sort by score", lambda: view.table.sortByColumn(4, Qt.DescendingOrder)),
                          ("verified filter", lambda: view.verified.setCurrentIndex(1)),
                          ("search", lambda: (view.search.setText("KEY0009"), view.apply_filters()))):
        t0 = time.perf_counter()
        action()
        settle(qtbot, view.model)
        timings[label] = time.perf_counter() - t0
    meter.stop()
    print("\n[history 100k] " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()) +
          f"; GUI thread meanwhile: {meter.summary()}")
    assert view.model.total == 3333 and view.model.rowCount() == PAGE  # KEY0009xxxx, a third verified
    # Generous bounds for a busy 2-core machine; typical numbers are printed above.
    assert timings["fetch page"] < 1.0 and timings["verified filter"] < 2.0 and timings["search"] < 2.0
