"""Issue 18's small things in the training views: loss-axis numbers at any range, metric headers that
are never cut, the example count that explains itself, the PubChem table sizes read from the data."""
from __future__ import annotations

import math

import pyqtgraph as pg


def _labels(axis, lo: float, hi: float) -> list[str]:
    """The tick labels an axis draws for the loss range lo..hi (log mode: positions are log10)."""
    levels = axis.tickValues(math.log10(lo), math.log10(hi), 300)
    return [s for spacing, values in levels for s in axis.tickStrings(values, 1.0, spacing or 1.0)]


def test_loss_axis_has_numbers_early_on(qapp):
    from chemnamer.gui.plots import LogAxis, nice_ticks

    plain, ours = pg.AxisItem("left"), LogAxis("left")
    for axis in (plain, ours):
        axis.setLogMode(False, True)
    assert _labels(plain, 2.17, 2.87) == []  # pyqtgraph's log axis: no number between 2 and 3
    assert _labels(ours, 2.17, 2.87) == ["2.2", "2.4", "2.6", "2.8"]
    assert _labels(ours, 0.031, 0.09) == ["0.04", "0.05", "0.06", "0.07", "0.08", "0.09"]
    assert "1" in _labels(ours, 0.01, 10)  # several decades: the decades
    assert nice_ticks(2.17, 2.87, 4) == [2.2, 2.4, 2.6, 2.8] and nice_ticks(3, 3, 4) == []


def test_both_loss_plots_use_it(qapp):
    from chemnamer.gui.plots import LogAxis
    from chemnamer.gui.runs_view import RunsView
    from chemnamer.gui.training import RunMonitor, TrainingController

    assert isinstance(RunMonitor(TrainingController()).plot.getAxis("left"), LogAxis)
    assert isinstance(RunsView().loss_plot.getAxis("left"), LogAxis)


def test_metric_headers_are_never_cut(qtbot):
    from chemnamer.gui.training import RunMonitor, TrainingController

    monitor = RunMonitor(TrainingController())
    qtbot.addWidget(monitor)
    monitor.resize(560, 500)  # the wizard's run page on a small screen: "Structure" read "5tructure"
    monitor.show()
    monitor.load_history([(1, 2.9, 0.01)], [(1.0, 1, "valid", "greedy", {"structure_match": 0.01})])
    qtbot.waitExposed(monitor)
    header = monitor.metrics.horizontalHeader()
    for i in range(monitor.metrics.columnCount()):
        assert header.sectionSize(i) >= header.sectionSizeFromContents(i).width(), \
            monitor.metrics.horizontalHeaderItem(i).text()


def test_example_count_explains_the_difference_with_the_wizard():
    from chemnamer.gui.training import _examples_text

    assert _examples_text({"examples": 8219, "dropped_too_long": 2}) == \
        "8,219 training examples (2 too long for the model, left out)"
    assert _examples_text({"examples": 8221, "dropped_too_long": 0, "inverted": 822}) == \
        "8,221 training examples (822 of them inverted)"


def test_wizard_says_how_big_each_table_is(qtbot):
    from chemnamer.data.pubchem import TABLES, identifiers_dir
    from chemnamer.gui.training import TrainingController
    from chemnamer.gui.wizard import TrainingWizard

    wiz = TrainingWizard(TrainingController(), ["auto", "cpu"])
    qtbot.addWidget(wiz)
    combo = wiz.data_page.table
    for key, file in TABLES.items():
        with open(identifiers_dir() / file, encoding="utf-8") as fh:
            rows = sum(1 for _ in fh)
        assert f"({rows:,} compounds)" in combo.itemText(combo.findData(key))
    assert "71,347" in combo.itemText(combo.findData("large"))  # the count of the shipped table


def test_runs_view_shows_a_runs_generalization_report(qtbot):
    from chemnamer.gui.runs_view import RunsView

    view = RunsView()
    qtbot.addWidget(view)
    summary = {"n": 1000, "structure_correct": 0.34, "structure_correct_se": 0.015, "beams": 8,
               "by_bin": {"16-25": {"n": 600, "structure_correct": 0.4, "structure_correct_se": 0.02}}}
    view._show_details({"id": 1, "status": "completed", "generalization": {
        "druglike": summary, "aromatic": {**summary, "exact_match_ci": 0.2, "exact_match_ci_se": 0.013}}})
    tree = view.details
    node = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).text(0).startswith("generalization"))
    # a report from before pooled SMILES forms has no "forms": it read one
    assert node.text(0) == "generalization (8 beams, SMILES forms: 1)" and node.isExpanded()
    rows = {node.child(i).text(0): node.child(i).text(1) for i in range(node.childCount())}
    assert "structure-correct  34.0 % ± 1.5" in rows["druglike"]
    assert "exact match  20.0 % ± 1.3" in rows["aromatic"]
    assert node.child(0).child(0).text(0) == "atoms 16-25"
