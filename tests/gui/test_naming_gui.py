"""The naming view end to end on the tiny model: typing, results, stale results, bad input, clipboard,
model status; and the event loop stays responsive while a naming runs in its worker."""
from __future__ import annotations

from guihelpers import assert_responsive

from PySide6.QtGui import QGuiApplication

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def _shown(win, text):
    o = win.naming.outcome
    return o is not None and o.result.input == text and not win.naming.busy


def test_naming_view_end_to_end(window, qtbot, gap_meter):
    view = window.naming
    assert "device: cpu" in window.model_status.text()
    # Start-up (JVM for OPSIN, rule-based worker) happens once, in a worker, right after the model
    # loads; what a user feels afterwards is naming itself, measured here.
    qtbot.waitUntil(lambda: bool(window.session.warm_info), timeout=120_000)
    gap_meter.start()
    qtbot.keyClicks(view.input, ASPIRIN)  # typing: debounced, one naming for the whole string
    qtbot.waitUntil(lambda: _shown(window, ASPIRIN), timeout=120_000)
    for smiles in ("CCO", "c1ccccc1O", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"):
        view.set_input(smiles)
        qtbot.waitUntil(lambda s=smiles: _shown(window, s), timeout=120_000)
    gap_meter.stop()
    print(f"\n[responsiveness] 4 namings (typing + worker): {gap_meter.summary()}")
    assert_responsive(gap_meter)
    view.set_input(ASPIRIN)
    qtbot.waitUntil(lambda: _shown(window, ASPIRIN), timeout=120_000)

    r = view.outcome.result
    assert r.error is None and r.smiles and r.inchikey == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
    assert r.candidates, "the tiny model gives beam candidates"
    assert view.cands.rowCount() == len(r.candidates)
    assert view.gen_name.text() == (r.name or "no name")
    assert view.mol.has_image() and "<svg" in view.outcome.svg
    assert view.formula.text() == "C9H8O4"
    pubchem_label = view.ref_rows["pubchem"][0]
    assert pubchem_label.text() == r.reference.pubchem == "2-acetyloxybenzoic acid"
    assert view.ref_rows["pubchem"][1].text().startswith("✓")  # PubChem's own name verifies (OPSIN)
    assert "Levenshtein" in view.metrics.text() and "BLEU" in view.metrics.text()
    assert "same string" in view.agreement.text()
    assert not view.msg.isVisible()
    # stored in the history, under the model's id
    from chemnamer.store import history

    assert history.get_naming(r.id)["inchikey"] == r.inchikey

    # copy buttons
    view.copy_smiles.click()
    assert QGuiApplication.clipboard().text() == r.smiles
    view.copy_image.click()
    assert not QGuiApplication.clipboard().image().isNull()

    # stale results are dropped: two inputs in quick succession, only the last one is shown
    named = []
    view.named.connect(lambda o: named.append(o.result.input))
    view.set_input("CCO")
    view.set_input("CCN")
    qtbot.waitUntil(lambda: _shown(window, "CCN"), timeout=120_000)
    assert named == ["CCN"]


def test_bad_input_shows_inline_message(window, qtbot):
    view = window.naming
    view.set_input("C1CC(")
    qtbot.waitUntil(lambda: view.msg.isVisible(), timeout=60_000)
    assert "Cannot read this input" in view.msg.text()
    assert not view.mol.has_image() and view.cands.rowCount() == 0
    # a good input clears the message
    view.set_input("CCO")
    qtbot.waitUntil(lambda: _shown(window, "CCO"), timeout=60_000)
    assert not view.msg.isVisible() and view.mol.has_image()


def test_history_reopens_in_naming_view(window, qtbot):
    view = window.naming
    view.set_input("c1ccccc1O")
    qtbot.waitUntil(lambda: _shown(window, "c1ccccc1O"), timeout=60_000)
    naming_id = view.outcome.result.id
    view.set_input("")
    window.show_view("history")
    qtbot.waitUntil(lambda: window.history.model.rowCount() > 0, timeout=10_000)
    window.reopen_naming(naming_id)
    qtbot.waitUntil(lambda: view.outcome is not None and view.outcome.result.id == naming_id, timeout=30_000)
    assert window.stack.currentWidget() is view
    assert view.input.text() == "c1ccccc1O" and view.outcome.stored_at is not None
    assert "from history" in view.gen_info.text()


def test_batch_view_names_file_and_exports(window, qtbot, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,SMILES\na,CCO\nb,not-a-smiles\nc,c1ccccc1\n", encoding="utf-8")
    window.show_view("batch")
    view = window.batch
    with qtbot.waitSignal(view.finished, timeout=120_000):
        assert view.start(str(src))
    assert [r.row for r in view.model.rows] == [0, 1, 2]
    assert view.model.rows[1].problem and view.model.rows[0].result.smiles == "CCO"
    assert view.progress.value() == 1000 and view.export_csv.isEnabled()
    import csv

    def export(path):
        task = view.export(str(path))
        qtbot.waitUntil(lambda: task.outcome is not None, timeout=30_000)
        assert task.outcome == "done", task.error
        return task.result

    n = export(tmp_path / "out.csv")
    rows = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert n == 3 and rows[0]["canonical_smiles"] == "CCO" and rows[0]["id"] == "a" and rows[1]["error"]
    assert list(rows[0])[:2] == ["id", "SMILES"]  # the user's columns first, as they were
    assert export(tmp_path / "out.sdf") == 2
    from rdkit import Chem

    mols = [m for m in Chem.SDMolSupplier(str(tmp_path / "out.sdf")) if m is not None]
    assert len(mols) == 2 and mols[0].HasProp("IUPAC_NAME") and mols[0].GetProp("id") == "a"


def test_batch_cancel_keeps_named_rows(window, qtbot, tmp_path):
    src = tmp_path / "many.smi"
    src.write_text("".join(f"{'C' * (1 + i % 9)}O mol{i}\n" for i in range(80)), encoding="utf-8")
    window.show_view("batch")
    view = window.batch
    assert view.start(str(src))
    qtbot.waitUntil(lambda: len(view.model.rows) >= 8, timeout=120_000)
    view.cancel()
    qtbot.waitUntil(lambda: not view.running, timeout=120_000)
    assert 8 <= len(view.model.rows) < 80
    assert "cancelled" in view.eta.text() and view.export_csv.isEnabled() and view.open_button.isEnabled()
