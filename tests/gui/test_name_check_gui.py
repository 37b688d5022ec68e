"""The naming view's "Check a name" card: a name typed by the user is checked against the structure
shown, with real OPSIN in a worker: ✓, or why not (tautomer, stereo, constitution, unparsable)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chemnamer.opsin import get_opsin

pytestmark = pytest.mark.skipif("not get_opsin().available()", reason="OPSIN/Java unavailable")

PYRIDONE = "O=C1C=CC=CN1"


def _check(qtbot, card, name):
    card.input.clear()
    if name.isascii():
        qtbot.keyClicks(card.input, name)
    else:  # QTest types ASCII only (it asserts on anything else)
        card.input.setText(name)
    with qtbot.waitSignal(card.checked, timeout=60_000) as sig:
        qtbot.keyClick(card.input, Qt.Key_Return)
    return sig.args[0]


def test_check_card_on_its_own(qtbot):
    from chemnamer.gui.name_check import NameCheck

    card = NameCheck()
    qtbot.addWidget(card)
    card.show()
    assert not card.input.isEnabled() and not card.button.isEnabled()  # no structure yet
    card.set_structure("O=c1cccc[nH]1")
    assert card.input.isEnabled()

    v = _check(qtbot, card, "pyridin-2-ol")
    assert (v.verified, v.kind) == (False, "tautomer")
    assert card.badge.isVisible() and card.badge.text() == "✗ different tautomer"
    assert card.reason.text() == "the name denotes another tautomer (Oc1ccccn1)"
    assert card.reason.toolTip() == "OPSIN read: Oc1ccccn1"

    v = _check(qtbot, card, "pyridin-2(1H)-one")
    assert v.verified is True and card.badge.text() == "✓ verified"
    assert card.reason.text() == "OPSIN reads the name as this structure"

    card.set_structure("C[C@H](N)C(=O)O")  # another structure: the old verdict goes
    assert not card.badge.isVisible() and card.reason.text() == ""
    assert _check(qtbot, card, "2-aminopropanoic acid").kind == "stereo_unspecified"
    assert card.badge.text() == "✗ stereo unspecified"
    assert _check(qtbot, card, "(2R)-2-aminopropanoic acid").kind == "other_stereo"
    assert _check(qtbot, card, "propan-2-amine").kind == "constitution"
    v = _check(qtbot, card, "ethanol🧪")
    assert v.kind == "unparsable" and card.reason.text().startswith("OPSIN could not parse: character '🧪'")

    # a verdict never outlives the name it is about: editing the name drops it, even one still running
    card.input.setText("(2S)-2-aminopropanoic acid")
    card.check_now()
    task = card.checks.task
    qtbot.keyClicks(card.input, "x")  # edited before the worker answers
    qtbot.waitUntil(lambda: not task.running, timeout=60_000)
    qtbot.wait(50)  # let the queued done signal arrive
    assert not card.badge.isVisible() and card.verification is None


def test_naming_view_checks_a_typed_name_against_the_drawn_structure(window, qtbot):
    view = window.naming
    card = view.name_check
    view.set_input(PYRIDONE)
    qtbot.waitUntil(lambda: view.outcome is not None and view.outcome.result.input == PYRIDONE and not view.busy,
                    timeout=120_000)
    assert card.input.isEnabled()
    assert _check(qtbot, card, "pyridin-2-ol").kind == "tautomer"
    assert _check(qtbot, card, "1H-pyridin-2-one").kind == "verified"
    view.set_input("C1CC(")  # unreadable input: nothing to check against
    qtbot.waitUntil(lambda: view.msg.isVisible(), timeout=60_000)
    assert not card.input.isEnabled() and not card.badge.isVisible()
