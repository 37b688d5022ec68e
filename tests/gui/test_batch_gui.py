"""The batch view keeps the user's data: a column picker when there is no 'smiles' column, a ';' file
written back with ';', and no progress left over from an earlier file after a failed open."""
from __future__ import annotations

import csv


def test_column_picker_semicolon_file_and_progress_reset(window, qtbot, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr("chemnamer.gui.batch_view.QMessageBox.warning",
                        lambda parent, title, text: warnings.append(text))
    window.show_view("batch")
    view = window.batch
    good = tmp_path / "good.csv"
    good.write_text("smiles,id\nCCO,a\nc1ccccc1,b\n", encoding="utf-8")
    with qtbot.waitSignal(view.finished, timeout=120_000):
        assert view.start(str(good))
    assert view.progress.text() == "2 / 2" and view.progress.value() == 1000

    # A file that cannot be opened: a message, and the bar no longer says "2 / 2"
    (tmp_path / "table.xlsx").write_bytes(b"PK")
    assert not view.start(str(tmp_path / "table.xlsx"))
    assert warnings and "unsupported file type" in warnings[-1]
    assert (view.progress.value(), view.progress.text(), view.eta.text()) == (0, "", "")
    assert view.model.rowCount() == 0 and not view.export_csv.isEnabled()

    # No 'smiles' column: the user picks it in the column box
    src = tmp_path / "excel.csv"
    src.write_text("Nr;Struktur;Bemerkung\n1;OCC;Ethanol, rein\n2;C1CC;kaputt\n", encoding="utf-8")
    assert not view.start(str(src))
    combo = view.column_combo
    assert combo.isEnabled() and [combo.itemText(i) for i in range(combo.count())] == [
        "— pick a column —", "Nr", "Struktur", "Bemerkung"]
    assert "pick the column" in view.eta.text() and view.progress.text() == ""
    with qtbot.waitSignal(view.finished, timeout=120_000):
        combo.setCurrentIndex(combo.findData("Struktur"))
        combo.activated.emit(combo.currentIndex())
    assert [r.input for r in view.model.rows] == ["OCC", "C1CC"]
    assert view.model.rows[0].result.smiles == "CCO" and "unclosed ring" in view.model.rows[1].problem

    task = view.export(str(tmp_path / "named.csv"))
    qtbot.waitUntil(lambda: task.outcome is not None, timeout=30_000)
    assert task.outcome == "done", task.error
    with open(tmp_path / "named.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))  # written back the way it came: ';'
    assert list(rows[0])[:3] == ["Nr", "Struktur", "Bemerkung"]
    assert [(r["Struktur"], r["Bemerkung"], r["canonical_smiles"]) for r in rows] == [
        ("OCC", "Ethanol, rein", "CCO"), ("C1CC", "kaputt", "")]

    # .smi files have no columns to pick
    smi = tmp_path / "few.smi"
    smi.write_text("CCO one\n", encoding="utf-8")
    with qtbot.waitSignal(view.finished, timeout=120_000):
        assert view.start(str(smi))
    assert not combo.isEnabled() and len(view.model.rows) == 1

    # nor SD files: their records hold the structures (the view used to ask for a column and stop)
    from rdkit import Chem

    sdf = tmp_path / "few.sdf"
    sdf.write_text(Chem.MolToMolBlock(Chem.MolFromSmiles("OCC")) + "> <ID>\nm1\n\n$$$$\n", encoding="utf-8")
    with qtbot.waitSignal(view.finished, timeout=120_000):
        assert view.start(str(sdf))
    assert not combo.isEnabled() and [r.result.smiles for r in view.model.rows] == ["CCO"]
