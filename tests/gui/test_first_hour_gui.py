"""Issue 18, a chemist's first hour in the naming view, on the tiny model with the real OPSIN, PubChem
table, rule-based namer and SQLite: one history row per naming asked for, reference names without
markup, salts' component lists not taken for names, the agreement row about the name shown, no
misleading percentage, long names wrapped inside their card, the mode choice remembered."""
from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
PEG = "CCCCCC1=CC(=C(C=C1)OCCOCCOCCOCCOCCOCCOCCOCCOCCOCCO)CCCCC"  # PubChem's name: 117 characters


@pytest.fixture
def view(home, window):
    """The naming view over an empty database and settings file (`home` comes first)."""
    v = window.naming
    v.mode_choice.set_mode("model")
    return v


class Named:
    """Counts the results the view shows, to wait for the next one."""

    def __init__(self, view):
        self.view, self.seen = view, []
        view.named.connect(lambda o: self.seen.append(o.result.input))

    def wait(self, qtbot, count: int, timeout: int = 120_000):
        qtbot.waitUntil(lambda: len(self.seen) >= count and not self.view.busy, timeout=timeout)


def _rows():
    from chemnamer.store import history

    return history.query_history(limit=100, descending=False)


def test_typing_enter_and_clicks_make_one_history_row(view, qtbot):
    named = Named(view)
    qtbot.keyClicks(view.input, "CC(=O)O")  # the typist pauses on acetic acid on the way to aspirin
    named.wait(qtbot, 1)
    assert view.outcome.result.input == "CC(=O)O"
    draft_id = view.outcome.result.id
    assert [r["input"] for r in _rows()] == ["CC(=O)O"]  # what is shown is in the history...
    qtbot.keyClicks(view.input, "c1ccccc1C(=O)O")
    named.wait(qtbot, 2)
    assert view.outcome.result.input == ASPIRIN
    rows = _rows()
    assert [(r["id"], r["input"]) for r in rows] == [(draft_id, ASPIRIN)]  # ...and the draft followed the input
    first_seen = rows[0]["created_at"]

    qtbot.keyClick(view.input, Qt.Key_Return)
    named.wait(qtbot, 3)
    view.name_button.click()
    view.name_button.click()
    named.wait(qtbot, 5)
    view.mode_choice.set_mode("best")  # the same molecule with the fallback: still the same naming
    named.wait(qtbot, 6)
    rows = _rows()
    assert [(r["id"], r["input"], r["mode"]) for r in rows] == [(draft_id, ASPIRIN, "best")]
    assert rows[0]["created_at"] > first_seen  # dated by the last naming

    # a committed row stays; the next molecule is a row of its own
    view.input.selectAll()
    qtbot.keyClicks(view.input, "CCN")
    named.wait(qtbot, 7)
    view.copy_name.click()  # taking the name away keeps this draft as its own row
    qtbot.keyClicks(view.input, "C")
    named.wait(qtbot, 8)
    assert [r["input"] for r in _rows()] == [ASPIRIN, "CCN", "CCNC"]
    qtbot.keyClicks(view.input, "(")  # half-typed: an error preview is shown, never stored
    named.wait(qtbot, 9)
    assert view.msg.isVisible() and [r["input"] for r in _rows()] == [ASPIRIN, "CCN", "CCNC"]


def test_history_search_finds_the_common_name(view, window, qtbot):
    named = Named(view)
    view.set_input(ASPIRIN)
    named.wait(qtbot, 1)
    assert view.outcome.result.reference.common_name == "aspirin"
    window.show_view("history")
    hist = window.history
    hist.search.setText("aspirin")
    hist.apply_filters()
    qtbot.waitUntil(lambda: not hist.model.loading and hist.model.total == 1, timeout=30_000)
    assert hist.model.rows[0]["input"] == ASPIRIN
    hist.search.setText("acetylsalicylic")  # a synonym
    hist.apply_filters()
    qtbot.waitUntil(lambda: not hist.model.loading and hist.model.total == 1, timeout=30_000)


def test_reference_markup_is_never_shown(view, qtbot):
    named = Named(view)
    view.mode_choice.set_mode("best")
    view.set_input("[CH3]")  # PubChem: "$l^{3}-carbane"; the tiny model names nothing right
    named.wait(qtbot, 1)
    r = view.outcome.result
    assert r.chosen_from == "pubchem" and r.name == "λ³-carbane" and r.verified is True
    assert view.gen_name.text() == "λ³-carbane" and view.ref_rows["pubchem"][0].text() == "λ³-carbane"
    assert "chosen from the PubChem reference" in view.gen_info.text()
    assert "PubChem reference name" in view.note.text()


def test_agreement_is_about_the_name_shown(view, qtbot):
    named = Named(view)
    view.mode_choice.set_mode("best")
    view.set_input("Oc1cccc(C(=O)O)c1O")  # 2,3-dihydroxybenzoic acid: the example
    named.wait(qtbot, 1)
    r = view.outcome.result
    assert r.chosen_from in ("pubchem", "rule_based") and r.verified is True
    assert not any(c.verified for c in r.candidates)  # the tiny model's candidates are all wrong
    # not "same structure ✗ no, Levenshtein 0.103" about a candidate that is not shown
    if r.chosen_from == "pubchem":
        assert "PubChem's own" in view.agreement.text() and "✗" not in view.agreement.text()
        assert "✗" not in view.metrics.text() and "Levenshtein" not in view.metrics.text()
    else:  # the rule-based name shown, compared with PubChem's
        assert "same structure <span style='color:#1e7b34; font-weight:600'>✓ yes" in view.agreement.text()
        assert view.outcome.compare["reference"] == r.reference.pubchem and view.outcome.generated == r.name


def test_salt_component_list_is_not_compared_as_a_name(view, qtbot):
    named = Named(view)
    view.mode_choice.set_mode("best")
    view.set_input("[Na+].[Cl-]")
    named.wait(qtbot, 1)
    r = view.outcome.result
    assert r.reference.pubchem == "sodium;chloride" and r.reference.pubchem_verified is None
    assert r.chosen_from == "rule_based" and r.name == "sodium chloride"  # verified by OPSIN
    label, badge, _ = view.ref_rows["pubchem"]
    assert label.text() == "sodium; chloride" and badge.text() == "components"
    assert "components of a salt" in view.agreement.text() and view.outcome.compare == {}
    assert "Levenshtein" not in view.metrics.text()


def test_no_percentage_that_reads_as_the_chance_of_being_right(view):
    from chemnamer.gui import tasks
    from chemnamer.naming import CandidateResult, NamingResult

    # nicotine named "(1R)-1-methylpyrrolidine" at a mean token probability of 89 % (the case)
    result = NamingResult(input="CN1CCC[C@H]1c1cccnc1", smiles="CN1CCC[C@H]1c1cccnc1", inchikey=None,
                          name="(1R)-1-methylpyrrolidine", verified=False, score=-0.117, chosen_from="model",
                          candidates=[CandidateResult("(1R)-1-methylpyrrolidine", -0.117, False),
                                      CandidateResult("1-methylpyrrolidine", -0.3, False)], model="default")
    view.show_outcome(tasks.outcome_of(result))
    assert "%" not in view.gen_info.text() and "confidence" not in view.gen_info.text()
    assert "none of its 2 candidates verifies" in view.gen_info.text()
    headers = [view.cands.horizontalHeaderItem(i).text() for i in range(view.cands.columnCount())]
    assert headers == ["Name", "Score", "OPSIN"]
    assert not any("%" in view.cands.item(r, c).text() for r in range(2) for c in range(3))


def test_long_name_wraps_inside_its_card(view, qtbot):
    named = Named(view)
    window = view.window()
    window.resize(1100, 760)
    view.mode_choice.set_mode("best")
    view.set_input(PEG)
    named.wait(qtbot, 1)
    name = view.outcome.result.reference.pubchem
    assert len(name) > 110 and " " not in name
    scroll = view.findChild(QScrollArea)
    qtbot.waitUntil(lambda: scroll.widget().width() <= scroll.viewport().width(), timeout=5_000)
    assert scroll.horizontalScrollBar().maximum() == 0  # nothing overflows sideways
    label = view.ref_rows["pubchem"][0]
    assert label.text() == name  # wrapped on screen, the text itself unchanged (copies exactly)
    assert label.height() > 2 * label.fontMetrics().height()  # on several lines
    assert label.geometry().right() <= label.parentWidget().contentsRect().right()


def test_mode_choice_is_remembered(view, qtbot):
    from chemnamer.gui.naming_view import BEST_MODE_KEY, MODE_KEY, NamingView
    from chemnamer.gui.widgets import settings

    for mode in ("best", "guided", "model"):
        view.mode_choice.set_mode(mode)
        again = NamingView(view.session)  # the next session's view reads the same settings
        qtbot.addWidget(again)
        assert again.mode_choice.mode() == mode and again.mode_choice.buttons[mode].isChecked()
    # the earlier check box's choice ("fall back to a verified reference") still counts once
    settings().remove(MODE_KEY)
    settings().setValue(BEST_MODE_KEY, True)
    upgraded = NamingView(view.session)
    qtbot.addWidget(upgraded)
    assert upgraded.mode_choice.mode() == "best"
