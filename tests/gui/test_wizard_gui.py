"""The training wizard driven page by page on the tiny model and PubChem's small table: a finished run,
a registered model made active; cancel mid-run and resume; the window stays responsive meanwhile."""
from __future__ import annotations

from guihelpers import assert_responsive

import pytest
from PySide6.QtWidgets import QWizard

from chemnamer.gui.training import TrainingController
from chemnamer.gui.wizard import TrainingWizard


@pytest.fixture
def wizard(qtbot, monkeypatch):
    monkeypatch.setattr("chemnamer.gui.tasks.default_threads", lambda: 1)
    from chemnamer.gui.app import make_app

    make_app()
    controller = TrainingController()
    wiz = TrainingWizard(controller, ["auto", "cpu"])
    qtbot.addWidget(wiz)
    wiz.show()
    yield wiz
    if controller.running:
        controller.cancel()
        qtbot.waitUntil(lambda: not controller.running, timeout=120_000)


def _next(wiz, qtbot, page):
    qtbot.waitUntil(lambda: wiz.currentPage().isComplete(), timeout=120_000)
    wiz.next()
    assert wiz.currentPage() is page


def fill_pages(wiz, qtbot, epochs=1.0, log_every_one=False):
    """Data: PubChem small table → filters (paper's) and a tiny split → short template → tiny model →
    fast hyperparameters. Returns on the run page."""
    d = wiz.data_page
    assert wiz.currentPage() is d
    d.src_pubchem.setChecked(True)
    d.table.setCurrentIndex(d.table.findData("small"))
    _next(wiz, qtbot, wiz.filter_page)

    f = wiz.filter_page
    f.n_valid.setValue(8)
    f.n_test.setValue(8)
    f.limit_train.setValue(100)
    qtbot.waitUntil(lambda: f.counts is not None and not f.counting.running and not f._timer.isActive(), timeout=120_000)
    sizes = f.counts["sizes"]
    assert sizes["valid"] == 8 and sizes["test"] == 8 and 0 < sizes["train"] <= 100
    assert "training pairs" in f.count_title.text()
    _next(wiz, qtbot, wiz.format_page)

    fmt = wiz.format_page
    fmt.preset.setCurrentIndex(1)  # "SMILES: {source}" / "\nIUPAC: "
    fmt.inversion.setValue(10)
    assert "SMILES: " in fmt.preview.toPlainText() and "IUPAC: " in fmt.preview.toPlainText()
    _next(wiz, qtbot, wiz.model_page)

    m = wiz.model_page
    m.base.setCurrentIndex(m.base.findData("tiny"))
    m.device.setCurrentText("cpu")
    _next(wiz, qtbot, wiz.hyper_page)

    h = wiz.hyper_page
    assert h.lr.text() == "2e-05" and h.batch.value() == 4  # the paper's defaults are offered
    h.name.setText("gui-test")
    h.lr.setText("3e-3")
    h.batch.setValue(16)
    h.epochs.setValue(epochs)
    h.eval_limit.setValue(2)
    h.checkpoint_every.setValue(2)
    h.threads.setValue(1)
    _next(wiz, qtbot, wiz.run_page)
    cfg = wiz.config()
    if log_every_one:
        wiz.base_config["train"]["log_every"] = 1
    assert cfg["model"]["base"] == "tiny" and cfg["data"]["pubchem_tables"] == ["small"]
    assert cfg["format"]["inversion"] == pytest.approx(0.1) and cfg["train"]["batch_size"] == 16


def test_wizard_trains_and_registers_model(wizard, qtbot, gap_meter):
    wiz = wizard
    fill_pages(wiz, qtbot)
    page = wiz.run_page
    assert not page.isComplete()
    events = []
    wiz.controller.event.connect(lambda kind, payload: events.append(kind))
    gap_meter.start()
    page.start_button.click()
    qtbot.waitUntil(lambda: wiz.button(QWizard.BackButton).isEnabled() is False, timeout=10_000)
    with qtbot.waitSignal(wiz.controller.ended, timeout=240_000) as ended:
        pass
    gap_meter.stop()
    print(f"\n[responsiveness] training in the wizard: {gap_meter.summary()}")
    status, result = ended.args
    assert status == "completed", result
    assert {"start", "log", "evaluate", "checkpoint", "end"} <= set(events)
    assert page.isComplete()
    assert page.monitor.losses and page.monitor.metrics.rowCount() >= 1
    assert page.monitor.progress.value() == 1000

    model_id = result["model_id"]
    assert model_id == f"run-{result['run_id']}"
    _next(wiz, qtbot, wiz.finish_page)
    assert model_id in wiz.finish_page.text.text()
    with qtbot.waitSignal(wiz.model_ready) as ready:
        wiz.accept()
    assert ready.args == [model_id]

    from chemnamer.model import loading
    from chemnamer.store import runs

    assert loading.resolve(model_id).kind == "finetuned"
    run = runs.get_run(result["run_id"])
    assert run["status"] == "completed" and run["model_id"] == model_id
    assert_responsive(gap_meter)


def test_cancel_mid_run_then_resume(wizard, qtbot):
    wiz = wizard
    fill_pages(wiz, qtbot, epochs=3, log_every_one=True)
    c = wiz.controller
    steps = []
    c.event.connect(lambda kind, p: steps.append(p["state"]["step"]) if kind in ("log", "step") else None)
    wiz.run_page.start_button.click()
    qtbot.waitUntil(lambda: bool(steps) and steps[-1] >= 3, timeout=180_000)
    c.cancel()
    with qtbot.waitSignal(c.ended, timeout=120_000) as ended:
        pass
    assert ended.args[0] == "cancelled"
    from chemnamer.store import runs

    run = runs.get_run(c.run_id)
    assert run["status"] == "cancelled"
    assert runs.latest_checkpoint(c.run_id)["kind"] == "cancel"
    monitor = wiz.run_page.monitor
    assert monitor.resume_button.isEnabled() and not wiz.run_page.isComplete()
    stopped_at = steps[-1]

    # resume: the same run continues from its checkpoint to the end
    with qtbot.waitSignal(c.ended, timeout=240_000) as ended:
        monitor.resume_button.click()
    assert ended.args[0] == "completed", ended.args[1]
    assert c.run_id == run["id"] and runs.get_run(run["id"])["status"] == "completed"
    assert steps[-1] > stopped_at
    assert wiz.run_page.isComplete()


def test_own_file_with_column_pickers_and_counts(wizard, qtbot, tmp_path):
    wiz = wizard
    src = tmp_path / "pairs.csv"
    rows = [("CCO", "ethanol"), ("CC(C)O", "propan-2-ol"), ("c1ccccc1C(=O)O", "benzoic acid"),
            ("CCN", "ethanamine"), ("C1CCCCC1", "cyclohexane"), ("CC(=O)C", "propan-2-one"), ("bad((", "junk")]
    src.write_text("id,Structure,IUPAC Name\n" + "".join(f"{i},{s},{n}\n" for i, (s, n) in enumerate(rows)),
                   encoding="utf-8")
    d = wiz.data_page
    d.set_file(str(src))
    qtbot.waitUntil(lambda: d.preview.rowCount() == len(rows), timeout=30_000)
    assert [d.source_col.itemText(i) for i in range(d.source_col.count())] == ["id", "Structure", "IUPAC Name"]
    d.source_col.setCurrentText("Structure")
    d.target_col.setCurrentText("IUPAC Name")
    assert d.isComplete()
    _next(wiz, qtbot, wiz.filter_page)
    f = wiz.filter_page
    for check in f._checks():
        check.setChecked(False)  # tiny molecules: the paper's filters would drop them all
    f.n_valid.setValue(1)
    f.n_test.setValue(1)
    qtbot.waitUntil(lambda: f.counts is not None and not f.counting.running and not f._timer.isActive(), timeout=60_000)
    assert f.counts["sizes"] == {"train": 4, "valid": 1, "test": 1}
    assert "invalid SMILES" in f.count_text.text()  # the bad row is reported, not silently dropped
    cfg = wiz.config()
    assert cfg["data"]["source"] == "file" and cfg["data"]["source_column"] == "Structure"
