"""Your verdict in the history view (issue 18): Mark correct, Correct name… (a refused name keeps the
dialog open with the reason), the verdict column, Export corrections… read back as the wizard reads it."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from chemnamer.data.userfile import file_pairs
from chemnamer.gui.history_view import HistoryView


def _column(view, key: str) -> int:
    return [k for k, _ in view.model.COLUMNS].index(key)


def _row_of(view, naming_id: int) -> int:
    return next(i for i, r in enumerate(view.model.rows) if r["id"] == naming_id)


def test_mark_correct_correct_a_name_and_export(home, qtbot, tmp_path):
    from chemnamer.store import history

    ethanol = history.save_naming({"input": "CCO", "smiles": "CCO", "name": "ethanol", "verified": True,
                                   "inchikey": "LFQSCWFLJHTTHZ-UHFFFAOYSA-N", "model_id": "default"})
    wrong = history.save_naming({"input": "CCCO", "smiles": "CCCO", "name": "propanal", "verified": False,
                                 "model_id": "default"})
    view = HistoryView()
    qtbot.addWidget(view)
    view.resize(1200, 600)
    view.show()
    m = view.model
    qtbot.waitUntil(lambda: m.total == 2 and not m.loading, timeout=30_000)
    verdict_col = _column(view, "user_verdict")
    assert m.headerData(verdict_col, Qt.Horizontal) == "Your verdict"
    assert not view.mark_button.isEnabled() and not view.correct_button.isEnabled()

    # select ethanol, click Mark correct
    view.table.selectRow(_row_of(view, ethanol))
    assert view.mark_button.isEnabled() and view.correct_button.isEnabled()
    messages = []
    view.message.connect(messages.append)
    qtbot.mouseClick(view.mark_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view._verdict_task is None and bool(messages), timeout=60_000)
    assert messages[-1] == "Marked 1 name(s) correct"
    assert m.data(m.index(_row_of(view, ethanol), verdict_col)) == "✓ correct"

    # Mark correct on a name OPSIN reads as another structure: refused, the reason in the message
    assert view.mark_correct([wrong]) is not None
    qtbot.waitUntil(lambda: view._verdict_task is None and len(messages) == 2, timeout=60_000)
    assert messages[-1].startswith(f"naming {wrong} not marked: OPSIN reads “propanal” as CCC=O")
    assert m.data(m.index(_row_of(view, wrong), verdict_col)) == ""

    # select propanal, Correct name…: a typo is refused and the dialog stays open with the reason
    view.table.selectRow(_row_of(view, wrong))
    qtbot.mouseClick(view.correct_button, Qt.LeftButton)
    dlg = view.correction_dialog
    assert dlg is not None and dlg.isVisible() and dlg.name_edit.text() == "propanal"
    dlg.name_edit.setText("propan-1-oll")
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    qtbot.waitUntil(lambda: dlg.task is None, timeout=60_000)
    assert dlg.isVisible() and dlg.reason.text().startswith("Not saved: OPSIN cannot read “propan-1-oll”")
    dlg.name_edit.setText("propan-2-ol")  # another structure: refused too
    dlg.submit()
    qtbot.waitUntil(lambda: dlg.task is None, timeout=60_000)
    assert dlg.isVisible() and "CC(C)O, not CCCO" in dlg.reason.text()
    assert history.get_naming(wrong)["user_verdict"] is None
    dlg.name_edit.setText("propan-1-ol")
    with qtbot.waitSignal(dlg.saved, timeout=60_000):
        dlg.submit()
    assert not dlg.isVisible()
    assert m.data(m.index(_row_of(view, wrong), verdict_col)) == "✎ propan-1-ol"
    assert messages[-1] == f"Naming {wrong} corrected: propan-1-ol"
    row = history.get_naming(wrong)
    assert (row["user_verdict"], row["user_name"]) == ("corrected", "propan-1-ol")

    # export: the training file the wizard's "Your file" source reads (smiles → name)
    out = tmp_path / "corrections.csv"
    task = view.export_corrections(str(out))
    qtbot.waitUntil(lambda: task.outcome is not None, timeout=30_000)
    assert task.outcome == "done" and task.result == 2
    assert messages[-1].startswith(f"Exported 2 correction(s) to {out}")
    assert [(p.source, p.target) for p in file_pairs(out, "smiles", "name")] == [("CCO", "ethanol"),
                                                                                  ("CCCO", "propan-1-ol")]

    # the verdict survives a reload (sorted by it, in SQL), and can be cleared
    view.table.sortByColumn(verdict_col, Qt.DescendingOrder)
    qtbot.waitUntil(lambda: not m.loading, timeout=30_000)
    assert m.order_by == "user_verdict" and [r["id"] for r in m.rows] == [wrong, ethanol]
    assert m.data(m.index(0, verdict_col)) == "✎ propan-1-ol"
    view.clear_verdict([ethanol])
    qtbot.waitUntil(lambda: view._verdict_task is None, timeout=30_000)
    assert m.data(m.index(_row_of(view, ethanol), verdict_col)) == "" and history.count_corrections() == 1
